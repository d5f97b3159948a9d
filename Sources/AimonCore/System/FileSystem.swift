import CByteScan
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var path: String
    public var errno: Int32

    public init(_ call: String, _ path: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(call)(\(path)): \(String(cString: strerror(errno)))" }
}

/// Thin wrappers over the file syscalls the tailer needs; EINTR is retried here and nowhere else.
public enum FileSystem {
    public struct Status: Equatable, Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        public var isRegular: Bool
        public var links: UInt64
    }

    static func status(_ st: Glibc.stat) -> Status {
        Status(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
               isRegular: (st.st_mode & S_IFMT) == S_IFREG, links: UInt64(st.st_nlink))
    }

    /// `stat(2)`; nil when the path does not exist.
    public static func status(of path: String) throws(SystemError) -> Status? {
        var st = Glibc.stat()
        if lstatFollow(path, &st) == 0 { return status(st) }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw SystemError("stat", path)
    }

    /// The folder part of a glob pattern, and the folders it names now (globbed when it holds a
    /// wildcard; "/" for a pattern at the root).
    public static func folders(of pattern: String) -> (folder: String, paths: [String]) {
        let folder = pattern.lastIndex(of: "/").map { String(pattern[..<$0]) } ?? "."
        if folder.isEmpty { return ("/", ["/"]) }
        return (folder, folder.contains(where: { "*?[".contains($0) }) ? glob(folder).paths : [folder])
    }

    /// Whether `path` is a folder (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var st = Glibc.stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Local file systems, whose writes inotify reports (statfs(2) f_type): ext2/3/4, XFS, Btrfs,
    /// tmpfs, ZFS, F2FS, JFS, ReiserFS. Anything else (NFS, SMB, FUSE, overlay, 9p...) may be written
    /// from elsewhere unseen, and is swept every `sweep_interval`.
    static let localFileSystems: Set<UInt64> = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x2FC1_2FC1, 0xF2F5_2010,
                                                0x3153_464A, 0x5265_4973]

    /// Whether inotify reports the writes to this open file (a local file system).
    public static func inotifySeesWrites(fd: Int32) -> Bool { localFileSystems.contains(aimon_fs_type(fd)) }

    /// Whether inotify reports what happens in this folder (a local file system); true for a folder
    /// that cannot be opened (not there yet: it is looked for at every sweep anyway).
    public static func inotifySeesChanges(folder: String) -> Bool {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        return inotifySeesWrites(fd: fd)
    }

    /// The path with every symlink resolved (realpath(3)); the path itself when that fails.
    public static func realPath(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    /// Whether `path` itself is a symbolic link (lstat).
    public static func isSymlink(_ path: String) -> Bool {
        var st = Glibc.stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    /// `fstat(2)`.
    public static func fstat(_ fd: Int32, path: String) throws(SystemError) -> Status {
        var st = Glibc.stat()
        guard Glibc.fstat(fd, &st) == 0 else { throw SystemError("fstat", path) }
        return status(st)
    }

    private static func lstatFollow(_ path: String, _ st: inout Glibc.stat) -> Int32 {
        fstatat(AT_FDCWD, path, &st, 0)
    }

    /// `open(2)` read-only, close-on-exec.
    public static func openForReading(_ path: String) throws(SystemError) -> Int32 {
        while true {
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            if errno != EINTR { throw SystemError("open", path) }
        }
    }

    /// A small file's first `limit` bytes (all of it when shorter): /proc and /sys files, secrets.
    public static func readPrefix(_ path: String, limit: Int) throws(SystemError) -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let want = min(buffer.count, limit - out.count)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path)
            }
            if n == 0 { break }
            out += buffer[..<n]
        }
        return out
    }

    /// `pread(2)`; returns the byte count (0 at end of file).
    public static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws(SystemError) -> Int {
        while true {
            let n = Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw SystemError("pread", path) }
        }
    }

    /// `glob(3)`: matching paths, sorted; none when nothing matches. `failure` says why the listing
    /// may be incomplete (out of memory, a read error): then no matching is not "no files".
    public static func glob(_ pattern: String) -> (paths: [String], failure: String?) {
        var g = glob_t()
        defer { globfree(&g) }
        let rc = Glibc.glob(pattern, 0, nil, &g)
        switch rc {
        case 0: return ((0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }, nil)
        case GLOB_NOMATCH: return ([], nil)
        case GLOB_NOSPACE: return ([], "glob(\(pattern)): out of memory")
        default: return ([], "glob(\(pattern)): read error \(rc)")
        }
    }

    /// Whether `path` matches the glob `pattern` (fnmatch, `*` not crossing `/`).
    public static func matches(pattern: String, path: String) -> Bool {
        fnmatch(pattern, path, FNM_PATHNAME) == 0
    }

    /// What to say when an open fails with EMFILE (this process's limit) or ENFILE (the system's).
    public static func openFileLimitHint(errno code: Int32) -> String {
        if code == ENFILE { return "the system's open-file limit is reached (fs.file-max in sysctl)" }
        guard let limit = openFileLimit() else { return "the open-file limit is reached (raise LimitNOFILE= in the unit)" }
        return "the open-file limit is reached: soft \(limit.soft), hard \(limit.hard); raise LimitNOFILE= in the unit "
            + "(or ulimit -n in a shell)"
    }

    /// This process's open-file limit (soft, hard), or nil when it cannot be read.
    public static func openFileLimit() -> (soft: UInt64, hard: UInt64)? {
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return nil }
        return (UInt64(lim.rlim_cur), UInt64(lim.rlim_max))
    }

    /// Why `files` tailed files may not fit under the open-file limit `soft` (nil when they do):
    /// each takes a descriptor, rotated files kept for `rotate_wait` take more (up to
    /// `Tailer.defaultMaxDetachedOpen`), and Redis, the journal, inotify and the alert table a few.
    public static func openFileLimitProblem(files: Int, soft: UInt64) -> String? {
        let wanted = UInt64(files) + UInt64(Tailer.defaultMaxDetachedOpen) + 32
        guard wanted > soft else { return nil }
        return "\(files) files are tailed and the open-file limit is \(soft): with rotated files kept open and aimon's own "
            + "descriptors, up to \(wanted) may be needed; raise LimitNOFILE= in the unit (a file that cannot be opened is not read)"
    }

    /// Raises the soft open-file limit to the hard limit (one fd per tailed file).
    public static func raiseOpenFileLimit() {
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0, lim.rlim_cur < lim.rlim_max else { return }
        lim.rlim_cur = lim.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
    }
}
