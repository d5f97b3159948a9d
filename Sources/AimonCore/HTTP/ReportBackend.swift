import Synchronization

/// What the HTTP endpoint reads from Redis and the alert table: report queries (`/api/v1/...`) and
/// the status page. Its own Redis connections (one per request being served, kept for the next):
/// the ingest and evaluation connections are never shared, and a slow report never holds them.
final class ReportBackend: @unchecked Sendable {
    private struct State {
        var config: Config
        var idle: [Idle] = []
    }
    /// A connection nobody uses: handed from one request's thread to the next, never shared.
    private struct Idle: @unchecked Sendable { let connection: RedisConnection }
    private let state: Mutex<State>

    init(config: Config) { state = Mutex(State(config: config)) }

    var config: Config { state.withLock { $0.config } }

    /// A reload: reports read the new Redis, keys and table from the next request on.
    func update(_ config: Config) {
        state.withLock { s in
            if s.config.redis != config.redis { s.idle.removeAll() }
            s.config = config
        }
    }

    /// Runs `body` on a connection of the pool (a new one if none is idle). A connection that failed
    /// is dropped: hiredis cannot be trusted after an I/O error.
    func withRedis<T>(_ body: (RedisConnection) throws(ReportError) -> T) throws(ReportError) -> T {
        let (taken, config) = state.withLock { s in (s.idle.popLast()?.connection, s.config) }
        let connection: RedisConnection
        if let taken { connection = taken } else {
            do { connection = try config.redis.connect() } catch {
                throw ReportError(.unavailable, error.description)
            }
        }
        // A connection that saw an error is dropped (after NOAUTH from a restarted Redis, or a broken
        // link, a new one is the safe choice); one that answered goes back to the pool.
        let out = try body(connection)
        giveBack(connection, config)
        return out
    }

    private func giveBack(_ connection: RedisConnection, _ config: Config) {
        state.withLock { s in
            if s.config.redis == config.redis && s.idle.count < 4 { s.idle.append(Idle(connection: connection)) }
        }
    }

    /// The answer of an API query, as `aimon <report> --json` gives it. A window longer than the
    /// hour buckets are kept is refused: its keys are gone, and reading them would hold a thread.
    func answer(_ query: ReportQuery, now: Double) throws(ReportError) -> ReportAnswer {
        let config = self.config
        let longest = Double(config.retention.hourBuckets) / 3600 + 1
        switch query {
        case let .stats(_, hours, _), let .system(hours):
            if hours > longest { throw ReportError(.badRequest, "hours must be at most \(Int(longest)) (retention.hour_buckets: older buckets are gone)") }
        case let .trend(days, _):
            if Double(days) * 24 > longest + 24 { throw ReportError(.badRequest, "days must be at most \(Int(longest / 24) + 1) (retention.hour_buckets: older buckets are gone)") }
        case .alerts: break
        }
        if case .alerts = query {
            return try query.answer(redis: { () throws(ReportError) in throw ReportError(.failed, "no Redis for alerts") }, config: config, now: now)
        }
        return try withRedis { redis throws(ReportError) in
            try query.answer(redis: { () throws(ReportError) in redis }, config: config, now: now)
        }
    }

    /// The status page's window reads: each model's figures over `hours`, and its calls per hour
    /// over the last `sparkHours`, for the models seen in that time (most calls first, at most `limit`).
    func statusModels(hours: Double, sparkHours: Int, limit: Int, now: Double) throws(ReportError) -> (rows: [StatusPage.ModelRow], more: Int) {
        let config = self.config
        return try withRedis { redis throws(ReportError) in
            let reader = WindowReader(keys: config.keys, redis: redis, minuteRetention: config.retention.minuteBuckets)
            do throws(RedisError) {
                let current = Int64(now) - WindowBatch.mod(Int64(now), 3600)
                let first = current - Int64(sparkHours - 1) * 3600
                let models = try reader.models(from: first, to: current + 3600)
                var performances = try reader.performances(models: models, hours: hours, now: now)
                performances.sort { $0.counts.calls != $1.counts.calls ? $0.counts.calls > $1.counts.calls : $0.model < $1.model }
                let shown = Array(performances.prefix(limit))
                let hourly = try reader.hourly(models: shown.map(\.model), from: first, count: sparkHours)
                return (zip(shown, hourly).map { StatusPage.ModelRow(performance: $0, hourly: $1) }, performances.count - shown.count)
            } catch {
                throw ReportError(error.kind == .connection || error.kind == .io ? .unavailable : .failed, "reading the windows failed: \(error)")
            }
        }
    }
}

extension WindowReader {
    /// Each model's hour buckets from `from`, `count` hours, in one round trip.
    func hourly(models: [String], from: Int64, count: Int) throws(RedisError) -> [[BucketCounts]] {
        var c = RedisCommands()
        for m in models {
            for i in 0..<count { c.append("HGETALL", keys.bucket(m, .hour, start: from + Int64(i) * 3600)) }
        }
        let replies = try redis.pipeline(c)
        var out: [[BucketCounts]] = []
        var i = 0
        for _ in models {
            var row: [BucketCounts] = []
            for _ in 0..<count {
                row.append(try Self.sum(replies[i...], terms: [false]))
                i += 1
            }
            out.append(row)
        }
        return out
    }
}
