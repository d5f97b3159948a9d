/// The seed's performance levels, best first; the first whose limits a model meets is its level.
public enum PerformanceLevel: String, Sendable, CaseIterable {
    case excellent, good, fair, poor, unknown

    /// (minimum success rate, maximum average latency in seconds)
    static let limits: [(PerformanceLevel, Double, Double)] = [
        (.excellent, 0.98, 2), (.good, 0.95, 5), (.fair, 0.90, 8),
    ]

    /// The level, and why: "unknown" with no calls; otherwise the best level whose limits hold.
    public static func of(successRate: Double?, avgResponseTime: Double?) -> (PerformanceLevel, String) {
        guard let rate = successRate else { return (.unknown, "no calls in the window") }
        let latency = avgResponseTime ?? 0
        for (level, minRate, maxLatency) in limits where rate >= minRate && latency <= maxLatency {
            return (level, "success rate >= \(percent(minRate)) and average latency <= \(Int(maxLatency)) s")
        }
        return (.poor, "below fair: success rate < 90% or average latency > 8 s")
    }

    static func percent(_ v: Double) -> String { "\(Int((v * 100).rounded()))%" }
}

/// `get_model_performance` of the seed, from window buckets. One definition of each figure, used by
/// every report: rates are nil (JSON null) for an empty window, never 0% or 100%; the average
/// latency is over the calls that carried a latency.
public struct ModelPerformance: Equatable, Sendable {
    public var model: String
    public var counts: BucketCounts
    public var topErrors: [(message: String, count: Int64)]
    /// The window actually covered: [from, to) in epoch seconds, and its bucket size.
    public var from: Int64
    public var to: Int64
    public var resolution: KeySchema.Resolution

    public init(model: String, counts: BucketCounts, topErrors: [(message: String, count: Int64)],
                from: Int64, to: Int64, resolution: KeySchema.Resolution) {
        self.model = model
        self.counts = counts
        self.topErrors = topErrors
        self.from = from
        self.to = to
        self.resolution = resolution
    }

    public var successRate: Double? { counts.successRate }
    public var errorRate: Double? { counts.errorRate }
    public var avgResponseTime: Double? { counts.avgResponseTime }
    public var level: (PerformanceLevel, String) { PerformanceLevel.of(successRate: successRate, avgResponseTime: avgResponseTime) }

    /// Latency quantiles from the histogram (within one bucket of the truth; Docs/reports.md).
    public func latency(quantile q: Double) -> Double? { LatencyBuckets.quantile(q, of: counts.histogram) }

    /// Calls per minute over the window actually covered.
    public var callsPerMinute: Double { Double(counts.calls) / (Double(max(to - from, 60)) / 60) }

    public static func == (a: Self, b: Self) -> Bool {
        a.model == b.model && a.counts == b.counts && a.from == b.from && a.to == b.to
            && a.topErrors.map(\.message) == b.topErrors.map(\.message) && a.topErrors.map(\.count) == b.topErrors.map(\.count)
    }

    /// The seed's keys, in the seed's order.
    public var json: JSONValue {
        .object([
            ("model_name", .string(ModelRegistry.label(Deployment.split(model)?.model ?? model))),
        ] + (Deployment.split(model).map { [("deployment", JSONValue.string(Deployment.label($0.deployment)))] } ?? []) + [
            ("total_calls", .int(counts.calls)),
            ("successful_calls", .int(counts.successes)),
            ("failed_calls", .int(counts.failedCalls)),
            ("failure_classes", counts.failureClassesJSON),
            ("counted_failures", .int(counts.failures)),
            ("success_rate", successRate.map { .number($0, digits: 6) } ?? .null),
            ("avg_response_time", avgResponseTime.map { .number($0, digits: 6) } ?? .null),
            ("error_rate", errorRate.map { .number($0, digits: 6) } ?? .null),
            ("performance_level", .string(level.0.rawValue)),
            ("performance_reason", .string(level.1)),
            ("p50_response_time", latency(quantile: 0.5).map { .number($0, digits: 6) } ?? .null),
            ("p95_response_time", latency(quantile: 0.95).map { .number($0, digits: 6) } ?? .null),
            ("p99_response_time", latency(quantile: 0.99).map { .number($0, digits: 6) } ?? .null),
            ("calls_per_minute", .number(callsPerMinute, digits: 3)),
        ] + counts.llmJSON + [
            ("top_errors", .object(topErrors.map { ($0.message, .int($0.count)) })),
            ("window", .object([("from", .int(from)), ("to", .int(to)), ("bucket", .string(resolution == .minute ? "1m" : "1h"))])),
        ])
    }
}
