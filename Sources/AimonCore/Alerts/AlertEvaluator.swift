import Logging

/// Runs the rule engine over what Redis holds: for the models committed batches touched
/// (`noteBatch`, `evaluateTouched`) and for every model (`evaluateAll`: each seen within the longest
/// window, and each with an alert, so alerts also resolve when traffic stops). When to call which is
/// the evaluation service's job (EvaluationService.swift).
///
/// Each evaluation reads snapshots and states in one pipeline, runs the pure engine, and stores what
/// changed with a compare-and-set; only the process whose swap succeeds announces the transitions.
public final class AlertEvaluator {
    public typealias Stats = Telemetry.Evaluation

    private var config: AlertsConfig
    private let store: AlertStore
    let spendWatcher: SpendWatcher
    private var sinks: [any AlertSink]
    private let logger: Logger
    private let telemetry: Telemetry
    /// Models touched by batches not evaluated yet, with the runs of failures those batches ended.
    private var dirty: [String: [RunsEnded]] = [:]
    private var cache = AlertStore.MinuteCache()
    /// Alerts seen firing by the evaluation in progress (for `ActiveAlertsSink`s).
    private var firing: [AlertTransition] = []
    /// Tests: runs between the read of a subject and its swap (another process moving first).
    var beforeSwap: ((String?) -> Void)?

    public init(config: AlertsConfig, keys: KeySchema, retention: Retention, sinks: [any AlertSink], logger: Logger,
                telemetry: Telemetry = Telemetry()) {
        self.config = config
        self.store = AlertStore(keys: keys, stateTTL: retention.hourBuckets)
        self.spendWatcher = SpendWatcher(keys: keys, stateTTL: retention.hourBuckets)
        self.sinks = sinks
        self.logger = logger
        self.telemetry = telemetry
    }

    public var stats: Stats { telemetry.figures.evaluation }

    /// Reload: new rules and thresholds, new sinks; what is due stays due.
    public func update(config: AlertsConfig, sinks: [any AlertSink]) {
        self.config = config
        self.sinks = sinks
    }

    /// Records a committed batch: the models it touched and the runs of failures it ended.
    public func noteBatch(_ runs: [String: RunsEnded], touched models: Set<String>, urgent: Set<String> = []) {
        for m in models where dirty[m] == nil { dirty[m] = [] }
        let pairs = config.evaluatesDeployments
        for (model, r) in runs where pairs || !Deployment.isPair(model) { dirty[model, default: []].append(r) }
        for m in urgent where dirty[m] != nil { self.urgent.insert(m) }
    }

    /// Batches noted and not evaluated yet.
    public var hasTouched: Bool { !dirty.isEmpty }
    /// Models of those batches that carried failures, not evaluated yet (a subset of the touched).
    private var urgent: Set<String> = []
    public var hasUrgent: Bool { !urgent.isEmpty }

    /// Every model seen within the longest window, every model with an alert, and those touched,
    /// `touchedChunk` at a time; `between` runs after each chunk (the evaluation service evaluates
    /// urgent models there: a pass over a thousand models takes half a second).
    public func evaluateAll(on redis: RedisConnection, now: Double, between: () throws(RedisError) -> Void = {}) throws(RedisError) {
        let from = Int64(now - config.longestWindow)
        let reader = WindowReader(keys: store.keys, redis: redis)
        var models = Set(try reader.models(from: from, to: Int64(now) + 1))
        if config.evaluatesDeployments { models.formUnion(try reader.deployments(from: from, to: Int64(now) + 1)) }
        models.formUnion(try store.alertingModels(on: redis))
        models.formUnion(dirty.keys)
        let subjects = [nil] + models.sorted()
        firing = []
        var alerting: [String?] = []
        var done = 0
        while done < subjects.count {
            let chunk = Array(subjects[done..<min(subjects.count, done + Self.touchedChunk)])
            alerting += try evaluate(chunk, now: now, refresh: true, on: redis, counted: false)
            done += chunk.count
            guard done < subjects.count else { break }
            // A model evaluated again in between is listed by that evaluation only.
            let mark = firing.count
            evaluatedInBetween = []
            try between()
            if let again = evaluatedInBetween, !again.isEmpty {
                // What the evaluation in between listed, taken before the list is cut: the alerts it
                // replaces may be more than it added (those that resolved in between).
                let between = firing[mark...]
                firing = firing[..<mark].filter { !again.contains($0.model) } + between
                alerting = alerting.filter { !again.contains($0) } + again.filter { m in between.contains { $0.model == m } }
            }
            evaluatedInBetween = nil
        }
        telemetry.update { $0.evaluation.evaluations += 1 }
        // A state that fires for longer than its TTL must not expire under it (a new episode, and
        // a table row left active for ever): the timer renews the states it saw.
        try store.keepAlive(alerting, on: redis)
        store.prune(&cache, keeping: subjects)
        // Spend over calendar periods: judged by the timer only (its alerts are not about seconds).
        firing += try spendWatcher.evaluate(config.spend, now: now, on: redis) { announce([$0]) }
        for case let sink as any ActiveAlertsSink in sinks { sink.active(firing, now: now) }
        let seen = firing
        telemetry.update { $0.firing = seen }
    }

    /// The models of the batches noted since the last evaluation (and all models together): the
    /// urgent ones first, then in turn from where the last evaluation stopped, at most
    /// `touchedChunk` a time (the others stay due: an urgent model never waits behind a thousand).
    public func evaluateTouched(on redis: RedisConnection, now: Double) throws(RedisError) {
        guard !dirty.isEmpty else { return }
        var chosen = Array(urgent.sorted().prefix(Self.touchedChunk))
        var taken: [String] = []
        if chosen.count < Self.touchedChunk {
            let rest = dirty.keys.filter { !urgent.contains($0) }.sorted()
            let start = rest.firstIndex { $0 > touchedCursor } ?? 0
            taken = Array((rest[start...] + rest[..<start]).prefix(Self.touchedChunk - chosen.count))
            chosen += taken
        }
        try evaluate([nil] + chosen, now: now, refresh: false, on: redis)
        if let last = taken.last { touchedCursor = last }
    }

    /// Subjects evaluated between the parts of a pass over all (nil outside one).
    private var evaluatedInBetween: Set<String?>?

    /// Models one evaluation of touched models reads at most.
    static let touchedChunk = 100
    /// The last model (by name) the previous evaluation of touched models took in turn.
    private var touchedCursor = ""

    /// Only the touched models whose batches carried failures (and all models together); the others
    /// stay due for the next `evaluateTouched`.
    public func evaluateUrgent(on redis: RedisConnection, now: Double) throws(RedisError) {
        guard !urgent.isEmpty else { return }
        try evaluate([nil] + urgent.sorted().prefix(Self.touchedChunk).map { $0 }, now: now, refresh: false, on: redis)
    }

    /// Evaluates the subjects; returns those left with a state that is not inactive.
    @discardableResult
    private func evaluate(_ models: [String?], now: Double, refresh: Bool, on redis: RedisConnection, counted: Bool = true) throws(RedisError) -> [String?] {
        var pending = models
        var alerting: [String?] = []
        var evaluated = Set<String?>()
        // A lost swap means another process moved first: look again, once, from what it stored.
        for attempt in 0..<2 where !pending.isEmpty {
            var lost: [String?] = []
            let minutes = WindowSnapshot.bucketCount(config.longestWindow)
            for var subject in try store.read(pending, minutes: minutes, now: now, cache: &cache, refresh: refresh || attempt > 0,
                                              firstToken: config.readsFirstToken, on: redis) {
                if let m = subject.model, let runs = dirty[m], subject.snapshot.run != nil {
                    subject.snapshot.run!.ended = runs.map(\.ended)
                    subject.snapshot.run!.inside = runs.map(\.inside).max() ?? 0
                }
                beforeSwap?(subject.model)
                if let states = try apply(subject, now: now, on: redis) {
                    evaluated.insert(subject.model)
                    if states { alerting.append(subject.model) }
                } else {
                    lost.append(subject.model)
                }
            }
            telemetry.update { $0.evaluation.conflicts += Int64(lost.count) }
            pending = attempt == 0 ? lost : []
        }
        // A model whose swaps were both lost stays due: the runs it ended are known to this process only.
        evaluatedInBetween?.formUnion(evaluated)
        for case let m? in models where evaluated.contains(m) {
            dirty[m] = nil
            urgent.remove(m)
        }
        if counted { telemetry.update { $0.evaluation.evaluations += 1 } }
        return alerting
    }

    /// Runs the engine on one subject and stores and announces its changes. nil if the swap was lost;
    /// else whether the subject is left with a state that is not inactive.
    private func apply(_ subject: AlertStore.Subject, now: Double, on redis: RedisConnection) throws(RedisError) -> Bool? {
        let steps = config.engine.evaluate(model: subject.model, snapshot: subject.snapshot, states: subject.states, now: now)
        logger.trace("evaluated", metadata: ["model": "\(subject.model ?? "*")", "run": "\(String(describing: subject.snapshot.run))",
                                             "steps": "\(steps.map { "\($0.type.rawValue):\($0.new.phase)" })"])
        let active = steps.contains { $0.new.phase != .inactive }
        let changed = steps.filter(\.changed)
        guard !changed.isEmpty else {
            firing += steps.compactMap(\.active)
            return active
        }
        let swaps = changed.map { (type: $0.type, old: subject.stored[$0.type] ?? "", new: $0.new.encoded) }
        let announced = changed.compactMap(\.announcedRun).max()
        guard try store.swap(subject.model, swaps, announcedRun: announced, on: redis) else { return nil }
        firing += steps.compactMap(\.active)
        for step in changed { announce(step.transitions) }
        return active
    }

    /// Counts, logs (pending) and delivers transitions this process won.
    private func announce(_ transitions: [AlertTransition]) {
        for t in transitions {
            telemetry.update { $0.evaluation.transitions += 1 }
            if t.kind == .pending {
                logger.info("\(t.message)", metadata: ["fingerprint": "\(t.fingerprint)"])
                continue
            }
            if t.kind != .held { telemetry.update { $0.evaluation.lastAlert = "\(t.state) \(t.type.rawValue) \(t.modelField)" } }
            for sink in sinks { sink.deliver(t) }
        }
    }
}
