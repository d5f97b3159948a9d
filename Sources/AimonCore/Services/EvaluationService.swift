import Dispatch
import Logging
import Synchronization

/// The rule engine on its own thread, with its own Redis connection and its own timer, in the
/// manner of a Prometheus rule group: every model is evaluated at slotted times (`offset + k *
/// evaluate_interval`), and slots that pass without an evaluation (Redis down, an evaluation longer
/// than the interval) are counted as missed. Between slots, the models that committed batches
/// touched (the mailbox) are evaluated at once, at most once per `min_gap`, and never more often
/// than `pace` times what the last such evaluation took (many models under steady load). Touched
/// models whose batches carried failures go first, on their own pace: a thousand healthy models
/// read after every batch do not hold back the one that is failing.
///
/// A long catch-up batch in ingest never delays the timer, and a quiet log never needs ingest to
/// reconnect for evaluation: each loop owns its connection.
public final class EvaluationService: Service, @unchecked Sendable {
    public let name = "evaluation"
    public let mailbox: EvaluationMailbox
    private let rules: any RuleEvaluating
    private var interval: Double
    private var minGap: Double
    private let slotOffset: Double
    private let clock: @Sendable () -> Double
    private let logger: Logger
    private let telemetry: Telemetry
    private let stopSignal: StopSignal
    private let pending = Mutex<(config: AlertsConfig, sinks: [any AlertSink], applied: DispatchSemaphore)?>(nil)
    private var repeats = RepeatLimiter()
    private var backoff = Backoff(base: 0.2, cap: 10)
    private var retryAt = -Double.infinity
    private var failureSaid = false
    private let stall: Bool

    /// `slotKey` places this process's slots within the interval (the host id: hosts sharing a Redis
    /// do not all evaluate at the same instant); `slotOffset` (a fraction of the interval) instead.
    public init(rules: any RuleEvaluating, config: AlertsConfig, slotKey: String, slotOffset: Double? = nil, mailbox: EvaluationMailbox = EvaluationMailbox(),
                telemetry: Telemetry, logger: Logger, clock: @escaping @Sendable () -> Double = { wallClock() }) {
        self.rules = rules
        self.interval = config.evaluateInterval
        self.minGap = config.minGap
        self.slotOffset = slotOffset ?? Double(Self.hash(slotKey) % 1000) / 1000
        self.mailbox = mailbox
        self.telemetry = telemetry
        self.logger = logger
        self.clock = clock
        self.stopSignal = StopSignal(waker: mailbox.waker)
        self.stall = FaultInjection.stalls("evaluation")
    }

    public func stop() { stopSignal.stop() }

    /// Reload: new rules, thresholds, timer and sinks, taken between two evaluations; what is due
    /// stays due. Waits up to `wait` seconds for the loop to take them; false if it did not yet.
    @discardableResult
    public func update(config: AlertsConfig, sinks: [any AlertSink], wait: Double = 0) -> Bool {
        let applied = DispatchSemaphore(value: 0)
        pending.withLock { $0 = (config, sinks, applied) }
        mailbox.waker.wake()
        return applied.wait(timeout: .now() + wait) == .success
    }

    /// The first slot at or after `time`.
    func slot(atOrAfter time: Double) -> Double {
        let offset = slotOffset * interval
        return ((time - offset) / interval).rounded(.up) * interval + offset
    }

    public func run() throws {
        while !stopSignal.isStopped {
            let wake = tick()
            if stall, telemetry.figures.evaluation.evaluations > 0 { _ = stopSignal.sleep(1e6) }
            // At least once an idle wait: the beat the watchdog looks for.
            mailbox.waker.wait(timeout: min(telemetry.idleWait, max(0.001, wake - clock())))
        }
        // Its last step: what the last batches touched (ingest stopped first, and committed them).
        let post = mailbox.take()
        if !post.isEmpty { rules.note(post) }
        if rules.hasTouched { _ = step({ () throws(RedisError) in try rules.evaluateTouched(now: clock()) }) }
    }

    /// The first evaluation at once (alerts resolve or fire promptly after a start), then on slots.
    private var nextSlot = -Double.infinity
    private var lastTouched = -Double.infinity
    /// Seconds the last evaluation of touched models took (the injected clock's).
    private var touchedCost = 0.0
    /// The same for the urgent ones alone.
    private var lastUrgent = -Double.infinity
    private var urgentCost = 0.0

    /// An evaluation of touched models takes at most 1 / `pace` of this thread: the next one waits
    /// `pace` times what the last one took when that is longer than `min_gap`. A few models cost
    /// well under a millisecond (min_gap rules); a thousand models touched by every batch would
    /// otherwise be read from Redis after every batch.
    static let pace = 4.0
    /// (Never beyond the timer's interval: a wall clock stepped forward mid-evaluation is no cost.)
    private var touchedGap: Double { max(minGap, min(interval, Self.pace * touchedCost)) }
    private var urgentGap: Double { max(minGap, min(interval, Self.pace * urgentCost)) }

    /// One turn of the loop: takes a reload and the mailbox, evaluates what is due; returns when
    /// the next turn is due (the mailbox wakes it sooner).
    func tick() -> Double {
        let now = clock()
        telemetry.beat(name)
        applyUpdate()
        let post = mailbox.take()
        if !post.isEmpty { rules.note(post) }
        if !nextSlot.isFinite { nextSlot = now }
        if now >= retryAt {
            if now >= nextSlot {
                if step({ () throws(RedisError) in try rules.evaluateAll(now: now, between: urgentBetween) }) {
                    // Whole slots that passed since the one due: missed.
                    let missed = Int64(((now - nextSlot) / interval).rounded(.down))
                    if missed > 0 { telemetry.update { $0.evaluation.missed += missed } }
                    nextSlot = slot(atOrAfter: now)
                    if nextSlot <= now { nextSlot += interval }
                    lastTouched = now
                }
            } else if rules.hasTouched, now - lastTouched >= touchedGap {
                if step({ () throws(RedisError) in try rules.evaluateTouched(now: now) }) {
                    lastTouched = now
                    touchedCost = max(0, clock() - now)
                }
            } else if rules.hasUrgent, now - lastUrgent >= urgentGap {
                if step({ () throws(RedisError) in try rules.evaluateUrgent(now: now) }) {
                    lastUrgent = now
                    urgentCost = max(0, clock() - now)
                }
            }
        }
        var wake = nextSlot
        if rules.hasTouched { wake = min(wake, lastTouched + touchedGap) }
        if rules.hasUrgent { wake = min(wake, lastUrgent + urgentGap) }
        return max(wake, retryAt)
    }

    /// Between the parts of a long pass over every model: urgent models posted meanwhile are
    /// evaluated (at most once per `min_gap`), not held until the pass ends.
    private func urgentBetween() throws(RedisError) {
        telemetry.beat(name)
        let post = mailbox.take()
        if !post.isEmpty { rules.note(post) }
        let now = clock()
        guard rules.hasUrgent, now - lastUrgent >= minGap else { return }
        try rules.evaluateUrgent(now: now)
        lastUrgent = now
    }

    /// One evaluation; false when it failed (retried after a backoff, on a new connection if needed).
    private func step(_ body: () throws(RedisError) -> Void) -> Bool {
        let started = monotonicSeconds()
        do {
            try rules.connect()
            try body()
            telemetry.update { f in
                f.evaluation.redisConnected = true
                f.stages.evaluate += monotonicSeconds() - started
            }
            if failureSaid { logger.notice("alert rules are evaluated again") }
            failureSaid = false
            repeats.clear("evaluate")
            backoff.reset()
            retryAt = -.infinity
            return true
        } catch {
            if error.needsNewConnection { rules.disconnect() }
            telemetry.update { f in
                f.evaluation.failures += 1
                f.evaluation.redisConnected = rules.isConnected
            }
            // Redis down for ingest too (the same server): ingest says so, once is enough.
            let ingestSaysIt = (error.kind == .connection || error.kind == .authentication) && !telemetry.figures.ingest.redisConnected
            if !ingestSaysIt, let again = repeats.check("evaluate", now: clock()) {
                logger.error("cannot evaluate alert rules: \(error); retrying\(again)")
                failureSaid = true
            }
            retryAt = clock() + backoff.next()
            return false
        }
    }

    private func applyUpdate() {
        guard let (config, sinks, applied) = pending.withLock({ p in defer { p = nil }; return p }) else { return }
        rules.update(config: config, sinks: sinks)
        if config.evaluateInterval != interval {
            interval = config.evaluateInterval
            // A shorter interval does not wait for the old one's slot.
            if nextSlot.isFinite { nextSlot = min(nextSlot, slot(atOrAfter: clock())) }
        }
        minGap = config.minGap
        applied.signal()
    }

    /// FNV-1a: a stable spread of slot offsets (Swift's `hashValue` changes from run to run).
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
