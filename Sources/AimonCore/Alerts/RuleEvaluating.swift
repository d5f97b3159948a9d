import Logging

/// What the evaluation loop drives: the rule engine over one Redis connection it owns. A protocol so
/// the loop's unit tests step ticks, failures and reconnects against a fake.
public protocol RuleEvaluating: AnyObject {
    var isConnected: Bool { get }
    /// Connects if not connected (one try).
    func connect() throws(RedisError)
    func disconnect()
    func note(_ post: EvaluationMailbox.Post)
    var hasTouched: Bool { get }
    /// Touched models whose batches carried failures (`EvaluationMailbox.Post.urgent`) wait.
    var hasUrgent: Bool { get }
    /// Every model; `between` runs between parts of a long pass (urgent evaluations go there).
    func evaluateAll(now: Double, between: () throws(RedisError) -> Void) throws(RedisError)
    func evaluateTouched(now: Double) throws(RedisError)
    /// Only the urgent touched models (the others stay due).
    func evaluateUrgent(now: Double) throws(RedisError)
    /// Reload: new rules, thresholds and sinks (the same Redis).
    func update(config: AlertsConfig, sinks: [any AlertSink])
}

/// `RuleEvaluating` on a real Redis: an `AlertEvaluator` and its own connection.
public final class RedisRuleEvaluator: RuleEvaluating {
    private let settings: Config.Redis
    private let evaluator: AlertEvaluator
    private var redis: RedisConnection?

    public init(config: Config, sinks: [any AlertSink], logger: Logger, telemetry: Telemetry) {
        settings = config.redis
        evaluator = AlertEvaluator(config: config.alerts, keys: config.keys, retention: config.retention, sinks: sinks,
                                   logger: logger, telemetry: telemetry)
    }

    public var isConnected: Bool { redis != nil }

    public func connect() throws(RedisError) {
        if redis == nil { redis = try settings.connect() }
    }

    public func disconnect() { redis = nil }

    public func note(_ post: EvaluationMailbox.Post) {
        for (model, runs) in post.runs {
            for r in runs { evaluator.noteBatch([model: r], touched: []) }
        }
        evaluator.noteBatch([:], touched: post.touched, urgent: post.urgent)
    }

    public var hasTouched: Bool { evaluator.hasTouched }
    public var hasUrgent: Bool { evaluator.hasUrgent }

    public func evaluateAll(now: Double, between: () throws(RedisError) -> Void) throws(RedisError) {
        try connect()
        try evaluator.evaluateAll(on: redis!, now: now, between: between)
    }

    public func evaluateTouched(now: Double) throws(RedisError) {
        try connect()
        try evaluator.evaluateTouched(on: redis!, now: now)
    }

    public func evaluateUrgent(now: Double) throws(RedisError) {
        try connect()
        try evaluator.evaluateUrgent(on: redis!, now: now)
    }

    public func update(config: AlertsConfig, sinks: [any AlertSink]) { evaluator.update(config: config, sinks: sinks) }
}
