/// Where alert transitions go: the journal, the alert table.
public protocol AlertSink: AnyObject, Sendable {
    func deliver(_ transition: AlertTransition)
    /// Running totals the sink publishes with the ingest counters (`aimon:ingest:<host>`).
    var counters: [String: Int64] { get }
    /// A problem for the daemon's STATUS line, e.g. writes failing (nil: none).
    var trouble: String? { get }
}

extension AlertSink {
    /// A problem for the daemon's STATUS line (nil: none).
    public var trouble: String? { nil }
}
