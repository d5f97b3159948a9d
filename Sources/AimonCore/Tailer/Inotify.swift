import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Directory watches through one inotify instance, read by a Dispatch read source.
///
/// inotify is a wake-up, not the truth: events are collected for the tailer to look at, and the
/// `Waker` is signalled; the tailer then stats what it needs. Watching directories (not files) keeps
/// one watch per folder however many files it holds.
public final class Inotify: @unchecked Sendable {
    public struct Event: Sendable, Equatable {
        public var directory: String
        public var name: String
        public var mask: UInt32
        /// The file's content or attributes changed (not its name): reading it is enough, no rescan.
        public var isModify: Bool { mask & UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB) != 0 }
    }

    private struct State {
        var watches: [Int32: String] = [:]
        var byPath: [String: Int32] = [:]
        /// The folder each watch was added on (device, inode): a folder replaced under its path
        /// (renamed and made again, a symlink flipped, a mount) is watched again.
        var folders: [Int32: (UInt64, UInt64)] = [:]
        var events: [Event] = []
        var overflowed = false
    }

    private let fd: Int32
    private let state = Mutex(State())
    /// Set once in init; only `cancel()` is called on it afterwards.
    private let source: any DispatchSourceRead
    private let waker: Waker
    /// Events kept between two drains; past this, the backlog collapses into one "rescan".
    private static let maxQueued = 65536

    static let directoryMask = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
        | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    public init(waker: Waker) throws(SystemError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw SystemError("inotify_init1", "-") }
        self.fd = fd
        self.waker = waker
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "aimon.inotify"))
        source.setEventHandler { [weak self] in self?.drain() }
        source.setCancelHandler { close(fd) }
        source.resume()
    }

    deinit { source.cancel() }

    /// Watches a directory (idempotent). Returns false when it does not exist (yet).
    @discardableResult
    public func watch(directory: String) throws(SystemError) -> Bool {
        var st = Glibc.stat()
        let now: (UInt64, UInt64)? = stat(directory, &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
        let known = state.withLock { s in s.byPath[directory].map { ($0, s.folders[$0]) } }
        if let (wd, folder) = known {
            if let now, let folder, folder == now { return true }
            // Another folder is at this path now: the old watch tells nothing about it. Everything
            // is looked at again (as after an overflow).
            inotify_rm_watch(fd, wd)
            state.withLock {
                $0.watches[wd] = nil
                $0.byPath[directory] = nil
                $0.folders[wd] = nil
                $0.overflowed = true
            }
        }
        let wd = inotify_add_watch(fd, directory, Self.directoryMask)
        if wd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return false }
            throw SystemError("inotify_add_watch", directory)
        }
        state.withLock {
            $0.watches[wd] = directory
            $0.byPath[directory] = wd
            if let now { $0.folders[wd] = now }
        }
        return true
    }

    public var watchedDirectories: Int { state.withLock { $0.watches.count } }

    /// Takes the events gathered since the last call; `overflowed` means "rescan everything".
    public func takeEvents() -> (events: [Event], overflowed: Bool) {
        state.withLock { s in
            defer { s.events.removeAll(keepingCapacity: true); s.overflowed = false }
            return (s.events, s.overflowed)
        }
    }

    /// Reads every pending event (until EAGAIN) on the source's queue, then wakes the tailer.
    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var gathered: [(Int32, UInt32, String)] = []
        var overflow = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            buffer.withUnsafeBytes { raw in
                var at = 0
                while at + 16 <= n {
                    let wd = raw.loadUnaligned(fromByteOffset: at, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)
                    let len = Int(raw.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self))
                    let nameBytes = raw[(at + 16)..<min(at + 16 + len, n)]
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 { overflow = true } else { gathered.append((wd, mask, name)) }
                    at += 16 + len
                }
            }
        }
        state.withLock { s in
            for (wd, mask, name) in gathered {
                if mask & UInt32(IN_IGNORED) != 0, let dir = s.watches.removeValue(forKey: wd) {
                    s.byPath[dir] = nil
                    s.folders[wd] = nil
                    s.overflowed = true  // a watched folder went away: look again
                    continue
                }
                if mask & UInt32(IN_MOVE_SELF) != 0, let dir = s.watches.removeValue(forKey: wd) {
                    // A watched folder renamed: its watch follows it away, and whatever is made at
                    // its path is unwatched. Dropped, and everything looked at again: the rescan
                    // watches the path anew (or, while nothing is there, sweeps until it is).
                    inotify_rm_watch(fd, wd)
                    s.byPath[dir] = nil
                    s.folders[wd] = nil
                    s.overflowed = true
                    continue
                }
                guard let dir = s.watches[wd] else { continue }
                if s.events.count < Self.maxQueued {
                    s.events.append(Event(directory: dir, name: name, mask: mask))
                } else {
                    s.overflowed = true
                }
            }
            if overflow { s.overflowed = true }
        }
        waker.wake()
    }
}

/// Wakes the ingest loop: inotify and signals call `wake()`, the loop waits with a timeout (the
/// slow sweep). Tests drive the tailer directly and need no waker.
public final class Waker: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let pending = Atomic<Bool>(false)

    public init() {}

    public func wake() {
        if !pending.exchange(true, ordering: .acquiringAndReleasing) { semaphore.signal() }
    }

    /// Waits until woken or until `timeout` seconds pass; returns true when woken.
    @discardableResult
    public func wait(timeout: Double) -> Bool {
        let woke = semaphore.wait(timeout: .now() + timeout) == .success
        pending.store(false, ordering: .releasing)
        return woke
    }
}
