#if canImport(Glibc)
import Glibc
#endif

/// Where a source's files are read from on first sight at start-up.
public enum StartPosition: String, Sendable, CaseIterable {
    case beginning, end
}

/// A glob of files to tail, and how to treat files that exist at start-up.
public struct TailSource: Sendable, Equatable {
    public var pattern: String
    public var startAt: StartPosition
    public init(pattern: String, startAt: StartPosition) {
        self.pattern = pattern
        self.startAt = startAt
    }
}

/// One open file: its identity, its descriptor and the splitter holding its read position.
public final class TailedFile {
    public let identity: FileIdentity
    public internal(set) var path: String
    /// Index of the source (in configuration order) whose glob found the file.
    public internal(set) var sourceIndex: Int
    let fd: Int32
    var splitter: LineSplitter
    var fingerprint: UInt64?
    /// No longer at a watched path (rotated away or deleted): read to the end, then let go.
    var detached = false
    /// On a file system whose writes inotify reports (a local one): sweeps may skip it.
    var inotifyCovers = false
    /// Something may have been written since the last read.
    var dirty = true
    var sizeAtLastSweep: Int64 = -1
    /// The size last seen, by a sweep or a read (for the bytes not read yet).
    var sizeSeen: Int64 = -1
    /// When a sweep last saw the file grow or unread (nil before its first sweep).
    var lastActivity: Double?
    /// The size when the content was last compared with what was read (`Tailer.checkContent`).
    var sizeAtLastCheck: Int64 = -1

    init(identity: FileIdentity, path: String, sourceIndex: Int, fd: Int32, maxLineBytes: Int, offset: Int64) {
        self.identity = identity
        self.path = path
        self.sourceIndex = sourceIndex
        self.fd = fd
        self.splitter = LineSplitter(maxLineBytes: maxLineBytes, startOffset: offset)
    }

    deinit { close(fd) }

    /// Offset just past the last line handed out: what a checkpoint records.
    public var committedOffset: Int64 { splitter.committedOffset }

    /// The checkpoint for the current position (computes the head fingerprint once). `held`: a daemon
    /// has the file open.
    public func checkpoint(held: Bool) throws(SystemError) -> Checkpoint {
        if fingerprint == nil, committedOffset > 0 {
            fingerprint = try FileIdentity.fingerprint(fd: fd, path: path)
        }
        return Checkpoint(offset: committedOffset, fingerprint: fingerprint ?? 0, path: path, held: held)
    }

    /// Starts again from 0: the file was truncated (copytruncate, `> file`).
    func restartFromZero() {
        splitter = LineSplitter(maxLineBytes: splitter.maxLineBytes, startOffset: 0)
        fingerprint = nil
        dirty = true
    }

    /// Drops the unfinished line read so far and reads on from the last complete line: the line was
    /// cut short in the file.
    func rewindToCommitted() {
        splitter = LineSplitter(maxLineBytes: splitter.maxLineBytes, startOffset: committedOffset)
        dirty = true
    }
}
