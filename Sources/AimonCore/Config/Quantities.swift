/// Durations and sizes as written in the configuration: `48h`, `35d`, `500ms`; `1MiB`, `512KiB`.
public enum Quantities {
    /// The longest duration a configuration may give: ten years. Longer ones are refused, so that no
    /// conversion of a configured duration to whole seconds (or milliseconds) can overflow.
    public static let maxDuration: Double = 10 * 365 * 86400

    /// Seconds from `90`, `90s`, `500ms`, `5m`, `48h`, `35d`, `2w`; nil for text that is none, or for
    /// more than `maxDuration`.
    public static func duration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800)]
        let t = text.trimmingSpaces
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            // "ms" must win over "s": skip "s" when the number part ends in "m".
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let v = Double(number), v >= 0, v * scale <= maxDuration else { return nil }
            return v * scale
        }
        guard let v = Double(t), v >= 0, v <= maxDuration else { return nil }
        return v
    }

    /// Bytes from `1048576`, `512KiB`, `1MiB`, `1GiB` (also KB/MB/GB, as 1000s).
    public static func size(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
                                      ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
        let t = text.trimmingSpaces
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Int(t.dropLast(suffix.count).trimmingSpaces), v >= 0 else { return nil }
            let (bytes, overflow) = v.multipliedReportingOverflow(by: scale)
            return overflow ? nil : bytes
        }
        return Int(t).flatMap { $0 >= 0 ? $0 : nil }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
