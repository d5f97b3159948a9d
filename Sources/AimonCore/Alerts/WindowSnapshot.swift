/// What the rules see of one subject (a model, or all models) at one moment: minute buckets back to
/// the longest rule window, and the model's run of failures. Pure data, built by `SnapshotReader`.
public struct WindowSnapshot: Equatable, Sendable {
    /// The figures of one minute bucket that rules use.
    public struct Minute: Equatable, Sendable {
        public var calls: Int64 = 0
        public var successes: Int64 = 0
        public var failures: Int64 = 0
        public var latencyCount: Int64 = 0
        public var latencySumMicros: Int64 = 0
        public init(calls: Int64 = 0, successes: Int64 = 0, failures: Int64 = 0, latencyCount: Int64 = 0, latencySumMicros: Int64 = 0) {
            self.calls = calls
            self.successes = successes
            self.failures = failures
            self.latencyCount = latencyCount
            self.latencySumMicros = latencySumMicros
        }

        mutating func merge(_ o: Minute) {
            calls += o.calls; successes += o.successes; failures += o.failures
            latencyCount += o.latencyCount; latencySumMicros += o.latencySumMicros
        }
    }

    /// The model's failures in a row.
    public struct Run: Equatable, Sendable {
        /// The run now.
        public var current: Int64
        /// The longest run reached since the last evaluation (a run can begin and end in one batch).
        public var peak: Int64
        /// Event time of the run's latest failure (seconds since the epoch); nil if unknown.
        public var lastFailure: Double?
        public init(current: Int64, peak: Int64? = nil, lastFailure: Double?) {
            self.current = current
            self.peak = max(peak ?? current, current)
            self.lastFailure = lastFailure
        }
    }

    /// Minute buckets, oldest first; the last one is the current (partial) minute.
    public var minutes: [Minute]
    public var run: Run?

    public init(minutes: [Minute], run: Run? = nil) {
        self.minutes = minutes
        self.run = run
    }

    /// The sum of the trailing minute buckets that cover `window` seconds.
    public func sum(window: Double) -> Minute {
        let n = Self.bucketCount(window)
        var total = Minute()
        for m in minutes.suffix(n) { total.merge(m) }
        return total
    }

    public static func bucketCount(_ window: Double) -> Int { max(1, Int((window / 60).rounded(.up))) }

    /// What `rule` measures now, and the worst it reached since the last evaluation.
    public func observe(_ rule: AlertRule, now: Double) -> Observation {
        switch rule.type {
        case .consecutiveFailures:
            // A run whose last failure is older than the window is history, not news.
            guard let run, let last = run.lastFailure, last >= now - rule.window else {
                return Observation(value: nil, peak: nil, sample: 0)
            }
            return Observation(value: Double(run.current), peak: Double(run.peak), sample: run.peak)
        case .highHourlyFailures:
            let s = sum(window: rule.window)
            return Observation(value: Double(s.failures), peak: nil, sample: s.calls)
        case .lowSuccessRate, .highErrorRate:
            let s = sum(window: rule.window)
            guard s.calls > 0, s.calls >= rule.minRequests else { return Observation(value: nil, peak: nil, sample: s.calls) }
            let good = rule.type == .lowSuccessRate ? s.successes : s.failures
            return Observation(value: Double(good) / Double(s.calls), peak: nil, sample: s.calls)
        case .slowResponse:
            let s = sum(window: rule.window)
            guard s.latencyCount > 0, s.latencyCount >= rule.minRequests else {
                return Observation(value: nil, peak: nil, sample: s.latencyCount)
            }
            return Observation(value: Double(s.latencySumMicros) / Double(s.latencyCount) / 1e6, peak: nil, sample: s.latencyCount)
        }
    }
}

/// One rule's measure of one subject.
public struct Observation: Equatable, Sendable {
    /// The value now; nil when there is not enough data to judge (below `min_requests`, no traffic).
    public var value: Double?
    /// The worst value since the last evaluation, when it can differ from `value` (runs of failures).
    public var peak: Double?
    /// The calls the value rests on.
    public var sample: Int64

    public init(value: Double?, peak: Double?, sample: Int64) {
        self.value = value
        self.peak = peak
        self.sample = sample
    }
}
