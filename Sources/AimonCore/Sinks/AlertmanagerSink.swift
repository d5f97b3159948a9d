import Logging
import Synchronization

/// Pushes alerts to Alertmanager (`POST /api/v2/alerts`), which routes them to Slack, PagerDuty,
/// e-mail or a webhook, groups them, silences them: aimon feeds the router operators already run.
///
/// - Firing and resolved transitions are pushed as they happen; every alert still firing is pushed
///   again every `resend_interval`, from the active set the evaluation reads in Redis (so several aimon
///   processes on one Redis push the same alert: same labels, same `startsAt`, one alert in
///   Alertmanager). A firing alert carries `endsAt` = now + 4 × `resend_interval` (as Prometheus
///   does): one that stops coming resolves by itself.
/// - No host label: two hosts that announce one alert are one alert.
/// - On its own thread with a bounded queue (one entry per episode, the latest state): every URL is
///   sent every batch; a batch is done once one of them took it (the instances of a cluster share
///   it by gossip); when none did, it is retried with backoff, and journal and table are unaffected.
public final class AlertmanagerSink: ActiveAlertsSink, Service, @unchecked Sendable {
    public static let sinkName = "alertmanager"
    public let name = AlertmanagerSink.sinkName
    public static let apiPath = "/api/v2/alerts"

    private struct Queue {
        /// Pushes waiting (rendered JSON), by fingerprint, in the order they came.
        var pending: [String: String] = [:]
        var order: [String] = []
        /// When each active episode was last pushed (for the resends).
        var lastSent: [String: Double] = [:]
        var stopping = false
    }

    public let config: AlertsConfig.Alertmanager
    /// The status page (`http.external_url`), for each alert's `generatorURL`; nil without `http`.
    public let statusPage: String?
    private let logger: Logger
    private let telemetry: Telemetry
    private let clock: @Sendable () -> Double
    private let state = Mutex(Queue())
    private let waker = Waker()
    private let retryBase: Double

    public init(config: AlertsConfig.Alertmanager, statusPage: String? = nil, logger: Logger, telemetry: Telemetry, retryBase: Double = 0.5,
                clock: @escaping @Sendable () -> Double = { wallClock() }) {
        self.config = config
        self.statusPage = statusPage
        self.logger = logger
        self.telemetry = telemetry
        self.retryBase = retryBase
        self.clock = clock
    }

    // MARK: - What is pushed

    public func deliver(_ t: AlertTransition) {
        switch t.kind {
        case .firing, .reminder:
            enqueue(t.fingerprint, Self.alert(t, config: config, statusPage: statusPage, now: t.at, resolved: false), sentAt: t.at)
        case .resolved:
            enqueue(t.fingerprint, Self.alert(t, config: config, statusPage: statusPage, now: t.at, resolved: true), sentAt: nil)
        case .pending, .held:
            return
        }
    }

    public func active(_ alerts: [AlertTransition], now: Double) {
        let due = state.withLock { q -> [AlertTransition] in
            let live = Set(alerts.map(\.fingerprint))
            q.lastSent = q.lastSent.filter { live.contains($0.key) }  // resolved, here or by another process
            return alerts.filter { a in q.lastSent[a.fingerprint].map { now - $0 >= config.resendInterval } ?? true }
        }
        for a in due { enqueue(a.fingerprint, Self.alert(a, config: config, statusPage: statusPage, now: now, resolved: false), sentAt: now) }
    }

    /// One alert of the v2 API: labels alertname, model (absent for all models), severity and the
    /// extra labels; annotations summary, value, threshold, window, fingerprint; `generatorURL` the
    /// alert's row on the status page.
    public static func alert(_ t: AlertTransition, config: AlertsConfig.Alertmanager, statusPage: String? = nil, now: Double, resolved: Bool) -> JSONValue {
        var labels: [(String, JSONValue)] = [("alertname", .string(t.type.rawValue))]
        if t.model != nil { labels.append(("model", .string(t.modelField))) }
        if let d = t.deployment { labels.append(("deployment", .string(d))) }
        // Each spend threshold is its own alert.
        if let s = t.spend { labels += [("period", .string(s.period)), ("threshold", .string(t.thresholdLabel))] }
        labels.append(("severity", .string(t.severity.rawValue)))
        // aimon's own labels win over extra labels of the same name.
        for (k, v) in config.extraLabels.sorted(by: { $0.key < $1.key }) where !labels.contains(where: { $0.0 == k }) { labels.append((k, .string(v))) }
        var annotations: [(String, JSONValue)] = [("summary", .string(t.message))]
        if let v = t.value { annotations.append(("value", .string(AlertTransition.format(v, t.type)))) }
        annotations += [("threshold", .string(AlertTransition.format(t.threshold, t.type))), ("window", .string(t.windowText)),
                        ("fingerprint", .string(t.fingerprint))]
        let ends = resolved ? t.at : now + 4 * config.resendInterval
        var fields: [(String, JSONValue)] = [("labels", .object(labels)), ("annotations", .object(annotations)),
                                             ("startsAt", .string(AlertRow.timestamp(t.episodeStart))), ("endsAt", .string(AlertRow.timestamp(ends)))]
        if let statusPage { fields.append(("generatorURL", .string(statusPage + "#" + t.fingerprint))) }
        return .object(fields)
    }

    private func enqueue(_ fingerprint: String, _ alert: JSONValue, sentAt: Double?) {
        var dropped = 0
        let queued = state.withLock { q -> Int in
            if q.pending[fingerprint] == nil { q.order.append(fingerprint) }
            q.pending[fingerprint] = alert.rendered
            if let sentAt { q.lastSent[fingerprint] = sentAt } else { q.lastSent[fingerprint] = nil }
            while q.order.count > config.queueSize {
                q.pending[q.order.removeFirst()] = nil
                dropped += 1
            }
            return q.order.count
        }
        telemetry.sink(Self.sinkName) { s in
            s.queued = queued
            s.dropped += Int64(dropped)
        }
        if dropped > 0 {
            logger.error("the Alertmanager queue is full (\(config.queueSize) alerts): dropped the oldest; journal and alert table have every alert")
        }
        waker.wake()
    }

    /// Reload: the Alertmanager settings changed. Hands the queued pushes (as rendered with the old
    /// labels) and the resend times to `successor`, and ends this sink's loop.
    public func retire(into successor: AlertmanagerSink) {
        let taken = state.withLock { q -> Queue in
            defer { q.pending = [:]; q.order = []; q.stopping = true }
            return q
        }
        successor.state.withLock { q in
            for fp in taken.order where q.pending[fp] == nil {
                q.order.insert(fp, at: 0)
                q.pending[fp] = taken.pending[fp]
            }
            q.lastSent.merge(taken.lastSent) { new, _ in new }
        }
        successor.waker.wake()
        waker.wake()
    }

    // MARK: - The loop

    public func stop() {
        state.withLock { $0.stopping = true }
        waker.wake()
    }

    public func run() throws {
        let http = HTTPClient(timeout: config.timeout)
        var backoff = Backoff(base: retryBase, cap: 30)
        var failingSince: Double?
        var repeats = RepeatLimiter()
        while true {
            let (batch, stopping) = state.withLock { q in (q.order.map { ($0, q.pending[$0]!) }, q.stopping) }
            if batch.isEmpty {
                if stopping { return }
                waker.wait(timeout: 60)
                continue
            }
            let body = Array(("[" + batch.map(\.1).joined(separator: ",") + "]").utf8)
            var errors: [String] = []
            for url in config.urls {
                do { try http.postJSON(url + Self.apiPath, body: body) } catch { errors.append(error.message) }
            }
            let taken = errors.count < config.urls.count
            if taken {
                let queued = state.withLock { q -> Int in
                    // What changed meanwhile stays for the next push.
                    for (fp, sent) in batch where q.pending[fp] == sent {
                        q.pending[fp] = nil
                        q.order.removeAll { $0 == fp }
                    }
                    return q.order.count
                }
                telemetry.sink(Self.sinkName) { s in
                    s.delivered += Int64(batch.count)
                    s.queued = queued
                    s.failures += Int64(errors.count)
                    s.trouble = errors.isEmpty ? nil : "Alertmanager \(errors.count) of \(config.urls.count) unreachable: \(errors[0])"
                }
                if let since = failingSince {
                    logger.notice("Alertmanager takes alerts again after \(Int(clock() - since)) s; pushed \(batch.count) queued")
                    failingSince = nil
                }
                for e in errors {
                    if let again = repeats.check(e, now: clock()) { logger.warning("an Alertmanager instance did not take alerts (another did): \(e)\(again)") }
                }
                backoff.reset()
                continue
            }
            telemetry.sink(Self.sinkName) { s in
                s.failures += Int64(errors.count)
                s.trouble = "Alertmanager unreachable (\(batch.count) alerts queued): \(errors[0])"
            }
            if failingSince == nil {
                failingSince = clock()
                logger.error("cannot push alerts to Alertmanager, keeping \(batch.count) queued and retrying (journal and alert table are unaffected): \(errors.joined(separator: "; "))")
            } else if let again = repeats.check("all", now: clock()) {
                logger.error("Alertmanager still unreachable, \(batch.count) alerts queued: \(errors[0])\(again)")
            }
            // Stopping: one more try at most, then what is queued is dropped (Alertmanager forgets
            // firing alerts that stop coming; the next start pushes the active set again).
            if stopping { return }
            waker.wait(timeout: backoff.next())
        }
    }
}
