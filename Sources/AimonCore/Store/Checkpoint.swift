/// Where reading of one file stands, as committed in Redis with the windows it produced.
public struct Checkpoint: Equatable, Sendable {
    /// Bytes of the file already turned into window deltas (always just past a newline).
    public var offset: Int64
    /// Hash of the file's head, so a recycled inode is not mistaken for the old file.
    public var fingerprint: UInt64
    /// The path the file had when last read (for humans; identity is device + inode + fingerprint).
    public var path: String

    public init(offset: Int64, fingerprint: UInt64, path: String) {
        self.offset = offset
        self.fingerprint = fingerprint
        self.path = path
    }

    /// `offset fingerprint-hex path`
    public var encoded: String { "\(offset) \(String(fingerprint, radix: 16)) \(path)" }

    public init?(encoded: String) {
        let parts = encoded.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let o = Int64(parts[0]), let f = UInt64(parts[1], radix: 16) else { return nil }
        self.init(offset: o, fingerprint: f, path: String(parts[2]))
    }
}
