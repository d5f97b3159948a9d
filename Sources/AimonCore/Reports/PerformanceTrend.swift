/// `get_performance_trend` of the seed: one row per UTC day, oldest first, from hour buckets.
public struct DayPerformance: Sendable {
    /// Midnight UTC of the day, epoch seconds.
    public var day: Int64
    public var counts: BucketCounts

    public var date: String { String(AlertRow.timestamp(Double(day)).prefix(10)) }
    public var successRate: Double? { counts.successRate }
    public var avgResponseTime: Double? { counts.avgResponseTime }
    public var p95: Double? { LatencyBuckets.quantile(0.95, of: counts.histogram) }

    /// The seed's keys, then the 95th percentile.
    public var json: JSONValue {
        .object([
            ("date", .string(date)),
            ("total_calls", .int(counts.calls)),
            ("success_rate", successRate.map { .number($0, digits: 6) } ?? .null),
            ("avg_response_time", avgResponseTime.map { .number($0, digits: 6) } ?? .null),
            ("p95_response_time", p95.map { .number($0, digits: 6) } ?? .null),
        ] + counts.llmJSON)
    }
}

extension WindowReader {
    /// The last `days` UTC days (today, so far, included), oldest first; `model` nil for all models.
    public func trend(days: Int, model: String?, now: Double) throws(RedisError) -> [DayPerformance] {
        let today = Int64(now) - WindowBatch.mod(Int64(now), 86400)
        let currentHour = Int64(now) - WindowBatch.mod(Int64(now), 3600)
        var c = RedisCommands()
        var perDay: [(Int64, Int)] = []
        for d in (0..<days).reversed() {
            let day = today - Int64(d) * 86400
            var n = 0
            for h in stride(from: day, to: day + 86400, by: 3600) where h <= currentHour {
                c.append("HGETALL", keys.bucket(model, .hour, start: h))
                n += 1
            }
            perDay.append((day, n))
        }
        let replies = try redis.pipeline(c)
        var i = 0
        var out: [DayPerformance] = []
        for (day, n) in perDay {
            var counts = BucketCounts()
            for _ in 0..<n {
                if case let .error(e) = replies[i] { throw RedisError(.reply, e) }
                var fields: [String: Int64] = [:]
                for (k, v) in replies[i].pairs { fields[k] = v.integer ?? 0 }
                if !fields.isEmpty { counts.merge(BucketCounts(fields: fields)) }
                i += 1
            }
            out.append(DayPerformance(day: day, counts: counts))
        }
        return out
    }
}
