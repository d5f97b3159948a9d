#if canImport(Glibc)
import Glibc
#endif

/// What makes a file the same file: its device and inode, checked against a fingerprint of its head
/// (an inode number can be reused by a new file once the old one is deleted).
public struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// The checkpoint key: `device:inode` in hex.
    public var key: String { String(device, radix: 16) + ":" + String(inode, radix: 16) }
    public var description: String { key }

    /// How much of the head the fingerprint covers at most.
    public static let fingerprintBytes = 1024

    /// FNV-1a of the file's head: its first line (with the newline), or its first 1 KiB when that
    /// line is longer. nil while the head is not complete yet (no newline and under 1 KiB).
    public static func fingerprint(fd: Int32, path: String) throws(SystemError) -> UInt64? {
        var buffer = [UInt8](repeating: 0, count: fingerprintBytes)
        let n: Int
        do {
            n = try buffer.withUnsafeMutableBytes { raw in try FileSystem.pread(fd, raw, at: 0, path: path) }
        } catch let e as SystemError { throw e } catch { throw SystemError("pread", path, errno: EIO) }
        let end: Int
        if let nl = buffer[..<n].firstIndex(of: 0x0A) { end = nl + 1 }
        else if n == fingerprintBytes { end = n }
        else { return nil }
        return fnv1a(buffer[..<end])
    }

    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
