/// Keeps a lasting fault from flooding the journal: a message is logged the first time and once
/// more, then at most once per `interval` with how many times it happened meanwhile. journald
/// rate-limits per service (10,000 messages per 30 s by default) and then drops messages, alerts
/// included, so a fault that logs on every retry can hide the alerts themselves.
public struct RepeatLimiter: Sendable {
    public let interval: Double
    private var entries: [String: (logged: Int, last: Double, suppressed: Int)] = [:]

    public init(interval: Double = 60) { self.interval = interval }

    /// Whether to log the fault `key` now: nil to stay quiet; else a suffix for the message, empty
    /// or " (repeated N times in the last M s)".
    public mutating func check(_ key: String, now: Double) -> String? {
        guard var e = entries[key] else {
            entries[key] = (1, now, 0)
            return ""
        }
        if e.logged < 2 || now - e.last >= interval {
            let suffix = e.suppressed > 0 ? " (repeated \(e.suppressed) times in the last \(Int(now - e.last)) s)" : ""
            e = (e.logged + 1, now, 0)
            entries[key] = e
            return suffix
        }
        e.suppressed += 1
        entries[key] = e
        return nil
    }

    /// The fault is over: the next occurrence is logged at once.
    public mutating func clear(_ key: String) { entries[key] = nil }
}
