/// The alert rules as a pure function of (window snapshot, alert state, time): DESIGN.md's state
/// machine. No I/O and no clock inside: `AlertEvaluator` reads snapshots and states from Redis, calls
/// `evaluate`, and stores and announces what changed.
public struct RuleEngine: Equatable, Sendable {
    public var rules: [AlertRule]

    public init(rules: [AlertRule]) {
        self.rules = rules.sorted { $0.type < $1.type }
    }

    /// The seed's five rules with aimon's defaults.
    public static var defaults: RuleEngine { RuleEngine(rules: AlertType.windowTypes.map(AlertRule.init)) }

    /// What one rule did to one subject in one evaluation.
    public struct Step: Equatable, Sendable {
        public var type: AlertType
        public var old: AlertState
        public var new: AlertState
        public var transitions: [AlertTransition]
        /// The run number this step announced (consecutive failures): no process announces it again.
        public var announcedRun: Int64?
        /// Whether there is anything to store or announce (a peak can fire and resolve in one step).
        public var changed: Bool { old != new || !transitions.isEmpty || announcedRun != nil }
        /// While the new state fires: the alert as it stands (kind `.firing`, its episode's start and
        /// fingerprint), for sinks that re-send active alerts (Alertmanager).
        public var active: AlertTransition?
    }

    /// The rules that apply to a subject: per-model rules for a model, all-models rules for nil.
    public func rules(for model: String?) -> [AlertRule] {
        // A (model, deployment) pair: the per-model rules that can look at deployments; those not
        // asked to (any more: a reload) are off, so a pair's open episode resolves, not hangs.
        if let model, Deployment.isPair(model) {
            return rules.filter { $0.scope == .model && ($0.type == .consecutiveFailures || $0.type == .lowSuccessRate) }.map { r in
                var r = r
                if !r.deployments { r.enabled = false; r.overrides = [:] }
                return r
            }
        }
        return rules.filter { ($0.scope == .model) == (model != nil) }
    }

    /// Evaluates every rule of `model` (nil: all models) at `now`. `states` holds the current state per
    /// type (missing: inactive). Returns one step per rule, in rule order (consecutive failures first).
    public func evaluate(model: String?, snapshot: WindowSnapshot, states: [AlertType: AlertState], now: Double) -> [Step] {
        var steps: [Step] = []
        var outage = false
        for base in rules(for: model) {
            // A pair takes its model's overrides.
            let rule = base.applying(to: model.map { Deployment.split($0)?.model ?? $0 })
            let old = states[rule.type] ?? .inactive
            var step = Step(type: rule.type, old: old, new: old, transitions: [], announcedRun: nil)
            let hold = outage && rule.type.heldDuringOutage
            let observation = snapshot.observe(rule, now: now)
            Self.advance(&step, rule: rule, model: model, observation: observation, hold: hold, now: now)
            if step.new.phase == .firing {
                let s = step.new
                step.active = AlertTransition(kind: .firing, type: rule.type, model: model, severity: rule.severity, value: s.value,
                                              threshold: rule.threshold, window: rule.window, sample: observation.sample,
                                              fingerprint: s.fingerprint, episodeStart: s.since, at: now, notifyCount: s.notifyCount)
            }
            if rule.type == .consecutiveFailures { outage = step.new.phase == .firing }
            steps.append(step)
        }
        return steps
    }

    static func advance(_ step: inout Step, rule: AlertRule, model: String?, observation o: Observation, hold: Bool, now: Double) {
        var s = step.old
        func emit(_ kind: AlertTransition.Kind, _ value: Double?) {
            step.transitions.append(AlertTransition(
                kind: kind, type: rule.type, model: model, severity: rule.severity, value: value,
                threshold: rule.threshold, window: rule.window, sample: o.sample, fingerprint: s.fingerprint,
                episodeStart: s.since, at: now, notifyCount: s.notifyCount))
        }
        func fire(_ value: Double) {
            s.since = now
            s.clearSince = nil
            s.value = value
            s.fingerprint = AlertFingerprint.make(type: rule.type, model: model, start: now)
            if hold {
                s.phase = .held
                s.lastNotified = now
                s.notifyCount = 0
                emit(.held, value)
            } else {
                s.phase = .firing
                s.lastNotified = now
                s.notifyCount = 1
                emit(.firing, value)
            }
        }
        func resolve() {
            emit(.resolved, o.value)
            s = .inactive
        }
        /// A firing alert whose value is back inside the clear threshold.
        func clearing() {
            if rule.keepFiringFor <= 0 { return resolve() }
            if let since = s.clearSince {
                if now - since >= rule.keepFiringFor { resolve() }
            } else {
                s.clearSince = now
            }
        }

        guard rule.enabled else {
            // A rule disabled (by a reload) ends its episode rather than leaving it open forever.
            if s.phase == .firing { resolve() } else { s = .inactive }
            step.new = s
            return
        }
        let breachNow = o.value.map { rule.breaches($0, rule.threshold) } ?? false
        let peak = o.peak.flatMap { rule.breaches($0, rule.threshold) ? $0 : nil } ?? (breachNow ? o.value : nil)
        let stillBad = o.value.map { rule.breaches($0, rule.clearThreshold ?? rule.threshold) } ?? false

        switch s.phase {
        case .inactive:
            guard let peak else { break }
            if rule.forDuration > 0 {
                // A peak that is already over cannot have held for `for`.
                guard breachNow, let v = o.value else { break }
                s.phase = .pending
                s.since = now
                s.value = v
                emit(.pending, v)
            } else {
                fire(peak)
                step.announcedRun = breachNow ? o.runID : o.peakRunID
                // Began and ended since the last look (e.g. a run of failures closed by a success).
                if s.phase == .firing, !stillBad { clearing() }
                else if s.phase == .held, !breachNow { s = .inactive }
            }
        case .pending:
            if !breachNow { s = .inactive }
            else if now - s.since >= rule.forDuration, let v = o.value { fire(v); step.announcedRun = o.runID }
        case .held:
            if !breachNow { s = .inactive }
            else if !hold, let v = o.value { fire(v); step.announcedRun = o.runID }
        case .firing:
            if stillBad || peak != nil {
                // Runs past the threshold while the alert fires (still going, or already over) belong
                // to this episode: no process announces them again.
                let ids = [breachNow ? o.runID : nil, peak != nil ? o.peakRunID : nil].compactMap { $0 }
                if let id = ids.max(), id > o.announcedRun ?? 0 { step.announcedRun = id }
                // The state changes (and is written) only on transitions: the value is the one announced.
                s.clearSince = nil
                if let every = rule.repeatInterval, every > 0, now - s.lastNotified >= every {
                    s.lastNotified = now
                    s.notifyCount += 1
                    if let v = o.value { s.value = v }
                    emit(.reminder, o.value)
                }
            } else {
                clearing()
            }
        }
        step.new = s
    }
}

/// Names one alert episode: a stable hex id from (type, model, start).
public enum AlertFingerprint {
    public static func make(type: AlertType, model: String?, start: Double) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        // "m" + a model, "*" for all models: no model name can give the all-models text.
        for b in "\(type.rawValue)\u{0}\(model.map { "m" + $0 } ?? "*")\u{0}\(Int64(clamping: (start * 1000).rounded()))".utf8 {
            h = (h ^ UInt64(b)) &* 0x100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
