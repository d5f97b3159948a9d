/// Where alert transitions go: the journal, the alert table. Each reports its figures (deliveries,
/// failures, queue, trouble) to `Telemetry` under its name.
public protocol AlertSink: AnyObject, Sendable {
    func deliver(_ transition: AlertTransition)
}

/// A sink that wants the alerts firing now, as Redis holds them (shared by every aimon process on
/// it), after each evaluation of every model: Alertmanager forgets alerts that stop coming.
public protocol ActiveAlertsSink: AlertSink {
    func active(_ alerts: [AlertTransition], now: Double)
}
