/// What one time bucket of one model holds: counts, sums and histograms of latency and of the time
/// to the first token.
///
/// Stored in Redis as one hash per bucket (field names in `fieldNames`, only the fields that are not
/// 0); every field is an integer, so deltas add exactly with HINCRBY and any number of writers agree.
/// Each optional figure of a call (latency, tokens, cost, TTFT) has its own count of the calls that
/// carried it: an average is over those calls, never over calls that had none.
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
    /// The seed's input_length and output_length, summed.
    public var inputSum: Int64 = 0
    public var outputSum: Int64 = 0
    /// Status classes: index 0 = no status, 1...5 = 1xx...5xx, 6 = anything else.
    public var statusClasses = [Int64](repeating: 0, count: 7)
    /// Latency histogram, one count per `LatencyBuckets.bounds` entry plus an overflow bucket.
    public var histogram = [Int64](repeating: 0, count: LatencyBuckets.bounds.count + 1)
    /// Calls that carried token counts, and their input, output and cached input tokens.
    public var tokenCalls: Int64 = 0
    public var inputTokens: Int64 = 0
    public var outputTokens: Int64 = 0
    public var cachedInputTokens: Int64 = 0
    /// Calls that carried a cost, and its sum in nano-USD (a billionth of a dollar).
    public var costCalls: Int64 = 0
    public var costNanos: Int64 = 0
    /// Calls that carried a time to first token, its sum, and its histogram (the latency buckets).
    public var ttftCount: Int64 = 0
    public var ttftSumMicros: Int64 = 0
    public var ttftHistogram = [Int64](repeating: 0, count: LatencyBuckets.bounds.count + 1)

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
    /// USD over the calls that carried a cost; nil when none did.
    public var cost: Double? { costCalls > 0 ? Double(costNanos) / 1e9 : nil }
    public var avgTTFT: Double? { ttftCount > 0 ? Double(ttftSumMicros) / Double(ttftCount) / 1e6 : nil }

    /// The LLM figures of reports (Docs/reports.md), each `null` when no call in the window carried
    /// it: `tokens` (input, output, cached input, and the calls that had counts), `cost_usd`, and
    /// `ttft` (average, p50, p95 over the calls that had one, and their number).
    public var llmJSON: [(String, JSONValue)] {
        let tokens: JSONValue = tokenCalls == 0 ? .null : .object([
            ("input", .int(inputTokens)), ("output", .int(outputTokens)), ("cached_input", .int(cachedInputTokens)), ("calls", .int(tokenCalls)),
        ])
        let ttft: JSONValue = ttftCount == 0 ? .null : .object([
            ("avg", avgTTFT.map { .number($0, digits: 6) } ?? .null),
            ("p50", LatencyBuckets.quantile(0.5, of: ttftHistogram).map { .number($0, digits: 6) } ?? .null),
            ("p95", LatencyBuckets.quantile(0.95, of: ttftHistogram).map { .number($0, digits: 6) } ?? .null),
            ("calls", .int(ttftCount)),
        ])
        return [("tokens", tokens), ("cost_usd", cost.map { .number($0, digits: 9) } ?? .null), ("ttft", ttft)]
    }

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
        if call.inputTokens != nil || call.outputTokens != nil || call.cachedInputTokens != nil {
            tokenCalls += 1
            inputTokens = inputTokens.addingSaturated(Int64(call.inputTokens ?? 0))
            outputTokens = outputTokens.addingSaturated(Int64(call.outputTokens ?? 0))
            cachedInputTokens = cachedInputTokens.addingSaturated(Int64(call.cachedInputTokens ?? 0))
        }
        if let usd = call.cost {
            costCalls += 1
            costNanos = costNanos.addingSaturated(Self.nanos(usd))
        }
        if let t = call.ttft {
            ttftCount += 1
            ttftSumMicros = ttftSumMicros.addingSaturated(Int64(clamping: (t * 1_000_000).rounded()))
            ttftHistogram[LatencyBuckets.index(of: t)] += 1
        }
    }

    /// USD as whole nano-USD (the stored unit), rounded to the nearest.
    @inline(__always) public static func nanos(_ usd: Double) -> Int64 { Int64(clamping: (usd * 1e9).rounded()) }

    /// Adds another bucket's figures; each sum saturates (buckets read back from Redis may hold anything).
    public mutating func merge(_ other: BucketCounts) {
        for field in Self.layout { self[field.slot] = self[field.slot].addingSaturated(other[field.slot]) }
    }

    /// Takes away counts that are part of these (an hour's minutes outside a window): never below 0.
    public mutating func subtract(_ other: BucketCounts) {
        for field in Self.layout { self[field.slot] = max(0, self[field.slot].subtractingSaturated(other[field.slot])) }
    }

    static func statusClass(_ code: Int?) -> Int {
        guard let code else { return 0 }
        let c = code / 100
        return (1...5).contains(c) ? c : 6
    }

    // MARK: - Hash fields

    /// Where a stored field lives.
    enum Slot: Sendable {
        case scalar(Scalar)
        case status(Int)
        case latency(Int)
        case ttft(Int)
    }

    /// The scalar fields, named. (Not key paths: a key path is read through generic code, and
    /// merging the buckets of a commit spent most of its time there.)
    enum Scalar: Sendable, CaseIterable {
        case calls, successes, failures, latencyCount, latencySumMicros, inputSum, outputSum, clientErrors, rateLimited,
             providerErrors, tokenCalls, inputTokens, outputTokens, cachedInputTokens, costCalls, costNanos, ttftCount, ttftSumMicros
    }

    subscript(slot: Slot) -> Int64 {
        get {
            switch slot {
            case let .scalar(k): return self[k]
            case let .status(i): return statusClasses[i]
            case let .latency(i): return histogram[i]
            case let .ttft(i): return ttftHistogram[i]
            }
        }
        set {
            switch slot {
            case let .scalar(k): self[k] = newValue
            case let .status(i): statusClasses[i] = newValue
            case let .latency(i): histogram[i] = newValue
            case let .ttft(i): ttftHistogram[i] = newValue
            }
        }
    }

    subscript(field: Scalar) -> Int64 {
        @inline(__always) get {
            switch field {
            case .calls: calls
            case .successes: successes
            case .failures: failures
            case .latencyCount: latencyCount
            case .latencySumMicros: latencySumMicros
            case .inputSum: inputSum
            case .outputSum: outputSum
            case .clientErrors: clientErrors
            case .rateLimited: rateLimited
            case .providerErrors: providerErrors
            case .tokenCalls: tokenCalls
            case .inputTokens: inputTokens
            case .outputTokens: outputTokens
            case .cachedInputTokens: cachedInputTokens
            case .costCalls: costCalls
            case .costNanos: costNanos
            case .ttftCount: ttftCount
            case .ttftSumMicros: ttftSumMicros
            }
        }
        @inline(__always) set {
            switch field {
            case .calls: calls = newValue
            case .successes: successes = newValue
            case .failures: failures = newValue
            case .latencyCount: latencyCount = newValue
            case .latencySumMicros: latencySumMicros = newValue
            case .inputSum: inputSum = newValue
            case .outputSum: outputSum = newValue
            case .clientErrors: clientErrors = newValue
            case .rateLimited: rateLimited = newValue
            case .providerErrors: providerErrors = newValue
            case .tokenCalls: tokenCalls = newValue
            case .inputTokens: inputTokens = newValue
            case .outputTokens: outputTokens = newValue
            case .cachedInputTokens: cachedInputTokens = newValue
            case .costCalls: costCalls = newValue
            case .costNanos: costNanos = newValue
            case .ttftCount: ttftCount = newValue
            case .ttftSumMicros: ttftSumMicros = newValue
            }
        }
    }

    /// Every stored field, in a fixed order: its Redis name and its place. Names beginning with `h`
    /// are the latency histogram's and with `s` the status classes' (`fieldIndex` relies on it);
    /// new fields go at the end.
    static let layout: [(name: String, slot: Slot)] = {
        var out: [(String, Slot)] = [("calls", .scalar(.calls)), ("ok", .scalar(.successes)), ("fail", .scalar(.failures)),
                                     ("lat_n", .scalar(.latencyCount)), ("lat_us", .scalar(.latencySumMicros)),
                                     ("in", .scalar(.inputSum)), ("out", .scalar(.outputSum))]
        out += ["s0", "s1", "s2", "s3", "s4", "s5", "sx"].enumerated().map { ($1, .status($0)) }
        out += (0...LatencyBuckets.bounds.count).map { ("h\($0)", .latency($0)) }
        out += [("cli", .scalar(.clientErrors)), ("rl", .scalar(.rateLimited)), ("prov", .scalar(.providerErrors))]
        out += [("tk_n", .scalar(.tokenCalls)), ("tk_in", .scalar(.inputTokens)), ("tk_out", .scalar(.outputTokens)),
                ("tk_cache", .scalar(.cachedInputTokens)), ("cost_n", .scalar(.costCalls)), ("cost_nusd", .scalar(.costNanos)),
                ("ttft_n", .scalar(.ttftCount)), ("ttft_us", .scalar(.ttftSumMicros))]
        out += (0...LatencyBuckets.bounds.count).map { ("t\($0)", .ttft($0)) }
        return out
    }()

    /// The Redis hash field names, in `layout` order.
    public static let fieldNames: [String] = layout.map(\.name)

    /// Field values in `fieldNames` order.
    public var fieldValues: [Int64] { Self.layout.map { self[$0.slot] } }

    /// Rebuilds counts from values in `fieldNames` order (an HMGET of `fieldNames`); missing ones are 0.
    public init(values: [Int64?]) {
        self.init()
        for (i, field) in Self.layout.enumerated() where i < values.count { self[field.slot] = values[i] ?? 0 }
    }

    /// Rebuilds counts from an HGETALL reply (name, value, name, value...); unknown fields are
    /// ignored. Names are matched as bytes: reports read thousands of buckets.
    public init(hash items: [RedisReply]) {
        self.init()
        var i = 0
        while i + 1 < items.count {
            if case let .string(name) = items[i], let index = Self.fieldIndex(name) { self[Self.layout[index].slot] = items[i + 1].integer ?? 0 }
            i += 2
        }
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
        for field in Self.layout { self[field.slot] = fields[field.name] ?? 0 }
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
