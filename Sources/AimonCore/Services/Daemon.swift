import Dispatch
import Logging
import Synchronization

/// `aimon run`: the services of the daemon, and their supervisor.
///
/// - **notifier** (NotifierService): READY, STATUS and WATCHDOG from the telemetry.
/// - **sinks**: the journal (no thread: one send per alert), the alert table writer (a service).
/// - **evaluation** (EvaluationService): the rule engine, its Redis connection and its timer.
/// - **ingest** (IngestPipeline): tailer -> parse -> fold -> commit, its Redis connection,
///   checkpoints and model registry; it posts what each batch touched to evaluation's mailbox.
///
/// Started in that order and stopped in the reverse one: stop reading and commit what was read,
/// let evaluation finish its step, flush the alert table (within `tableFlushSeconds`), then exit. A
/// reload keeps what did not change (see `reload`).
public final class Daemon: @unchecked Sendable {
    private enum Event {
        case stop
        case reload
        case exited(service: any Service, error: (any Error)?)
    }

    public static let tableFlushSeconds = 5.0
    /// Ranks in the group: started in this order, stopped in the reverse one.
    private enum Rank: Int { case notifier, sinks, evaluation, ingest }

    private var config: Config
    private let loadConfig: () throws -> Config
    private let logger: Logger
    private let notifier: ServiceNotifier
    private let clock: @Sendable () -> Double
    public let telemetry = Telemetry()
    private let events = Mutex<[Event]>([])
    private let eventSignal = DispatchSemaphore(value: 0)
    private var group: ServiceGroup!

    // Owned by the supervisor's thread (the one in `run`).
    private var journal: JournalSink
    private var table: AlertTableWriter?
    private var alertmanager: AlertmanagerSink?
    private var http: HTTPService?
    private var evaluation: EvaluationService!
    private var ingest: IngestPipeline!
    private var notifierService: NotifierService!
    private let mailbox = EvaluationMailbox()

    /// `loadConfig` reads and checks the configuration file again (SIGHUP).
    public init(config: Config, logger: Logger, notifier: ServiceNotifier = ServiceNotifier(),
                clock: @escaping @Sendable () -> Double = { wallClock() }, loadConfig: @escaping () throws -> Config) {
        self.config = config
        self.logger = logger
        self.notifier = notifier
        self.clock = clock
        self.loadConfig = loadConfig
        self.journal = JournalSink(host: config.hostID, telemetry: telemetry)
    }

    /// Asks the daemon to stop (SIGTERM, SIGINT): STOPPING=1 at once, then the services in order.
    public func stop() {
        notifier.stopping()
        post(.stop)
    }

    /// Asks for a reload (SIGHUP).
    public func reload() { post(.reload) }

    private func post(_ e: Event) {
        events.withLock { $0.append(e) }
        eventSignal.signal()
    }

    private func nextEvent(timeout: Double = .infinity) -> Event? {
        _ = eventSignal.wait(timeout: timeout.isFinite ? .now() + timeout : .distantFuture)
        return events.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }

    /// Runs until stopped; throws when a service fails in a way a restart cannot fix.
    public func run() throws {
        group = ServiceGroup { [weak self] service, error, asked in
            guard !asked else { return }
            self?.post(.exited(service: service, error: error))
        }
        notifierService = NotifierService(notifier: notifier, telemetry: telemetry, watched: ["ingest", "evaluation"],
                                          longestCall: config.redis.longestConnect, logger: logger, clock: clock)
        group.start(notifierService, rank: Rank.notifier.rawValue)
        http = makeHTTP(config)
        if let http { group.start(http, rank: Rank.notifier.rawValue) }
        table = makeTable(config)
        if let table { group.start(table, rank: Rank.sinks.rawValue) }
        alertmanager = makeAlertmanager(config)
        if let alertmanager { group.start(alertmanager, rank: Rank.sinks.rawValue) }
        evaluation = makeEvaluation(config)
        group.start(evaluation, rank: Rank.evaluation.rawValue)
        ingest = makeIngest(config)
        group.start(ingest, rank: Rank.ingest.rawValue)

        var failure: (any Error)?
        loop: while true {
            guard let event = nextEvent() else { continue }
            switch event {
            case .stop:
                break loop
            case .reload:
                do { try applyReload() } catch {
                    logger.critical("\(error)")
                    failure = error
                    break loop
                }
            case let .exited(service, error):
                // Only the current ingest is restarted: an exit of one a reload already replaced says nothing.
                if service !== ingest, service.name == "ingest" { continue }
                guard service === ingest, let error = error as? IngestError else {
                    logger.critical("the \(service.name) service failed: \(error.map { "\($0)" } ?? "it returned")")
                    failure = error ?? ServiceExit(name: service.name)
                    break loop
                }
                // Nothing of the refused batch was applied: a new ingest resumes from Redis's checkpoints.
                logger.error("ingest restarts from the checkpoints in Redis: \(error)")
                if let e = nextEvent(timeout: 1) {  // a stop meanwhile wins; a reload waits its turn
                    if case .stop = e { break loop }
                    post(e)
                }
                ingest = makeIngest(config)
                group.start(ingest, rank: Rank.ingest.rawValue)
            }
        }
        shutdown()
        if let failure { throw failure }
        let f = telemetry.figures
        let conflicts = f.evaluation.conflicts > 0 ? ", \(f.evaluation.conflicts) left to another aimon process" : ""
        logger.info("stopped: \(f.evaluation.evaluations) evaluations (\(f.evaluation.missed) slots missed), \(f.evaluation.transitions) transitions\(conflicts)")
    }

    /// Reverse order, each with its deadline: ingest commits, evaluation finishes its step, the
    /// alert table flushes, and the notifier goes last.
    private func shutdown() {
        notifier.stopping()
        let late = group.stopAll { service in service is AlertTableWriter || service is AlertmanagerSink ? Self.tableFlushSeconds : 30 }
        if let table, late.contains(table.name) {
            let left = table.stats.pending
            logger.error("stopping with \(left) alert table writes unwritten: the database did not take them within \(Int(Self.tableFlushSeconds)) s (the journal has these alerts)")
        }
    }

    // MARK: - Reload

    /// Reads the file again and applies what changed, keeping the rest running:
    /// - ingest takes new sources, formats and live settings between two batches (sources kept keep
    ///   their open files and positions); a change of its store (`IngestPipeline.restartReasons`)
    ///   restarts it from the checkpoints in Redis, after it committed what it read;
    /// - evaluation takes new rules, thresholds and sinks between two evaluations (what is due stays
    ///   due); a change of Redis gives it a new evaluator;
    /// - an unchanged alert table keeps its writer and queue; a changed one gets a new writer, and
    ///   the old one hands over its queue.
    /// An invalid file changes nothing.
    private func applyReload() throws {
        notifier.reloading()
        let new: Config
        do { new = try loadConfig() } catch {
            logger.error("refusing the new configuration, the old one stays in force: \(error)")
            notifierService.ready()
            return
        }
        let old = config
        config = new
        notifierService.update(longestCall: new.redis.longestConnect)
        if old.http != new.http {
            if let http { group.stop(http, timeout: 5) }
            http = makeHTTP(new)
            if let http { group.start(http, rank: Rank.notifier.rawValue) }
        } else {
            http?.update(new)
        }
        // An ingest that restarts stops first: it commits what it read, and its last batches reach
        // the evaluation that goes with its Redis.
        let reasons = IngestPipeline.restartReasons(from: old, to: new)
        if !reasons.isEmpty {
            logger.notice("\(reasons.joined(separator: ", ")) changed: ingest restarts from its checkpoints in Redis")
            guard group.stop(ingest, timeout: 30) else { throw ServiceExit(name: "ingest", why: "did not stop within 30 s for a reload") }
        }
        // New sinks before evaluation uses them; the old writer retires once evaluation no longer can.
        if old.hostID != new.hostID { journal = JournalSink(host: new.hostID, telemetry: telemetry) }
        var retired: AlertTableWriter?
        if old.alerts.database != new.alerts.database || old.alerts.queueSize != new.alerts.queueSize || old.hostID != new.hostID {
            retired = table
            table = makeTable(new)
            if let table { group.start(table, rank: Rank.sinks.rawValue) }
        }
        var retiredPusher: AlertmanagerSink?
        if old.alerts.alertmanager != new.alerts.alertmanager || old.http?.externalURL != new.http?.externalURL {
            retiredPusher = alertmanager
            alertmanager = makeAlertmanager(new)
            if let alertmanager { group.start(alertmanager, rank: Rank.sinks.rawValue) }
        }
        if old.redis != new.redis || old.hostID != new.hostID || old.retention != new.retention {
            // Its last step evaluates what the old ingest's last batches touched, on the old Redis.
            guard group.stop(evaluation, timeout: 30) else { throw ServiceExit(name: "evaluation", why: "did not stop within 30 s for a reload") }
            evaluation = makeEvaluation(new)
            group.start(evaluation, rank: Rank.evaluation.rawValue)
        } else if !evaluation.update(config: new.alerts, sinks: sinks(), wait: 2 * new.redis.timeout + 2) {
            logger.warning("evaluation did not take the new sinks at once; alerts meanwhile go through the old alert table writer to the new one")
        }
        if let retired {
            if let table {
                // Hands its queue, and any late delivery, to the new writer; its loop ends.
                group.stop(retired, timeout: 0) { retired.retire(into: table) }
            } else {
                if retired.stats.pending > 0 {
                    logger.warning("alerts.database is now none: the old table's \(retired.stats.pending) queued writes are still written before it closes")
                }
                group.stop(retired, timeout: 0)
            }
        }
        if let retiredPusher {
            if let alertmanager { group.stop(retiredPusher, timeout: 0) { retiredPusher.retire(into: alertmanager) } }
            else { group.stop(retiredPusher, timeout: 0) }
        }
        if reasons.isEmpty {
            ingest.apply(new)
        } else {
            ingest = makeIngest(new)
            group.start(ingest, rank: Rank.ingest.rawValue)
        }
        logger.notice("reloaded the configuration", metadata: ["sources": "\(new.sources.count)"])
        notifierService.ready()
    }

    // MARK: - Parts

    private func sinks() -> [any AlertSink] {
        var out: [any AlertSink] = [journal]
        if let table { out.append(table) }
        if let alertmanager { out.append(alertmanager) }
        return out
    }

    private func makeHTTP(_ config: Config) -> HTTPService? {
        config.http.map { [notifierService] _ in
            HTTPService(config: config, telemetry: telemetry, logger: logger, clock: clock, staleAfter: { notifierService!.staleAfter })
        }
    }

    private func makeAlertmanager(_ config: Config) -> AlertmanagerSink? {
        config.alerts.alertmanager.map { AlertmanagerSink(config: $0, statusPage: config.http?.externalURL, logger: logger, telemetry: telemetry, clock: clock) }
    }

    private func makeTable(_ config: Config) -> AlertTableWriter? {
        guard config.alerts.database != .none else { return nil }
        let database = config.alerts.database
        return AlertTableWriter(host: config.hostID, capacity: config.alerts.queueSize, logger: logger, telemetry: telemetry) { () throws(AlertTableError) in
            try database.openTable()!
        }
    }

    private func makeEvaluation(_ config: Config) -> EvaluationService {
        let rules = RedisRuleEvaluator(config: config, sinks: sinks(), logger: logger, telemetry: telemetry)
        return EvaluationService(rules: rules, config: config.alerts, slotKey: config.hostID, mailbox: mailbox,
                                 telemetry: telemetry, logger: logger, clock: clock)
    }

    private func makeIngest(_ config: Config) -> IngestPipeline {
        IngestPipeline(config: config, mode: .follow, logger: logger, telemetry: telemetry, mailbox: mailbox, clock: clock)
    }
}

/// A service's `run()` returned while nobody asked it to stop.
public struct ServiceExit: Error, CustomStringConvertible {
    public var name: String
    public var why = "stopped unasked"
    public var description: String { "the \(name) service \(why)" }
}
