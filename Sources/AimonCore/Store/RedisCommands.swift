/// A buffer of Redis commands encoded as RESP, sent in one write: the pipelining of DESIGN.md.
public struct RedisCommands: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var count = 0

    public init() { bytes.reserveCapacity(64 * 1024) }

    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ args: String...) { append(args) }

    public mutating func append(_ args: [String]) {
        header(args.count)
        for a in args { bulk(a) }
        count += 1
    }

    /// A command with a known head and a variable tail of arguments, without building an array.
    public mutating func append(_ head: [String], _ tail: some Collection<String>) {
        header(head.count + tail.count)
        for a in head { bulk(a) }
        for a in tail { bulk(a) }
        count += 1
    }

    /// Appends already-encoded commands.
    mutating func appendRaw(_ encoded: [UInt8], count n: Int) {
        bytes += encoded
        count += n
    }

    /// Appends another buffer's commands.
    public mutating func append(contentsOf other: RedisCommands) {
        appendRaw(other.bytes, count: other.count)
    }

    private mutating func header(_ n: Int) {
        bytes.append(0x2A)  // *
        bytes.append(contentsOf: String(n).utf8)
        bytes.append(0x0D); bytes.append(0x0A)
    }

    private mutating func bulk(_ s: String) {
        bytes.append(0x24)  // $
        bytes.append(contentsOf: String(s.utf8.count).utf8)
        bytes.append(0x0D); bytes.append(0x0A)
        bytes.append(contentsOf: s.utf8)
        bytes.append(0x0D); bytes.append(0x0A)
    }
}
