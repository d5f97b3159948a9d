#if canImport(Glibc)
import Glibc
#endif

/// After a Redis failover that lost this host's last commits: what ingest read and committed that
/// Redis no longer holds, file by file, and whether a new ingest starting from Redis's checkpoints
/// can read it again.
public struct BehindReport: Equatable, Sendable {
    /// Lines a restart from Redis's checkpoints reads again (their files are still where the globs find them).
    public var linesReadAgain: Int64 = 0
    public var filesReadAgain = 0
    /// Lines no one can read again: their file was rotated out of the globs or deleted meanwhile.
    public var linesLost: Int64 = 0
    /// Bytes lost whose lines could not be counted (the file is gone and was not open).
    public var bytesLost: Int64 = 0
    public var lostFiles: [String] = []
    /// Why the lines could not be counted (they are read again all the same), if so.
    public var uncounted: String?

    public var summary: String {
        if let uncounted { return "the lines are read again from Redis's checkpoints; " + uncounted }
        var s = "\(linesReadAgain) line\(linesReadAgain == 1 ? "" : "s") in \(filesReadAgain) file\(filesReadAgain == 1 ? "" : "s") are read again"
        if linesLost > 0 || bytesLost > 0 {
            s += "; \(linesLost) lines\(bytesLost > 0 ? " and \(bytesLost) bytes" : "") are lost (\(lostFiles.joined(separator: ", ")): "
                + "gone from the globs before they could be read again)"
        }
        return s
    }
}

extension Tailer {
    /// Compares what this process last committed (its checkpoint book) with Redis's checkpoints
    /// `redis`, and counts the lines in between.
    public func behind(redis: [String: String]) -> BehindReport {
        var report = BehindReport()
        for (id, text) in storedCheckpoints {
            guard let mine = Checkpoint(encoded: text) else { continue }
            // What a new ingest resumes from: Redis's offset for the same content, else the start.
            let theirs = redis[id].flatMap(Checkpoint.init(encoded:))
            let from = theirs.map { $0.fingerprint == mine.fingerprint || $0.fingerprint == 0 ? $0.offset : 0 } ?? 0
            guard mine.offset > from else { continue }
            let open = openFile(id: id)
            var reachable = false
            var fd: Int32 = -1
            var owned = false
            if let open {
                reachable = !open.detached
                fd = open.fd
            } else if let st = try? FileSystem.status(of: mine.path), FileIdentity(device: st.device, inode: st.inode).key == id {
                reachable = sourceMatches(mine.path)
                fd = Glibc.open(mine.path, O_RDONLY | O_CLOEXEC)
                owned = fd >= 0
            }
            defer { if owned { close(fd) } }
            let lines = fd >= 0 ? Self.countLines(fd: fd, from: from, to: mine.offset) : nil
            if reachable, let lines {
                report.linesReadAgain += lines
                report.filesReadAgain += 1
            } else {
                if let lines { report.linesLost += lines } else { report.bytesLost += mine.offset - from }
                report.lostFiles.append(mine.path)
            }
        }
        report.lostFiles.sort()
        return report
    }

    /// Newlines in [from, to) of a file: its lines, when both ends are line starts. nil if unreadable.
    static func countLines(fd: Int32, from: Int64, to: Int64) -> Int64? {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var at = from, count: Int64 = 0
        while at < to {
            let want = Int(min(Int64(buffer.count), to - at))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(at)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            for b in buffer[0..<n] where b == 0x0A { count += 1 }
            at += Int64(n)
        }
        return count
    }
}
