import AimonCore

/// A deterministic generator of realistic gateway logs in the native format, with the truth they
/// contain, for tests, the benchmark and the demo.
public struct SampleLog {
    public struct Truth: Equatable {
        public var calls: Int64 = 0
        public var successes: Int64 = 0
        public var failures: Int64 = 0
        public var latencySumMicros: Int64 = 0
        public var latencyCount: Int64 = 0
        public var errors: [String: Int64] = [:]
        public init() {}
    }

    public static let defaultModels = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b", "mistral-large"]
    static let errorMessages = ["upstream timeout after 30s", "rate limit exceeded", "model overloaded", "connection reset by peer"]

    public var models: [String]
    public var users: Int
    public var failureRate: Double
    private var rng: SplitMix64
    public private(set) var truth: [String: Truth] = [:]

    public init(seed: UInt64 = 42, models: [String] = SampleLog.defaultModels, users: Int = 600, failureRate: Double = 0.03) {
        self.models = models
        self.users = users
        self.failureRate = failureRate
        self.rng = SplitMix64(seed: seed)
    }

    /// One line (with its newline) for a call at `time`, recording it in `truth`.
    public mutating func line(at time: Double, model forced: String? = nil, fail forcedFail: Bool? = nil,
                              latency forcedLatency: Double? = nil) -> String {
        let model = forced ?? models[Int(rng.next() % UInt64(models.count))]
        let fail = forcedFail ?? (rng.nextDouble() < failureRate)
        // A long-tailed latency spread: mostly 0.2-3 s, sometimes much slower.
        let u = rng.nextDouble()
        let latency = forcedLatency ?? ((0.2 + 2.8 * u * u + (rng.nextDouble() < 0.02 ? 20 * rng.nextDouble() : 0)) * 1000).rounded() / 1000
        let user = "user-\(rng.next() % UInt64(users))"
        let status = fail ? [500, 502, 503, 504, 429][Int(rng.next() % 5)] : 200
        let message = fail ? Self.errorMessages[Int(rng.next() % UInt64(Self.errorMessages.count))] : nil
        var t = truth[model, default: Truth()]
        t.calls += 1
        if fail { t.failures += 1; t.errors[ErrorMessage.normalise(message, status: status), default: 0] += 1 } else { t.successes += 1 }
        t.latencyCount += 1
        t.latencySumMicros += Int64((latency * 1_000_000).rounded())
        truth[model] = t
        let ts = Self.rfc3339(time)
        let err = message.map { "\"\($0)\"" } ?? "null"
        return "{\"timestamp\":\"\(ts)\",\"user_id\":\"\(user)\",\"work_order_id\":\(rng.next() % 1_000_000),\"model_name\":\"\(model)\",\"endpoint\":\"/v1/chat/completions\",\"success\":\(!fail),\"response_time\":\(latency),\"status_code\":\(status),\"error_message\":\(err),\"input_length\":\(rng.next() % 4000),\"output_length\":\(rng.next() % 2000)}\n"
    }

    /// `count` lines spread evenly over [start, end).
    public mutating func lines(_ count: Int, from start: Double, to end: Double) -> [String] {
        let step = (end - start) / Double(max(count, 1))
        return (0..<count).map { line(at: start + Double($0) * step) }
    }

    /// RFC 3339 with milliseconds, UTC.
    public static func rfc3339(_ t: Double) -> String {
        let secs = Int64(t.rounded(.down))
        let ms = Int((t - Double(secs)) * 1000)
        var days = secs / 86400
        var rem = secs % 86400
        if rem < 0 { rem += 86400; days -= 1 }
        // Civil from days (H. Hinnant).
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func p(_ v: Int64, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(p(rem / 3600, 2)):\(p(rem % 3600 / 60, 2)):\(p(rem % 60, 2)).\(p(Int64(ms), 3))Z"
    }
}

/// A small, fast, seedable PRNG (Steele et al.), so generated logs are the same on every run.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
