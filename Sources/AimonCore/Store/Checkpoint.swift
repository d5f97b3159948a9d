/// Where reading of one file stands, as committed in Redis with the windows it produced.
public struct Checkpoint: Equatable, Sendable {
    /// Bytes of the file already turned into window deltas (always just past a newline).
    public var offset: Int64
    /// Hash of the file's head, so a recycled inode is not mistaken for the old file.
    public var fingerprint: UInt64
    /// The path the file had when last read (for humans; identity is device + inode + fingerprint).
    public var path: String
    /// True while a running `aimon run` has the file open (`aimon replay` refuses such a file); false
    /// once it was let go, or for a file `aimon replay` read.
    public var held: Bool
    /// When this checkpoint was written (epoch seconds): checkpoints of files let go are kept, so that
    /// a file that returns (or is replayed) resumes where it was read to, and dropped once every line
    /// they could hold is older than the retention.
    public var updated: Int64

    public init(offset: Int64, fingerprint: UInt64, path: String, held: Bool = false, updated: Int64 = 0) {
        self.offset = offset
        self.fingerprint = fingerprint
        self.path = path
        self.held = held
        self.updated = updated
    }

    /// `offset fingerprint-hex (h|d)updated path`
    public var encoded: String { "\(offset) \(String(fingerprint, radix: 16)) \(held ? "h" : "d")\(updated) \(path)" }

    /// Reads the current form, and the earlier `offset fingerprint-hex path` (paths are absolute, so
    /// the two cannot be confused).
    public init?(encoded: String) {
        let parts = encoded.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, let o = Int64(parts[0]), o >= 0, let f = UInt64(parts[1], radix: 16) else { return nil }
        let mark = parts[2]
        if parts.count == 4, let state = mark.first, state == "h" || state == "d", let t = Int64(mark.dropFirst()) {
            self.init(offset: o, fingerprint: f, path: String(parts[3]), held: state == "h", updated: t)
        } else {
            let old = encoded.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            self.init(offset: o, fingerprint: f, path: String(old[2]))
        }
    }
}

/// One checkpoint a commit moves: the text it must find in Redis (what this process read or last
/// wrote there) and the text it writes. The commit applies only if every one is as expected, so a
/// late or repeated commit, or another process reading the same file, can never count a line twice.
public struct CheckpointChange: Equatable, Sendable {
    /// The file identity key (the checkpoint hash's field).
    public var id: String
    /// The stored text expected; "" for none.
    public var expected: String
    /// The text to write; "" to delete the checkpoint.
    public var new: String

    public init(id: String, expected: String, new: String) {
        self.id = id
        self.expected = expected
        self.new = new
    }
}
