#if canImport(Glibc)
import Glibc
#endif

/// Reuses the `String` of a value seen before (model names, endpoints), so a line costs no allocation
/// for them. Strings of 15 bytes or fewer are stored inline by Swift and are not cached.
///
/// A class over raw storage: the parser calls it on every line, and mutating a stored property of a
/// class through `inout` would cost a dynamic exclusivity check each time.
final class StringCache {
    private static let slots = 64
    private let keys = UnsafeMutablePointer<[UInt8]>.allocate(capacity: StringCache.slots)
    private let values = UnsafeMutablePointer<String>.allocate(capacity: StringCache.slots)

    init() {
        keys.initialize(repeating: [], count: Self.slots)
        values.initialize(repeating: "", count: Self.slots)
    }

    deinit {
        keys.deinitialize(count: Self.slots)
        values.deinitialize(count: Self.slots)
        keys.deallocate()
        values.deallocate()
    }

    /// The string for these (already validated UTF-8) bytes.
    func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let n = bytes.count
        guard n > 15, n <= 256, let base = bytes.baseAddress else { return String(decoding: bytes, as: UTF8.self) }
        let head = UnsafeRawPointer(base).loadUnaligned(as: UInt64.self)
        let tail = UnsafeRawPointer(base + n - 8).loadUnaligned(as: UInt64.self)
        let slot = Int(truncatingIfNeeded: ((head ^ (tail &* 0x9E37_79B9_7F4A_7C15)) &+ UInt64(n)) >> 58) & (Self.slots - 1)
        if keys[slot].count == n, keys[slot].withUnsafeBufferPointer({ memcmp($0.baseAddress!, base, n) == 0 }) {
            return values[slot]
        }
        let s = String(decoding: bytes, as: UTF8.self)
        keys[slot] = Array(bytes)
        values[slot] = s
        return s
    }
}
