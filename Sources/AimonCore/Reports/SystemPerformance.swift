/// `get_system_performance` of the seed, from the all-models buckets: one definition of each figure,
/// shared with `ModelPerformance` (rates nil for an empty window; latency averaged over the calls that
/// carried one).
public struct SystemPerformance: Sendable {
    public var overall: ModelPerformance
    /// Distinct users over the whole hours that overlap the window (HyperLogLog: about 0.81% error).
    public var uniqueUsers: Int64
    public var modelDistribution: [(model: String, calls: Int64)]
    /// Calls per hour, by hour start (the edge hours count only their part inside the window).
    public var hourlyDistribution: [(hour: Int64, calls: Int64)]

    public init(overall: ModelPerformance, uniqueUsers: Int64, modelDistribution: [(model: String, calls: Int64)],
                hourlyDistribution: [(hour: Int64, calls: Int64)]) {
        self.overall = overall
        self.uniqueUsers = uniqueUsers
        self.modelDistribution = modelDistribution
        self.hourlyDistribution = hourlyDistribution
    }

    /// The seed's keys, in the seed's order, then the window.
    public var json: JSONValue {
        let o = overall
        return .object([
            ("total_calls", .int(o.counts.calls)),
            ("successful_calls", .int(o.counts.successes)),
            ("failed_calls", .int(o.counts.failedCalls)),
            ("failure_classes", o.counts.failureClassesJSON),
            ("counted_failures", .int(o.counts.failures)),
            ("success_rate", o.successRate.map { .number($0, digits: 6) } ?? .null),
            ("avg_response_time", o.avgResponseTime.map { .number($0, digits: 6) } ?? .null),
            ("unique_users", .int(uniqueUsers)),
            ("model_distribution", .object(modelDistribution.map { (ModelRegistry.label($0.model), .int($0.calls)) })),
            ("hourly_distribution", .object(hourlyDistribution.map { (Self.hourName($0.hour), .int($0.calls)) })),
            ("p50_response_time", o.latency(quantile: 0.5).map { .number($0, digits: 6) } ?? .null),
            ("p95_response_time", o.latency(quantile: 0.95).map { .number($0, digits: 6) } ?? .null),
            ("p99_response_time", o.latency(quantile: 0.99).map { .number($0, digits: 6) } ?? .null),
        ] + o.counts.llmJSON + [
            ("window", .object([("from", .int(o.from)), ("to", .int(o.to)), ("bucket", .string(o.resolution == .minute ? "1m" : "1h"))])),
        ])
    }

    /// `2026-11-27T06:00Z`: an hour, without the seed's ambiguity across days.
    public static func hourName(_ start: Int64) -> String { String(AlertRow.timestamp(Double(start)).prefix(16)) + "Z" }
}

extension WindowReader {
    /// The seed's `get_system_performance` over the trailing `hours`.
    public func system(hours: Double, now: Double) throws(RedisError) -> SystemPerformance {
        let w = Self.window(hours: hours, now: now)
        let overall = ModelPerformance(model: "*", counts: try sum(nil, w.resolution, starts: w.starts),
                                       topErrors: try topErrors(nil, from: w.from, to: w.to), from: w.from, to: w.to, resolution: w.resolution)
        // Unique users: one PFCOUNT over the hours' HyperLogLogs merges them without double counting.
        var hours: [Int64] = []
        var h = w.from - WindowBatch.mod(w.from, 3600)
        while h < w.to { hours.append(h); h += 3600 }
        let users = try redis.command(["PFCOUNT"] + hours.map { keys.users(nil, hour: $0) })
        if case let .error(e) = users { throw RedisError(.reply, "cannot count users: \(e)") }
        // Calls per model and per hour: the `calls` field of the buckets that make up the window.
        let models = try self.models(from: w.from, to: w.to)
        var groups: [[BucketTerm]] = models.map { bucketTerms($0, w.resolution, starts: w.starts) }
        for hour in hours {
            groups.append(bucketTerms(nil, w.resolution, starts: w.starts.filter { $0 >= hour && $0 < hour + 3600 }, now: w.to))
        }
        let sums = try sumCalls(groups)
        var distribution: [(model: String, calls: Int64)] = []
        for (m, n) in zip(models, sums) where n > 0 { distribution.append((m, n)) }
        distribution.sort { $0.calls != $1.calls ? $0.calls > $1.calls : $0.model < $1.model }
        var hourly: [(hour: Int64, calls: Int64)] = []
        for (hour, n) in zip(hours, sums.dropFirst(models.count)) { hourly.append((hour, n)) }
        return SystemPerformance(overall: overall, uniqueUsers: users.integer ?? 0, modelDistribution: distribution, hourlyDistribution: hourly)
    }

    /// The `calls` of each group of bucket reads, summed, in one pipeline.
    func sumCalls(_ groups: [[BucketTerm]]) throws(RedisError) -> [Int64] {
        var c = RedisCommands()
        for g in groups { for t in g { c.append("HGET", t.key, "calls") } }
        let replies = try redis.pipeline(c)
        var out: [Int64] = []
        var i = 0
        for g in groups {
            var n: Int64 = 0
            for t in g {
                if case let .error(e) = replies[i] { throw RedisError(.reply, "cannot read calls: \(e)") }
                let v = replies[i].integer ?? 0
                n = t.subtract ? n.subtractingSaturated(v) : n.addingSaturated(v)
                i += 1
            }
            out.append(max(0, n))
        }
        return out
    }
}
