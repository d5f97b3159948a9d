#if canImport(Glibc)
import Glibc
#endif

/// Splits a byte stream into newline-terminated lines, whatever the chunking.
///
/// A line is handed out only once its `\n` has arrived, so a partial last line waits. A line longer
/// than `maxLineBytes` is not buffered: its bytes are dropped as they come, it is reported once as
/// `.overlong` when its newline arrives, and splitting resumes with the next line. Every event carries
/// the stream offset just past its newline: the offset a checkpoint may safely record. A byte-order
/// mark that starts the stream (offset 0) is not part of the first line.
public struct LineSplitter: Sendable {
    public enum Event {
        /// A complete line, without its `\n`. The buffer is valid only during the callback.
        case line(UnsafeBufferPointer<UInt8>)
        /// A line over `maxLineBytes`, skipped whole.
        case overlong
    }

    public let maxLineBytes: Int
    /// Bytes of the current line received so far, when it spans chunks.
    private var pending: [UInt8] = []
    /// True while skipping the rest of an overlong line.
    private var discarding = false
    /// Stream offset of the first byte not yet handed out in an event.
    public private(set) var committedOffset: Int64
    /// Stream offset just past the last byte fed.
    public private(set) var fedOffset: Int64

    public init(maxLineBytes: Int, startOffset: Int64 = 0) {
        precondition(maxLineBytes > 0)
        self.maxLineBytes = maxLineBytes
        self.committedOffset = startOffset
        self.fedOffset = startOffset
    }

    /// Bytes held back waiting for a newline (a partial line), or being discarded.
    public var pendingBytes: Int64 { fedOffset - committedOffset }

    /// Feeds the next chunk of the stream; calls `body` for each event, in order, with its end offset.
    public mutating func feed(
        _ chunk: UnsafeBufferPointer<UInt8>,
        _ body: (Event, _ endOffset: Int64) throws -> Void
    ) rethrows {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        let chunkStart = fedOffset
        fedOffset += Int64(chunk.count)
        var start = 0
        while start < chunk.count {
            let remaining = chunk.count - start
            guard let nl = memchr(base + start, 0x0A, remaining) else {
                // No newline: the rest of the chunk is part of the current line.
                if discarding { return }
                if pending.count + remaining > maxLineBytes {
                    pending.removeAll(keepingCapacity: pending.capacity <= 65536)
                    discarding = true
                } else {
                    pending.append(contentsOf: UnsafeBufferPointer(start: base + start, count: remaining))
                }
                return
            }
            let end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
            let endOffset = chunkStart + Int64(end + 1)
            let firstLine = committedOffset == 0
            let lineLength = pending.count + (end - start)
            if discarding || lineLength > maxLineBytes {
                discarding = false
                pending.removeAll(keepingCapacity: pending.capacity <= 65536)
                committedOffset = endOffset
                try body(.overlong, endOffset)
            } else if pending.isEmpty {
                committedOffset = endOffset
                let line = UnsafeBufferPointer(start: base + start, count: end - start)
                try body(.line(firstLine ? Self.withoutByteOrderMark(line) : line), endOffset)
            } else {
                pending.append(contentsOf: UnsafeBufferPointer(start: base + start, count: end - start))
                committedOffset = endOffset
                let line = pending
                pending.removeAll(keepingCapacity: true)
                try line.withUnsafeBufferPointer { try body(.line(firstLine ? Self.withoutByteOrderMark($0) : $0), endOffset) }
            }
            start = end + 1
        }
    }

    /// The file's first line without a UTF-8 byte-order mark (RFC 8259 section 8.1 lets a parser
    /// ignore one; Windows tools write it). Elsewhere those bytes belong to the line.
    static func withoutByteOrderMark(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard line.count >= 3, line[0] == 0xEF, line[1] == 0xBB, line[2] == 0xBF else { return line }
        return UnsafeBufferPointer(rebasing: line[3...])
    }
}
