/// Where alert transitions go: the journal, the alert table. Each reports its figures (deliveries,
/// failures, queue, trouble) to `Telemetry` under its name.
public protocol AlertSink: AnyObject, Sendable {
    func deliver(_ transition: AlertTransition)
}
