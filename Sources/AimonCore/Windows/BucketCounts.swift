/// What one time bucket of one model holds: counts, sums and a latency histogram.
///
/// Stored in Redis as one hash per bucket (field names in `Field`); every field is an integer, so
/// deltas add exactly with HINCRBY and any number of writers agree.
public struct BucketCounts: Equatable, Sendable {
    public var calls: Int64 = 0
    public var successes: Int64 = 0
    /// Failures of the classes the source counts (`FailurePolicy`): the failures of every rule.
    public var failures: Int64 = 0
    /// Failed calls by class, counted or not: client errors, rate limited, provider errors.
    public var clientErrors: Int64 = 0
    public var rateLimited: Int64 = 0
    public var providerErrors: Int64 = 0
    /// Calls that carried a latency; the one denominator of every average.
    public var latencyCount: Int64 = 0
    public var latencySumMicros: Int64 = 0
    public var inputSum: Int64 = 0
    public var outputSum: Int64 = 0
    /// Status classes: index 0 = no status, 1...5 = 1xx...5xx, 6 = anything else.
    public var statusClasses = [Int64](repeating: 0, count: 7)
    /// Latency histogram, one count per `LatencyBuckets.bounds` entry plus an overflow bucket.
    public var histogram = [Int64](repeating: 0, count: LatencyBuckets.bounds.count + 1)

    public init() {}

    /// The calls the rates judge: successes and counted failures (client errors, by default, are
    /// neither: they say nothing of the model).
    public var judged: Int64 { Self.rates(successes: successes, failures: failures).judged }
    /// Every call that did not succeed, counted or not (the seed's failed_calls).
    public var failedCalls: Int64 { calls.subtractingSaturated(successes) }

    // The average latency is over the calls that carried one.
    public var successRate: Double? { Self.rates(successes: successes, failures: failures).success }
    public var errorRate: Double? { Self.rates(successes: successes, failures: failures).error }

    /// The one definition of the rates, shared by every report and rule (`WindowSnapshot` too): over
    /// the judged calls, successes plus counted failures; nil when there are none, never 0% or 100%.
    public static func rates(successes: Int64, failures: Int64) -> (judged: Int64, success: Double?, error: Double?) {
        let judged = successes.addingSaturated(failures)
        guard judged > 0 else { return (0, nil, nil) }
        return (judged, Double(successes) / Double(judged), Double(failures) / Double(judged))
    }
    public var avgResponseTime: Double? { latencyCount > 0 ? Double(latencySumMicros) / Double(latencyCount) / 1e6 : nil }

    /// Failed calls by class, counted or not (JSON `failure_classes`).
    public var failureClassesJSON: JSONValue {
        .object([("client_error", .int(clientErrors)), ("rate_limited", .int(rateLimited)), ("provider_error", .int(providerErrors))])
    }

    /// Adds one record. The call counters cannot overflow (one per record). The sums can, in theory,
    /// if a writer pushes them to the edge: they saturate instead of trapping (Docs/design.md).
    public mutating func add(_ call: APICall, policy: FailurePolicy = .default) {
        calls += 1
        switch call.outcome {
        case .success: successes += 1
        case .clientError: clientErrors += 1
        case .rateLimited: rateLimited += 1
        case .providerError: providerErrors += 1
        }
        if policy.counts(call.outcome) { failures += 1 }
        if let t = call.responseTime {
            latencyCount += 1
            latencySumMicros = latencySumMicros.addingSaturated(Int64(clamping: (t * 1_000_000).rounded()))
            histogram[LatencyBuckets.index(of: t)] += 1
        }
        inputSum = inputSum.addingSaturated(Int64(call.inputLength))
        outputSum = outputSum.addingSaturated(Int64(call.outputLength))
        statusClasses[Self.statusClass(call.statusCode)] += 1
    }

    /// Adds another bucket's figures; each sum saturates (buckets read back from Redis may hold anything).
    public mutating func merge(_ other: BucketCounts) {
        calls = calls.addingSaturated(other.calls)
        successes = successes.addingSaturated(other.successes)
        failures = failures.addingSaturated(other.failures)
        clientErrors = clientErrors.addingSaturated(other.clientErrors)
        rateLimited = rateLimited.addingSaturated(other.rateLimited)
        providerErrors = providerErrors.addingSaturated(other.providerErrors)
        latencyCount = latencyCount.addingSaturated(other.latencyCount)
        latencySumMicros = latencySumMicros.addingSaturated(other.latencySumMicros)
        inputSum = inputSum.addingSaturated(other.inputSum)
        outputSum = outputSum.addingSaturated(other.outputSum)
        for i in statusClasses.indices { statusClasses[i] = statusClasses[i].addingSaturated(other.statusClasses[i]) }
        for i in histogram.indices { histogram[i] = histogram[i].addingSaturated(other.histogram[i]) }
    }

    /// Takes away counts that are part of these (an hour's minutes outside a window): never below 0.
    public mutating func subtract(_ other: BucketCounts) {
        func less(_ a: Int64, _ b: Int64) -> Int64 { max(0, a.subtractingSaturated(b)) }
        calls = less(calls, other.calls)
        successes = less(successes, other.successes)
        failures = less(failures, other.failures)
        clientErrors = less(clientErrors, other.clientErrors)
        rateLimited = less(rateLimited, other.rateLimited)
        providerErrors = less(providerErrors, other.providerErrors)
        latencyCount = less(latencyCount, other.latencyCount)
        latencySumMicros = less(latencySumMicros, other.latencySumMicros)
        inputSum = less(inputSum, other.inputSum)
        outputSum = less(outputSum, other.outputSum)
        for i in statusClasses.indices { statusClasses[i] = less(statusClasses[i], other.statusClasses[i]) }
        for i in histogram.indices { histogram[i] = less(histogram[i], other.histogram[i]) }
    }

    static func statusClass(_ code: Int?) -> Int {
        guard let code else { return 0 }
        let c = code / 100
        return (1...5).contains(c) ? c : 6
    }

    // MARK: - Hash fields

    /// The Redis hash field names, in a fixed order; `fields` and `init(fields:)` round-trip.
    public static let fieldNames: [String] = {
        var names = ["calls", "ok", "fail", "lat_n", "lat_us", "in", "out"]
        names += ["s0", "s1", "s2", "s3", "s4", "s5", "sx"]
        names += (0...LatencyBuckets.bounds.count).map { "h\($0)" }
        names += ["cli", "rl", "prov"]
        return names
    }()

    /// Field values in `fieldNames` order.
    public var fieldValues: [Int64] {
        [calls, successes, failures, latencyCount, latencySumMicros, inputSum, outputSum]
            + statusClasses + histogram + [clientErrors, rateLimited, providerErrors]
    }

    /// Rebuilds counts from values in `fieldNames` order (an HMGET of `fieldNames`); missing ones are 0.
    public init(values: [Int64?]) {
        self.init()
        func v(_ i: Int) -> Int64 { i < values.count ? values[i] ?? 0 : 0 }
        calls = v(0); successes = v(1); failures = v(2); latencyCount = v(3); latencySumMicros = v(4)
        inputSum = v(5); outputSum = v(6)
        for i in statusClasses.indices { statusClasses[i] = v(7 + i) }
        for i in histogram.indices { histogram[i] = v(7 + statusClasses.count + i) }
        let c = 7 + statusClasses.count + histogram.count
        clientErrors = v(c); rateLimited = v(c + 1); providerErrors = v(c + 2)
    }

    /// Rebuilds counts from an HGETALL reply (name, value, name, value...); unknown fields are
    /// ignored. Names are matched as bytes: reports read thousands of buckets.
    public init(hash items: [RedisReply]) {
        var values = [Int64?](repeating: nil, count: Self.fieldNames.count)
        var i = 0
        while i + 1 < items.count {
            if case let .string(name) = items[i], let index = Self.fieldIndex(name) { values[index] = items[i + 1].integer }
            i += 2
        }
        self.init(values: values)
    }

    /// The index in `fieldNames` of a field name, from its bytes.
    static func fieldIndex(_ b: [UInt8]) -> Int? {
        guard let first = b.first else { return nil }
        func digits(_ from: Int) -> Int? {
            guard b.count > from, b.count <= from + 2 else { return nil }
            var v = 0
            for c in b[from...] {
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            return v
        }
        switch first {
        case UInt8(ascii: "h"):
            guard let n = digits(1), n < LatencyBuckets.bounds.count + 1 else { return nil }
            return 14 + n
        case UInt8(ascii: "s"):
            if b == [0x73, 0x78] { return 13 }  // sx
            guard let n = digits(1), n <= 5 else { return nil }
            return 7 + n
        default:
            return Self.otherFields[b]
        }
    }

    private static let otherFields: [[UInt8]: Int] = {
        var out: [[UInt8]: Int] = [:]
        for (i, name) in fieldNames.enumerated() where !name.hasPrefix("h") && !name.hasPrefix("s") { out[Array(name.utf8)] = i }
        return out
    }()

    /// Rebuilds counts from a hash read back from Redis; unknown fields are ignored.
    public init(fields: [String: Int64]) {
        self.init()
        calls = fields["calls"] ?? 0
        successes = fields["ok"] ?? 0
        failures = fields["fail"] ?? 0
        latencyCount = fields["lat_n"] ?? 0
        latencySumMicros = fields["lat_us"] ?? 0
        inputSum = fields["in"] ?? 0
        outputSum = fields["out"] ?? 0
        for i in statusClasses.indices { statusClasses[i] = fields[Self.fieldNames[7 + i]] ?? 0 }
        for i in histogram.indices { histogram[i] = fields["h\(i)"] ?? 0 }
        clientErrors = fields["cli"] ?? 0
        rateLimited = fields["rl"] ?? 0
        providerErrors = fields["prov"] ?? 0
    }
}

/// Fixed latency bucket bounds in seconds: OpenTelemetry's GenAI client operation duration buckets.
public enum LatencyBuckets {
    public static let bounds: [Double] = [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ]

    /// The first bucket whose upper bound is >= `seconds`; `bounds.count` for the overflow bucket.
    @inline(__always) public static func index(of seconds: Double) -> Int {
        var i = 0
        while i < bounds.count && seconds > bounds[i] { i += 1 }
        return i
    }
}

extension LatencyBuckets {
    /// The `q` quantile (0...1) of the latencies counted in `histogram`, estimated by linear
    /// interpolation inside the bucket that holds it: the true value lies in the same bucket, so the
    /// error is at most that bucket's width (the bounds double, so about half the value). In the
    /// overflow bucket the estimate is its lower bound. nil for an empty histogram.
    public static func quantile(_ q: Double, of histogram: [Int64]) -> Double? {
        let total = histogram.reduce(Int64(0)) { $0.addingSaturated($1) }
        guard total > 0 else { return nil }
        let rank = max(1, (q * Double(total)).rounded(.up))
        var seen: Int64 = 0
        for (i, n) in histogram.enumerated() where n > 0 {
            if Double(seen.addingSaturated(n)) >= rank {
                guard i < bounds.count else { return bounds[bounds.count - 1] }
                let lower = i == 0 ? 0 : bounds[i - 1]
                let fraction = (rank - Double(seen)) / Double(n)
                return lower + (bounds[i] - lower) * fraction
            }
            seen = seen.addingSaturated(n)
        }
        return bounds[bounds.count - 1]
    }

    /// The bucket bounds around `seconds`: (lower, upper]; upper is nil for the overflow bucket.
    public static func bucket(of seconds: Double) -> (lower: Double, upper: Double?) {
        let i = index(of: seconds)
        return (i == 0 ? 0 : bounds[i - 1], i < bounds.count ? bounds[i] : nil)
    }
}
