/// Where alert transitions go: the journal, the alert table.
public protocol AlertSink: AnyObject, Sendable {
    func deliver(_ transition: AlertTransition)
    /// Running totals the sink publishes with the ingest counters (`aimon:ingest:<host>`).
    var counters: [String: Int64] { get }
}
