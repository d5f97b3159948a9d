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
        /// Files a sweep looked at (fstat): every file at a full sweep, else only those inotify
        /// cannot vouch for.
        public var filesSwept = 0
    }

    public private(set) var sources: [TailSource]
    public let maxLineBytes: Int
    public let follow: Bool
    public internal(set) var counters = Counters()
    /// Files whose position moved (lines read, opened, truncation noticed) since the last
    /// `pendingChanges`.
    private var changed: [FileIdentity: TailedFile] = [:]

    private var files: [FileIdentity: TailedFile] = [:]
    private var byPath: [String: FileIdentity] = [:]
    /// The checkpoints in Redis, and what the next commit changes there.
    private var book: CheckpointBook
    /// Sources this host started before: `start_at: end` no longer applies to them (their files
    /// without a checkpoint appeared while aimon was not running, and are read from their start).
    private var startedBefore: Set<String>
    /// Patterns not matched yet: `start_at: end` applies to their files found by their first scan.
    private var firstScanPending: Set<String>
    /// Paths (and patterns) already warned about, so a lasting problem is logged once.
    private var warned = Set<String>()
    private var firstScanDone = false
    private var pollCount = 0
    private var sweeps = 0
    /// Some source folder could not be watched at the last rescan (it does not exist yet).
    private var unwatchedFolders = false
    /// Seconds between two full sweeps (every file stat'ed, the globs matched again) when inotify
    /// watches the sources' folders: it reports writes, creations and renames at once, so the full
    /// sweep is only the safety net, and an idle daemon stays idle (Docs/benchmarks.md).
    static let fullSweepEvery = 60.0
    private var lastFullSweep = -Double.infinity
    /// Files the last sweep left beyond inotify's reach or rotated away (each sweep looks at them),
    /// and whether a file was opened since (its coverage is not counted yet).
    private var filesSweptOften = 0
    private var openedSinceSweep = false

    /// Whether sweeps have work between the full ones: files inotify does not cover or rotated away,
    /// folders not watched or whose globs run again, no inotify at all. Otherwise inotify wakes
    /// ingest for every change, and its thread can sleep through `sweep_interval`.
    public var sweepsOften: Bool {
        inotify == nil || unwatchedFolders || looseFolders || filesSweptOften > 0 || openedSinceSweep || rescanNeeded
    }
    private var rescanNeeded = true
    private let inotify: Inotify?
    private let logger: Logger
    /// Replay: the files still to read, in order (they are opened one at a time, so any number can
    /// be replayed under any open-file limit), and the next one's index.
    private var replayQueue: [(path: String, sourceIndex: Int)] = []
    private var replayNext = 0
    /// Replay: files that could not be read, with why.
    public private(set) var notRead: [(path: String, reason: String)] = []
    /// Bytes of unfinished last lines in files replayed and closed.
    private var unfinishedBytesClosed: Int64 = 0
    /// Sources that have matched a file since aimon started, and when to warn again about the others.
    private var sourceHadFiles = Set<Int>()
    private var nextEmptyWarning: [Int: Double] = [:]
    private var repeats = RepeatLimiter()
    var rotateWait: Double
    private let maxDetachedOpen: Int
    /// Rotated-away or deleted files kept open at most (each holds a descriptor, and a deleted
    /// file's disk space, until let go).
    public static let defaultMaxDetachedOpen = 128
    /// Lists a source's files (`FileSystem.glob`; tests inject failures).
    private let list: (String) -> (paths: [String], failure: String?)
    private let buffer: UnsafeMutableRawBufferPointer
    private static let chunkSize = 256 * 1024
    /// The least share of a batch a file is given (many files with new lines: no tiny reads).
    private static let minShare = 16 * 1024

    /// - Parameters:
    ///   - checkpoints: this host's checkpoint texts as stored in Redis, by identity key.
    ///   - follow: watch with inotify and keep going (the daemon, whose checkpoints say it holds its
    ///     files); false reads what is there (replay).
    ///   - startedBefore: patterns of sources this host started before (see `startedBefore`).
    ///   - rotateWait: seconds a file rotated away or deleted stays open once read to its end, for
    ///     writers that still hold it (`ingest.rotate_wait`).
    ///   - maxDetachedOpen: how many such files stay open at most; the idlest go first.
    public init(sources: [TailSource], maxLineBytes: Int, checkpoints: [String: String],
                follow: Bool, startedBefore: Set<String> = [], rotateWait: Double = 0,
                maxDetachedOpen: Int = Tailer.defaultMaxDetachedOpen, waker: Waker?, logger: Logger,
                list: @escaping (String) -> (paths: [String], failure: String?) = FileSystem.glob) throws(SystemError) {
        self.list = list
        self.rotateWait = rotateWait
        self.maxDetachedOpen = max(0, maxDetachedOpen)
        self.sources = sources
        self.maxLineBytes = maxLineBytes
        self.book = CheckpointBook(stored: checkpoints)
        self.startedBefore = startedBefore
        self.firstScanPending = Set(sources.map(\.pattern))
        self.follow = follow
        self.logger = logger
        self.inotify = follow ? try Inotify(waker: waker ?? Waker()) : nil
        self.buffer = .allocate(byteCount: Self.chunkSize, alignment: 64)
        FileSystem.raiseOpenFileLimit()
    }

    deinit { buffer.deallocate() }

    public var openFiles: Int { files.count }
    public var watchedDirectories: Int { inotify?.watchedDirectories ?? 0 }
    /// Bytes of partial lines waiting for their newline, over all files.
    /// Bytes written to the open files (as of the last sweep) and not yet read: how far behind we are.
    public var unreadBytes: Int64 { files.values.reduce(0) { $0 + max(0, $1.sizeSeen - $1.committedOffset) } }

    public var pendingBytes: Int64 { files.values.reduce(unfinishedBytesClosed) { $0 + $1.splitter.pendingBytes } }

    /// The checkpoint changes the next commit carries, stamped `now`: files whose position moved
    /// (a truncation counts, so the reset position is committed before a new line arrives; a file
    /// just opened counts, so its starting position is known after a restart), files let go, and
    /// checkpoints released or pruned. Unchanged until `committed` is called.
    public func pendingChanges(now: Int64) throws(SystemError) -> [CheckpointChange] {
        for (id, file) in changed { book.note(id.key, try file.checkpoint(held: follow)) }
        changed.removeAll()
        return book.changes(now: now)
    }

    /// The commit that carried `changes` landed.
    public func committed(_ changes: [CheckpointChange]) { book.committed(changes) }

    /// A commit carrying `changes` is on its way (it lands, `committed`, before the next is built):
    /// reading goes on meanwhile.
    public func sent(_ changes: [CheckpointChange]) { book.sent(changes) }

    /// The checkpoint texts Redis holds as far as this process knows (loaded, or last committed).
    var storedCheckpoints: [String: String] { book.stored }

    /// The open file with this identity key, if any.
    func openFile(id: String) -> TailedFile? { files.first { $0.key.key == id }?.value }

    func sourceMatches(_ path: String) -> Bool { matchesASource(path) }

    /// Drops checkpoints of files let go before `cutoff` (epoch seconds): every line such a file can
    /// hold is then older than the retention, so a replay of it would count nothing anyway.
    public func pruneCheckpoints(before cutoff: Int64) { book.prune(before: cutoff) }

    // MARK: - Reading

    /// Reads new bytes from files that may have grown, up to `maxBytes`, handing each line to `body`.
    /// Returns true when the budget ran out before every file was read to its end.
    public func poll(
        maxBytes: Int,
        maxSeconds: Double = .infinity,
        _ body: (TailedFile, LineSplitter.Event, _ endOffset: Int64) throws -> Void
    ) throws -> Bool {
        takeInotifyEvents()
        if rescanNeeded { try rescan() }
        var budget = maxBytes
        let deadline = maxSeconds.isFinite ? monotonicSeconds() + maxSeconds : .infinity
        // Fair to every file with new lines: each gets an equal share of the budget in turn (a busy
        // file or a long backlog cannot hold back the lines of the others), and the first turn goes
        // to a different file each poll.
        var queue: [TailedFile?] = files.values.filter(\.dirty)
        if !queue.isEmpty { queue.rotate(by: pollCount % queue.count) }
        pollCount &+= 1
        while budget > 0, !queue.isEmpty {
            let share = max(Self.minShare, budget / queue.count)
            var next: [TailedFile?] = []
            var i = 0
            while i < queue.count, let file = queue[i] {
                queue[i] = nil  // held no longer than its turn: a replayed file is closed when read
                i += 1
                let size = try FileSystem.fstat(file.fd, path: file.path).size
                file.sizeSeen = size
                try checkContent(file, size: size)
                var allowance = min(share, budget)
                while allowance > 0 {
                    let want = min(Self.chunkSize, allowance)
                    let n = try FileSystem.pread(file.fd, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]),
                                                 at: file.splitter.fedOffset, path: file.path)
                    if n == 0 { file.dirty = false; break }
                    budget -= n
                    allowance -= n
                    let chunk = UnsafeBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
                    changed[file.identity] = file
                    try file.splitter.feed(chunk) { event, end in try body(file, event, end) }
                    if deadline.isFinite, monotonicSeconds() >= deadline { return true }
                }
                if file.dirty {
                    next.append(file)
                } else if !follow {  // replay: read to its end; on to the next file
                    try closeReplayed(file)
                    if let opened = try openNextReplayed() { next.append(opened) }
                }
            }
            queue = next
        }
        return !queue.isEmpty
    }

    /// Closes a file (its descriptor goes with its last reference) and keeps its checkpoint, no
    /// longer held, due at the next commit.
    private func letGo(_ file: TailedFile) throws(SystemError) {
        let last = try file.checkpoint(held: false)
        files[file.identity] = nil
        if byPath[file.path] == file.identity { byPath[file.path] = nil }
        changed[file.identity] = nil
        book.letGo(file.identity.key, last)
    }

    /// Replay: lets go of a file read to its end.
    private func closeReplayed(_ file: TailedFile) throws(SystemError) {
        unfinishedBytesClosed += file.splitter.pendingBytes
        try letGo(file)
    }

    /// Replay: opens the next file of the queue that can be read (none while one is open).
    private func openNextReplayed() throws -> TailedFile? {
        while files.isEmpty, replayNext < replayQueue.count {
            let (path, sourceIndex) = replayQueue[replayNext]
            replayNext += 1
            let status: FileSystem.Status?
            do { status = try FileSystem.status(of: path) } catch {
                notRead.append((path, "\(error)"))
                continue
            }
            guard let st = status else { notRead.append((path, "no such file")); continue }
            guard st.isRegular else { notRead.append((path, "not a regular file")); continue }
            let id = FileIdentity(device: st.device, inode: st.inode)
            try open(path, identity: id, size: st.size, sourceIndex: sourceIndex, startAt: .beginning)
            if let id = byPath[path], let file = files[id] { return file }
        }
        return nil
    }

    /// The slow safety net: stat every open file, whatever inotify said, and let go of files rotated
    /// away or deleted once read to their end and idle for `rotateWait` seconds (a writer may still
    /// hold them: a gateway that reopens its log late, a careless delete). `now`: seconds, injected by
    /// tests.
    ///
    /// inotify reports writes, creations and renames in watched folders at once, so a sweep stats
    /// only the files it cannot vouch for: rotated-away or deleted ones (no longer in a watched
    /// folder), ones on network or FUSE file systems (their writes come from other machines), all of
    /// them while a source's folder is not watched; everything, and the globs, every
    /// `fullSweepEvery` seconds. Tests pass `true` to look at everything now.
    public func sweep(fullRescan: Bool? = nil, now: Double = wallClock()) throws {
        sweeps &+= 1
        // A clock stepped back counts as due: the safety net is never off for that long.
        let full = fullRescan ?? (inotify == nil || unwatchedFolders || now - lastFullSweep >= Self.fullSweepEvery || now < lastFullSweep)
        if full { lastFullSweep = now }
        // Folders found by a wildcard, or reached through a symlink, may change under the watches:
        // their globs run every 5th sweep, as new folders and flipped links are not reported.
        if full || (looseFolders && sweeps % 5 == 0) { try rescan() }
        if follow {
            for index in sources.indices where !sourceHadFiles.contains(index) {
                guard let next = nextEmptyWarning[index] else { nextEmptyWarning[index] = now + 300; continue }
                if now >= next {
                    warnSourceEmpty(index, still: true)
                    nextEmptyWarning[index] = now + 3600
                }
            }
        }
        var idleDetached: [(file: TailedFile, links: UInt64)] = []
        for file in files.values where full || file.detached || !file.inotifyCovers {
            counters.filesSwept += 1
            let st = try FileSystem.fstat(file.fd, path: file.path)
            if full { file.inotifyCovers = covered(file, links: st.links) }
            try checkContent(file, size: st.size)
            if st.size > file.splitter.fedOffset { file.dirty = true }
            let grew = st.size != file.sizeAtLastSweep
            if file.dirty || grew || file.lastActivity == nil { file.lastActivity = now }
            file.sizeAtLastSweep = st.size
            file.sizeSeen = st.size
            // Idle: read to its end, and unchanged since the last sweep (whatever rotate_wait is).
            if file.detached, !file.dirty, !grew { idleDetached.append((file, st.links)) }
        }
        let detachedOpen = files.values.lazy.filter(\.detached).count
        // Over the cap, the idlest go first, and a file waiting for the end of its last line last.
        idleDetached.sort {
            let (a, b) = ($0.file.splitter.pendingBytes > 0, $1.file.splitter.pendingBytes > 0)
            return a != b ? !a : $0.file.lastActivity! < $1.file.lastActivity!
        }
        for (i, (file, links)) in idleDetached.enumerated() {
            let idle = now - file.lastActivity!
            let overCap = detachedOpen - i > maxDetachedOpen
            guard idle >= rotateWait || overCap else { continue }
            let what = links == 0 ? "deleted" : "rotated"
            let why = idle >= rotateWait ? "read to its end and idle for \(Int(idle)) s (ingest.rotate_wait)"
                : "read to its end; more than \(maxDetachedOpen) rotated or deleted files are open"
            logger.info("letting go of \(what) file, \(why)", metadata: ["path": "\(file.path)"])
            try letGo(file)
            counters.filesClosed += 1
        }
        filesSweptOften = files.values.lazy.filter { $0.detached || !$0.inotifyCovers }.count
        openedSinceSweep = false
    }

    /// Compares the file with what was read from it, before reading more: a file smaller than the
    /// last complete line read was truncated (read again from 0); one that lost only the unfinished
    /// line after it had that line cut (read again from the last complete line: nothing counted is
    /// read twice); one whose head or line boundary changed while its size moved was truncated and
    /// refilled past our position between two looks (read again from 0). Idle files cost nothing here.
    private func checkContent(_ file: TailedFile, size: Int64) throws(SystemError) {
        defer { file.sizeAtLastCheck = size }
        if size < file.committedOffset {
            logger.notice("file was truncated; reading it from the start", metadata: ["path": "\(file.path)"])
            restartFromZero(file)
        } else if size < file.splitter.fedOffset {
            logger.notice("the unfinished last line was cut short; reading on from the last complete line",
                          metadata: ["path": "\(file.path)", "offset": "\(file.committedOffset)"])
            file.rewindToCommitted()
        } else if size != file.sizeAtLastCheck, file.committedOffset > 0, let head = file.fingerprint {
            let sameHead = try FileIdentity.fingerprint(fd: file.fd, path: file.path) == head
            let atLineStart = try Self.isLineStart(fd: file.fd, offset: file.committedOffset, path: file.path)
            if !sameHead || !atLineStart {
                logger.warning("file was truncated and rewritten; reading it again from the start", metadata: ["path": "\(file.path)"])
                restartFromZero(file)
            }
        }
    }

    private func restartFromZero(_ file: TailedFile) {
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
            } else if matchesASource(path) {
                // A file open under another path (a folder reached two ways): read it now.
                if let st = try? FileSystem.status(of: path), let f = files[FileIdentity(device: st.device, inode: st.inode)] {
                    f.dirty = true
                }
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
        if !follow {
            // Replay: the files given, read in turn.
            if !firstScanDone { replayQueue = sources.enumerated().map { ($1.pattern, $0) } }
            firstScanDone = true
            _ = try openNextReplayed()
            return
        }
        var seen = Set<FileIdentity>()
        var claimed = Set<String>()
        unwatchedFolders = false
        var found: [String?] = sources.map { _ in nil }  // a regular file each source matches
        for (index, source) in sources.enumerated() {
            if let inotify { watchDirectories(of: source.pattern, inotify) }
            let listing = list(source.pattern)
            if let failure = listing.failure {
                warnOnce(source.pattern, "cannot list the files of a source (\(failure)); the files already open are kept")
            } else {
                warned.remove(source.pattern)
            }
            for path in listing.paths {
                guard claimed.insert(path).inserted else {
                    if byPath[path] != nil { found[index] = found[index] ?? path }
                    continue
                }
                let status: FileSystem.Status?
                do { status = try FileSystem.status(of: path) } catch {
                    // One unreadable path (ELOOP, EACCES) is skipped; the others are read.
                    warnOnce(path, "cannot look at a file, skipping it: \(error)")
                    if let id = byPath[path] { seen.insert(id) }
                    continue
                }
                warned.remove(path)
                guard let st = status, st.isRegular else { continue }
                let id = FileIdentity(device: st.device, inode: st.inode)
                if let old = byPath[path], old != id { detach(old, path: path, reason: "replaced at its path (rotation)") }
                seen.insert(id)
                found[index] = found[index] ?? path
                if let f = files[id] {
                    if f.path != path { byPath[f.path] = nil; f.path = path }
                    f.detached = false
                    byPath[path] = id
                    continue
                }
                try open(path, identity: id, size: st.size, sourceIndex: index, startAt: source.startAt)
            }
        }
        // A path the globs did not return is let go only if it no longer leads to the file: a glob
        // can miss files without failing (a folder it could not read, EMFILE, NFS).
        for (path, id) in byPath where !seen.contains(id) {
            let current: FileSystem.Status?
            do { current = try FileSystem.status(of: path) } catch { continue }  // cannot tell: keep it
            if let current, current.device == id.device, current.inode == id.inode { continue }  // the glob missed it
            detach(id, path: path, reason: "gone from its path")
        }
        if !firstScanDone {
            // Held by a daemon before, and not found now: no longer held (aimon replay may read them).
            book.releaseIdle()
        }
        for (index, path) in found.enumerated() where !sourceHadFiles.contains(index) {
            let pattern = sources[index].pattern
            if let path {
                sourceHadFiles.insert(index)
                if firstScanDone { logger.warning("source \(pattern): its first file appeared, reading it", metadata: ["path": "\(path)"]) }
            } else if !firstScanDone {
                warnSourceEmpty(index, still: false)
            }
        }
        firstScanDone = true
        firstScanPending.removeAll()
    }

    /// Reload: the new sources. A source kept (same pattern) keeps its files open at their positions,
    /// rotated-away ones included (still read to their end); a new format takes effect with the next
    /// line. A source removed lets its files go (their checkpoints stay, no longer held: adding the
    /// source back resumes them). A new source is matched at the next poll, `start_at` applying to it
    /// as at a first start (unless this host started it before: `startedBefore`).
    public func update(sources new: [TailSource], startedBefore more: Set<String>) throws(SystemError) {
        precondition(follow, "replay reads a fixed list of files")
        var index: [String: Int] = [:]
        for (i, s) in new.enumerated() where index[s.pattern] == nil { index[s.pattern] = i }
        for file in Array(files.values) {
            if let i = index[sources[file.sourceIndex].pattern] {
                file.sourceIndex = i
            } else {
                logger.info("letting go of a file: its source was removed from the configuration", metadata: ["path": "\(file.path)"])
                try letGo(file)
                counters.filesClosed += 1
            }
        }
        let old = sources
        startedBefore.formUnion(more)
        firstScanPending.formUnion(new.map(\.pattern).filter { p in !old.contains { $0.pattern == p } })
        sourceHadFiles = Set(sourceHadFiles.compactMap { index[old[$0].pattern] })
        nextEmptyWarning = Dictionary(nextEmptyWarning.compactMap { k, v in index[old[k].pattern].map { ($0, v) } }, uniquingKeysWith: min)
        sources = new
        rescanNeeded = true
    }

    /// A source that has matched no file since aimon started: said at start, 5 minutes later, then
    /// hourly (`sweep`), so a typo in a path is not a silent `files=0`.
    private func warnSourceEmpty(_ index: Int, still: Bool) {
        let problem = SourceCheck.problem(pattern: sources[index].pattern) ?? "matches no file"
        let text = "source \(sources[index].pattern) reads nothing\(still ? " still" : ""): \(problem); its files are read once "
            + "they appear (check the path with aimon check-config)"
        logger.warning("\(text)")
    }

    private func warnOnce(_ what: String, _ message: String) {
        guard warned.insert(what).inserted else { return }
        logger.warning("\(message)", metadata: ["path": "\(what)"])
    }

    private func detach(_ id: FileIdentity, path: String, reason: String) {
        byPath[path] = nil
        guard let f = files[id], !f.detached else { return }
        f.detached = true
        f.dirty = true
        f.lastActivity = nil  // rotate_wait counts from here (the next sweep), not from its last write
        filesSweptOften += 1  // each sweep looks at it from now on (the next one counts again)
        counters.rotations += 1
        if (try? FileSystem.fstat(f.fd, path: path))?.links == 0 {
            logger.info("file deleted; reading it to its end while a writer may still hold it", metadata: ["path": "\(path)"])
        } else {
            logger.info("file \(reason); reading it to its end", metadata: ["path": "\(path)"])
        }
    }

    private func open(_ path: String, identity: FileIdentity, size: Int64, sourceIndex: Int, startAt: StartPosition) throws {
        let fd: Int32
        do { fd = try FileSystem.openForReading(path) } catch {
            if !follow { notRead.append((path, "\(error)")) }
            if error.errno == ENOENT { return }  // gone between glob and open: the next scan decides
            let hint = error.errno == EMFILE || error.errno == ENFILE ? FileSystem.openFileLimitHint(errno: error.errno)
                : "does aimon's user have read access?"
            // Retried at every rescan: said twice, then once a minute.
            if let again = repeats.check(path, now: wallClock()) { logger.error("cannot open log file: \(error) (\(hint))\(again)") }
            return
        }
        var owned = false  // until a TailedFile owns it, a failure below must close it
        defer { if !owned { close(fd) } }
        let st = try FileSystem.fstat(fd, path: path)
        guard st.device == identity.device, st.inode == identity.inode else {
            if !follow { notRead.append((path, "replaced while being opened")) }
            rescanNeeded = true  // replaced between stat and open: look again
            return
        }
        var offset: Int64 = 0
        var fingerprint: UInt64?
        let pattern = sources[sourceIndex].pattern
        let startFromEnd = firstScanPending.contains(pattern) && startAt == .end && !startedBefore.contains(pattern)
        if let cp = book.open(identity.key) {
            fingerprint = try FileIdentity.fingerprint(fd: fd, path: path)
            // A checkpoint is always just past a newline: if that byte is not one, the file changed.
            if fingerprint == cp.fingerprint || cp.offset == 0, cp.offset <= st.size,
               try Self.isLineStart(fd: fd, offset: cp.offset, path: path) {
                offset = cp.offset
            } else {
                counters.replacedWhileStopped += 1
                logger.notice("file is not the one checkpointed (new file on a recycled inode, or truncated); reading it from the start",
                              metadata: ["path": "\(path)"])
            }
        } else if startFromEnd {
            offset = try Self.lastLineBoundary(fd: fd, size: st.size, path: path)
        }
        let file = TailedFile(identity: identity, path: path, sourceIndex: sourceIndex, fd: fd,
                              maxLineBytes: maxLineBytes, offset: offset)
        file.inotifyCovers = covered(file, links: st.links)
        openedSinceSweep = true
        owned = true
        file.fingerprint = fingerprint
        files[identity] = file
        byPath[path] = identity
        // Its starting position is committed at once: after a restart the file resumes there, and
        // `start_at: end` is never applied to it again.
        changed[identity] = file
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
    /// Whether inotify vouches for a file: it has one name (a hard link written through another
    /// folder, or a symlink to a file elsewhere, is reported in a folder nobody watches), on a local
    /// file system.
    private func covered(_ file: TailedFile, links: UInt64) -> Bool {
        inotify != nil && links == 1 && !FileSystem.isSymlink(file.path) && FileSystem.inotifySeesWrites(fd: file.fd)
    }

    /// A source's folder found by a wildcard, reached through a symlink, or on a file system whose
    /// changes inotify does not report (NFS, SMB, FUSE: files made there by another host), found at
    /// each rescan: its glob runs every 5th sweep.
    private var looseFolders = false

    private func findLooseFolders() -> Bool {
        sources.contains { s in
            let folder = FileSystem.folders(of: s.pattern).folder
            return folder.contains(where: { "*?[".contains($0) }) || FileSystem.realPath(folder) != folder
                || !FileSystem.inotifySeesChanges(folder: folder)
        }
    }

    private func watchDirectories(of pattern: String, _ inotify: Inotify) {
        looseFolders = findLooseFolders()
        let dirs = FileSystem.folders(of: pattern).paths
        if dirs.isEmpty { unwatchedFolders = true }
        for d in dirs {
            do {
                if try !inotify.watch(directory: d) { unwatchedFolders = true }
            } catch {
                unwatchedFolders = true
                if let again = repeats.check(d, now: wallClock()) {
                    logger.warning("cannot watch folder, relying on the periodic sweep: \(error)\(again)")
                }
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
