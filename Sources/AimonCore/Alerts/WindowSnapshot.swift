/// What the rules see of one subject (a model, or all models) at one moment: minute buckets back to
/// the longest rule window, and the model's run of failures. Pure data, read by `AlertStore`.
public struct WindowSnapshot: Equatable, Sendable {
    /// The figures of one minute bucket that rules use.
    public struct Minute: Equatable, Sendable {
        public var calls: Int64 = 0
        public var successes: Int64 = 0
        public var failures: Int64 = 0
        public var latencyCount: Int64 = 0
        public var latencySumMicros: Int64 = 0
        /// Streamed calls' time to first token: count, sum, and histogram (latency buckets; empty
        /// when no rule reads it).
        public var ttftCount: Int64 = 0
        public var ttftSumMicros: Int64 = 0
        public var ttftHistogram: [Int64] = []
        public init(calls: Int64 = 0, successes: Int64 = 0, failures: Int64 = 0, latencyCount: Int64 = 0, latencySumMicros: Int64 = 0,
                    ttftCount: Int64 = 0, ttftSumMicros: Int64 = 0, ttftHistogram: [Int64] = []) {
            self.calls = calls
            self.successes = successes
            self.failures = failures
            self.latencyCount = latencyCount
            self.latencySumMicros = latencySumMicros
            self.ttftCount = ttftCount
            self.ttftSumMicros = ttftSumMicros
            self.ttftHistogram = ttftHistogram
        }

        /// Sums saturate: minutes are read back from Redis.
        mutating func merge(_ o: Minute) {
            calls = calls.addingSaturated(o.calls)
            successes = successes.addingSaturated(o.successes)
            failures = failures.addingSaturated(o.failures)
            latencyCount = latencyCount.addingSaturated(o.latencyCount)
            latencySumMicros = latencySumMicros.addingSaturated(o.latencySumMicros)
            ttftCount = ttftCount.addingSaturated(o.ttftCount)
            ttftSumMicros = ttftSumMicros.addingSaturated(o.ttftSumMicros)
            if !o.ttftHistogram.isEmpty {
                if ttftHistogram.isEmpty { ttftHistogram = o.ttftHistogram } else {
                    for i in ttftHistogram.indices where i < o.ttftHistogram.count { ttftHistogram[i] = ttftHistogram[i].addingSaturated(o.ttftHistogram[i]) }
                }
            }
        }
    }

    /// The model's failures in a row. Runs are numbered: every success ends the run in progress
    /// (`ended` counts them in Redis), so the run in progress is number `ended + 1`, and a run that one
    /// process saw end can be told apart from one another process already announced.
    public struct Run: Equatable, Sendable {
        /// A run that ended in a batch this process committed: its length and number.
        public struct Ended: Equatable, Sendable {
            public var length: Int64
            public var id: Int64
            public init(length: Int64, id: Int64) { self.length = length; self.id = id }
        }

        /// The run in progress: its length and number.
        public var current: Int64
        public var id: Int64
        /// Event time of the latest failure (seconds since the epoch); nil if unknown.
        public var lastFailure: Double?
        /// The highest run number a consecutive-failure alert has announced.
        public var announced: Int64
        /// Runs that ended in this process's batches since the last evaluation.
        public var ended: [Ended]
        /// The longest run that began and ended inside one of those batches (seen by no one else).
        public var inside: Int64

        public init(current: Int64, id: Int64 = 1, lastFailure: Double?, announced: Int64 = 0, ended: [Ended] = [], inside: Int64 = 0) {
            self.current = current
            self.id = id
            self.lastFailure = lastFailure
            self.announced = announced
            self.ended = ended
            self.inside = inside
        }

        /// The longest run not yet announced that is over: (length, number; nil for an inside run).
        public var peak: (length: Int64, id: Int64?) {
            var best: (length: Int64, id: Int64?) = (inside, nil)
            for e in ended where e.id > announced && e.length > best.length { best = (e.length, e.id) }
            return best
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
            let peak = run.peak
            return Observation(value: Double(run.current), peak: Double(max(peak.length, run.current)), sample: max(peak.length, run.current),
                               runID: run.id, peakRunID: peak.length > run.current ? peak.id : run.id, announcedRun: run.announced)
        case .highHourlyFailures:
            let s = sum(window: rule.window)
            return Observation(value: Double(s.failures), peak: nil, sample: s.calls)
        case .lowSuccessRate, .highErrorRate:
            // Over the judged calls: failures the source does not count (client errors) are left out.
            let s = sum(window: rule.window)
            let r = BucketCounts.rates(successes: s.successes, failures: s.failures)
            guard r.judged >= rule.minRequests else { return Observation(value: nil, peak: nil, sample: r.judged) }
            return Observation(value: rule.type == .lowSuccessRate ? r.success : r.error, peak: nil, sample: r.judged)
        case .slowResponse:
            let s = sum(window: rule.window)
            guard s.latencyCount > 0, s.latencyCount >= rule.minRequests else {
                return Observation(value: nil, peak: nil, sample: s.latencyCount)
            }
            return Observation(value: Double(s.latencySumMicros) / Double(s.latencyCount) / 1e6, peak: nil, sample: s.latencyCount)
        case .slowFirstToken:
            // Over the streamed calls only: a call without a first-token time says nothing of it.
            let s = sum(window: rule.window)
            guard s.ttftCount > 0, s.ttftCount >= rule.minRequests else { return Observation(value: nil, peak: nil, sample: s.ttftCount) }
            let value = rule.statistic == .avg ? Double(s.ttftSumMicros) / Double(s.ttftCount) / 1e6
                : LatencyBuckets.quantile(0.95, of: s.ttftHistogram)
            return Observation(value: value, peak: nil, sample: s.ttftCount)
        case .spend:
            // Not a window rule: SpendWatcher measures it over calendar periods.
            return Observation(value: nil, peak: nil, sample: 0)
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
    /// For runs of failures: the number of the run in progress, and of the run the peak comes from
    /// (nil when it began and ended inside one batch).
    public var runID: Int64?
    public var peakRunID: Int64?
    /// The highest run number already announced.
    public var announcedRun: Int64?

    public init(value: Double?, peak: Double?, sample: Int64, runID: Int64? = nil, peakRunID: Int64? = nil, announcedRun: Int64? = nil) {
        self.value = value
        self.peak = peak
        self.sample = sample
        self.runID = runID
        self.peakRunID = peakRunID
        self.announcedRun = announcedRun
    }
}
