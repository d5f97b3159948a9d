/// The distinct user ids of one model's hour in a batch, in the order first seen.
///
/// The fold inserts one id per line, nearly always one it has seen: a `Set<String>` hashed each with
/// Swift's seeded SipHash (about 9 % of `aimon replay`'s time with the lookup of the model's slot).
/// This set hashes the id's UTF-8 bytes with FNV-1a from a per-process random start (ids come from
/// logs others write: a fixed hash could be flooded with ids that collide) and compares the 64-bit
/// hash before the strings. Ids equal as Strings but encoded differently (NFC and NFD) may be kept
/// twice; the batch's `users` view, a `Set<String>`, holds them once, as before.
struct UserSet: Sendable {
    /// Open addressing: `slots[h & mask]` is an index into `items` plus one (0: empty).
    private var slots: [Int32] = []
    private var hashes: [UInt64] = []
    private(set) var items: [String] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    mutating func insert(_ user: String) {
        var id = user
        let h = id.withUTF8 { Self.hash($0) }
        if slots.isEmpty { grow() }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = Int(slots[i])
            if s == 0 { break }
            if hashes[s - 1] == h, items[s - 1] == user { return }
            i = (i + 1) & mask
        }
        items.append(user)
        hashes.append(h)
        slots[i] = Int32(items.count)
        if items.count * 2 > slots.count { grow() }
    }

    mutating func formUnion(_ other: UserSet) {
        for u in other.items { insert(u) }
    }

    /// Doubles the table (kept at most half full) and places every item again.
    private mutating func grow() {
        let size = max(16, slots.count * 2)
        slots = [Int32](repeating: 0, count: size)
        let mask = size - 1
        for (n, h) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = Int32(n + 1)
        }
    }

    /// FNV-1a, 64 bits, then a multiply-xorshift so that the low bits (the table index) mix well.
    private static let seed = UInt64.random(in: 0...UInt64.max)

    @inline(__always) static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= h >> 29
        h = h &* 0xbf58_476d_1ce4_e5b9
        return h ^ (h >> 32)
    }
}
