import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Finds the files that match the sources' globs and reads their new lines.
///
/// Runs on one thread (the ingest loop's). Files are known by identity (device + inode), so a file
/// renamed by rotation keeps its position, and a new file at the same path is a new file. inotify
/// (directory watches) says where to look; `sweep()` on a slow timer is the safety net that stats
/// everything. Reading is bounded by a byte budget per poll so a batch stays bounded in memory.
public final class Tailer {
    public struct Counters: Sendable, Equatable {
        public var rotations = 0
        public var truncations = 0
        public var filesOpened = 0
        public var filesClosed = 0
        public var replacedWhileStopped = 0
    }

    public let sources: [TailSource]
    public let maxLineBytes: Int
    public let follow: Bool
    public private(set) var counters = Counters()
    /// Identity keys of files let go since the last call to `takeClosed()` (their checkpoints can go).
    private var closed: [String] = []
    /// Files whose position moved (lines read, or truncation noticed) since `takeChanged()`.
    private var changed: [FileIdentity: TailedFile] = [:]

    private var files: [FileIdentity: TailedFile] = [:]
    private var byPath: [String: FileIdentity] = [:]
    private var checkpoints: [String: Checkpoint]
    private var firstScanDone = false
    private var pollCount = 0
    private var sweeps = 0
    /// Some source folder could not be watched at the last rescan (it does not exist yet).
    private var unwatchedFolders = false
    static let rescanEverySweeps = 5
    private var rescanNeeded = true
    private let inotify: Inotify?
    private let logger: Logger
    private let buffer: UnsafeMutableRawBufferPointer
    private static let chunkSize = 256 * 1024

    /// - Parameters:
    ///   - checkpoints: positions committed earlier, by identity key.
    ///   - follow: watch with inotify and keep going (the daemon); false reads what is there (replay).
    public init(sources: [TailSource], maxLineBytes: Int, checkpoints: [String: Checkpoint],
                follow: Bool, waker: Waker?, logger: Logger) throws(SystemError) {
        self.sources = sources
        self.maxLineBytes = maxLineBytes
        self.checkpoints = checkpoints
        self.follow = follow
        self.logger = logger
        self.inotify = follow ? try Inotify(waker: waker ?? Waker()) : nil
        self.buffer = .allocate(byteCount: Self.chunkSize, alignment: 64)
        if follow { FileSystem.raiseOpenFileLimit() }
    }

    deinit { buffer.deallocate() }

    public var openFiles: Int { files.count }
    public var watchedDirectories: Int { inotify?.watchedDirectories ?? 0 }
    /// Bytes of partial lines waiting for their newline, over all files.
    /// Bytes written to the open files (as of the last sweep) and not yet read: how far behind we are.
    public var unreadBytes: Int64 { files.values.reduce(0) { $0 + max(0, $1.sizeAtLastSweep - $1.committedOffset) } }

    public var pendingBytes: Int64 { files.values.reduce(0) { $0 + $1.splitter.pendingBytes } }

    /// Identity keys of files let go since the last call.
    public func takeClosed() -> [String] {
        defer { closed.removeAll() }
        return closed
    }

    /// Files whose position moved since the last call: their checkpoints are due. A truncation
    /// counts, so the reset position is committed even before a new line arrives.
    public func takeChanged() -> [TailedFile] {
        defer { changed.removeAll() }
        return Array(changed.values)
    }

    // MARK: - Reading

    /// Reads new bytes from files that may have grown, up to `maxBytes`, handing each line to `body`.
    /// Returns true when the budget ran out before every file was read to its end.
    public func poll(
        maxBytes: Int,
        _ body: (TailedFile, LineSplitter.Event, _ endOffset: Int64) throws -> Void
    ) throws -> Bool {
        takeInotifyEvents()
        if rescanNeeded { try rescan() }
        var budget = maxBytes
        // Start with a different file each poll, so one busy file cannot starve the others.
        var dirty = files.values.filter(\.dirty)
        if !dirty.isEmpty { dirty.rotate(by: pollCount % dirty.count) }
        pollCount &+= 1
        for file in dirty {
            let size = try FileSystem.fstat(file.fd, path: file.path).size
            if size < file.splitter.fedOffset { noteTruncation(file) }
            while budget > 0 {
                let want = min(Self.chunkSize, budget)
                let n = try FileSystem.pread(file.fd, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]),
                                             at: file.splitter.fedOffset, path: file.path)
                if n == 0 { file.dirty = false; break }
                budget -= n
                let chunk = UnsafeBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
                changed[file.identity] = file
                try file.splitter.feed(chunk) { event, end in try body(file, event, end) }
            }
            if budget <= 0 { return true }
        }
        return false
    }

    /// The slow safety net: stat every open file, whatever inotify said, and let go of rotated-away
    /// files that have been read to their end and stayed idle since the last sweep.
    ///
    /// inotify reports creations at once, so the full glob (`fullRescan`) runs only every 5th sweep
    /// by default, and every sweep while a source's folder is not watched yet (a folder created later
    /// is found within a sweep). Tests pass `true` to look at everything now.
    public func sweep(fullRescan: Bool? = nil) throws {
        sweeps &+= 1
        if fullRescan ?? (inotify == nil || unwatchedFolders || sweeps % Self.rescanEverySweeps == 0) { try rescan() }
        for (id, file) in files {
            let st = try FileSystem.fstat(file.fd, path: file.path)
            if st.size < file.splitter.fedOffset { noteTruncation(file) }
            if st.size > file.splitter.fedOffset { file.dirty = true }
            // Only a file whose size moved can have been truncated and refilled: idle files cost one fstat.
            if st.size != file.sizeAtLastSweep, file.fingerprint != nil, file.splitter.fedOffset > 0,
               try FileIdentity.fingerprint(fd: file.fd, path: file.path) != file.fingerprint {
                // Same inode, new head: truncated and rewritten past our offset between two looks.
                logger.warning("file was truncated and rewritten; reading it again from the start",
                               metadata: ["path": "\(file.path)"])
                counters.truncations += 1
                file.restartFromZero()
                changed[file.identity] = file
            }
            if file.detached, !file.dirty, st.size == file.sizeAtLastSweep {
                logger.info("letting go of rotated file, read to its end", metadata: ["path": "\(file.path)"])
                files[id] = nil
                closed.append(id.key)
                counters.filesClosed += 1
            }
            file.sizeAtLastSweep = st.size
        }
    }

    private func noteTruncation(_ file: TailedFile) {
        logger.notice("file was truncated; reading it from the start", metadata: ["path": "\(file.path)"])
        counters.truncations += 1
        file.restartFromZero()
        changed[file.identity] = file
    }

    private func takeInotifyEvents() {
        guard let inotify else { return }
        let (events, overflowed) = inotify.takeEvents()
        if overflowed {
            rescanNeeded = true
            for f in files.values { f.dirty = true }
        }
        for e in events {
            let path = e.directory.hasSuffix("/") ? e.directory + e.name : e.directory + "/" + e.name
            if let id = byPath[path], let f = files[id] {
                f.dirty = true
                if !e.isModify { rescanNeeded = true }  // renamed or deleted
            } else if !rescanNeeded, matchesASource(path) {
                rescanNeeded = true  // a new file of ours (other files in the folder cost nothing)
            }
        }
    }

    // MARK: - Discovery

    private func matchesASource(_ path: String) -> Bool {
        sources.contains { fnmatch($0.pattern, path, FNM_PATHNAME) == 0 }
    }

    /// Matches the globs again: opens new files, detaches files no longer at their path.
    public func rescan() throws {
        rescanNeeded = false
        var seen = Set<FileIdentity>()
        var claimed = Set<String>()
        unwatchedFolders = false
        for (index, source) in sources.enumerated() {
            if let inotify { watchDirectories(of: source.pattern, inotify) }
            let paths = follow ? FileSystem.glob(source.pattern) : [source.pattern]
            for path in paths where !claimed.contains(path) {
                claimed.insert(path)
                guard let st = try FileSystem.status(of: path), st.isRegular else { continue }
                let id = FileIdentity(device: st.device, inode: st.inode)
                if let old = byPath[path], old != id { detach(old, path: path, reason: "replaced at its path (rotation)") }
                seen.insert(id)
                if let f = files[id] {
                    if f.path != path { byPath[f.path] = nil; f.path = path }
                    f.detached = false
                    byPath[path] = id
                    continue
                }
                try open(path, identity: id, size: st.size, sourceIndex: index, startAt: source.startAt)
            }
        }
        for (path, id) in byPath where !seen.contains(id) { detach(id, path: path, reason: "gone from its path") }
        firstScanDone = true
    }

    private func detach(_ id: FileIdentity, path: String, reason: String) {
        byPath[path] = nil
        guard let f = files[id], !f.detached else { return }
        f.detached = true
        f.dirty = true
        counters.rotations += 1
        logger.info("file \(reason); reading it to its end", metadata: ["path": "\(path)"])
    }

    private func open(_ path: String, identity: FileIdentity, size: Int64, sourceIndex: Int, startAt: StartPosition) throws {
        let fd: Int32
        do { fd = try FileSystem.openForReading(path) } catch {
            if error.errno == ENOENT { return }  // gone between glob and open: the next scan decides
            logger.error("cannot open log file: \(error) (does aimon's user have read access?)")
            return
        }
        let st = try FileSystem.fstat(fd, path: path)
        guard st.device == identity.device, st.inode == identity.inode else {
            close(fd)  // replaced between stat and open: look again
            rescanNeeded = true
            return
        }
        var offset: Int64 = 0
        var fingerprint: UInt64?
        if let cp = checkpoints.removeValue(forKey: identity.key) {
            fingerprint = try FileIdentity.fingerprint(fd: fd, path: path)
            // A checkpoint is always just past a newline: if that byte is not one, the file changed.
            if fingerprint == cp.fingerprint, cp.offset <= st.size,
               try Self.isLineStart(fd: fd, offset: cp.offset, path: path) {
                offset = cp.offset
            } else {
                counters.replacedWhileStopped += 1
                logger.notice("file is not the one checkpointed (new file on a recycled inode, or truncated); reading it from the start",
                              metadata: ["path": "\(path)"])
            }
        } else if !firstScanDone && startAt == .end {
            offset = try Self.lastLineBoundary(fd: fd, size: st.size, path: path)
        }
        // The inode of a file let go earlier can be reused at once by a new file: its checkpoint must
        // not be forgotten after this file's is written.
        closed.removeAll { $0 == identity.key }
        let file = TailedFile(identity: identity, path: path, sourceIndex: sourceIndex, fd: fd,
                              maxLineBytes: maxLineBytes, offset: offset)
        file.fingerprint = fingerprint
        files[identity] = file
        byPath[path] = identity
        counters.filesOpened += 1
        logger.info("tailing file", metadata: ["path": "\(path)", "offset": "\(offset)"])
    }

    /// True when `offset` is 0 or the byte before it is a newline.
    static func isLineStart(fd: Int32, offset: Int64, path: String) throws(SystemError) -> Bool {
        guard offset > 0 else { return true }
        var byte: UInt8 = 0
        let n: Int
        do {
            n = try withUnsafeMutableBytes(of: &byte) { try FileSystem.pread(fd, $0, at: offset - 1, path: path) }
        } catch let e as SystemError { throw e } catch { throw SystemError("pread", path, errno: EIO) }
        return n == 1 && byte == 0x0A
    }

    /// The offset just past the last newline at or before `size` (0 when there is none).
    static func lastLineBoundary(fd: Int32, size: Int64, path: String) throws(SystemError) -> Int64 {
        var end = size
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while end > 0 {
            let start = max(0, end - Int64(chunk.count))
            let count = Int(end - start)
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { raw in
                    try FileSystem.pread(fd, UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]), at: start, path: path)
                }
            } catch let e as SystemError { throw e } catch { throw SystemError("pread", path, errno: EIO) }
            if let nl = chunk[0..<n].lastIndex(of: 0x0A) { return start + Int64(nl) + 1 }
            end = start
        }
        return 0
    }

    /// Watches the folder(s) a pattern's files live in; folders that do not exist yet are found by
    /// a later sweep.
    private func watchDirectories(of pattern: String, _ inotify: Inotify) {
        let dir = pattern.lastIndex(of: "/").map { String(pattern[..<$0]) } ?? "."
        let dirs = dir.isEmpty ? ["/"] : (dir.contains(where: { "*?[".contains($0) }) ? FileSystem.glob(dir) : [dir])
        if dirs.isEmpty { unwatchedFolders = true }
        for d in dirs {
            do {
                if try !inotify.watch(directory: d) { unwatchedFolders = true }
            } catch {
                unwatchedFolders = true
                logger.warning("cannot watch folder, relying on the periodic sweep: \(error)")
            }
        }
    }
}

extension Array {
    mutating func rotate(by k: Int) {
        guard k > 0, k < count else { return }
        self = Array(self[k...] + self[..<k])
    }
}
