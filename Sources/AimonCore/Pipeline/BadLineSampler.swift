/// Logs at most one sample of each kind of skipped line (a parse failure, or "overlong") per interval.
struct BadLineSampler {
    let interval: Double
    private var last: [String: Double] = [:]

    init(interval: Double) { self.interval = interval }

    mutating func shouldLog(_ reason: String, now: Double) -> Bool {
        if let t = last[reason], now - t < interval { return false }
        last[reason] = now
        return true
    }

    /// The line's first 160 bytes, with control and non-UTF-8 bytes escaped.
    static func preview(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out = ""
        for b in bytes.prefix(160) {
            if b >= 0x20 && b < 0x7F { out.unicodeScalars.append(Unicode.Scalar(b)) }
            else { out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16) }
        }
        return bytes.count > 160 ? out + "..." : out
    }
}
