/// The runs of failures a batch ended for one model.
public struct RunsEnded: Equatable, Sendable {
    /// The run in progress before the batch, ended by the batch's first success.
    public var ended: WindowSnapshot.Run.Ended
    /// The longest run that began and ended inside the batch.
    public var inside: Int64
}

/// Writes window deltas and checkpoints to Redis, together, in one MULTI/EXEC transaction.
///
/// This is the exactly-once edge of DESIGN.md: a batch's deltas and the file offsets they came from
/// land together or not at all. If the connection breaks after EXEC was sent, `isCommitted` tells
/// from the checkpoints whether it landed, so a retry never applies a batch twice.
public struct WindowStore: Sendable {
    public let keys: KeySchema
    public let retention: Retention
    public let host: String

    public init(keys: KeySchema, retention: Retention, host: String) {
        self.keys = keys
        self.retention = retention
        self.host = host
    }

    /// Everything one commit writes.
    public struct Commit: Sendable {
        public var batch: WindowBatch
        /// New checkpoints by file identity key.
        public var checkpoints: [String: Checkpoint]
        /// Ingest counters to add (lines read, bad lines by reason, overlong, late...).
        public var counters: [String: Int64]
        /// Checkpoints of files let go (rotated away and read to their end).
        public var forget: [String]

        public init(batch: WindowBatch, checkpoints: [String: Checkpoint], counters: [String: Int64], forget: [String] = []) {
            self.batch = batch
            self.checkpoints = checkpoints
            self.counters = counters
            self.forget = forget
        }
    }

    /// The transaction's commands, without MULTI/EXEC (pure: testable without Redis), and the index
    /// of each model's run reply among them (then, after a success, the ended-run number's).
    public func commands(for commit: Commit) -> (commands: RedisCommands, runReplies: [String: Int]) {
        var c = RedisCommands()
        let batch = commit.batch
        let names = BucketCounts.fieldNames
        func writeBucket(_ key: String, _ counts: BucketCounts, expireAt: Int64) {
            for (name, value) in zip(names, counts.fieldValues) where value != 0 {
                c.append("HINCRBY", key, name, String(value))
            }
            c.append("EXPIREAT", key, String(expireAt))
        }
        for (k, counts) in batch.minute {
            writeBucket(keys.bucket(k.model, .minute, start: k.start), counts,
                        expireAt: k.start + 60 + retention.minuteBuckets)
        }
        for (k, counts) in batch.hour {
            writeBucket(keys.bucket(k.model, .hour, start: k.start), counts,
                        expireAt: k.start + 3600 + retention.hourBuckets)
        }
        for (k, users) in batch.users {
            let key = keys.users(k.model, hour: k.start)
            c.append(["PFADD", key], users)
            c.append("EXPIREAT", key, String(k.start + 3600 + retention.hourBuckets))
        }
        for (k, messages) in batch.errors {
            let key = keys.errors(k.model, hour: k.start)
            for (message, n) in messages { c.append("HINCRBY", key, message, String(n)) }
            c.append("EXPIREAT", key, String(k.start + 3600 + retention.hourBuckets))
        }
        let ttl = String(retention.hourBuckets)
        // The first reply is, atomically, the run's length at the batch's first success (the run that
        // success ended) or now; a success also numbers the ended run (`ended`, see WindowSnapshot.Run).
        var runReplies: [String: Int] = [:]
        for (model, run) in batch.runs.sorted(by: { $0.key < $1.key }) {
            let key = keys.failureRun(model)
            runReplies[model] = c.count
            c.append("HINCRBY", key, "n", String(run.sawSuccess ? run.leading : run.trailing))
            if run.sawSuccess {
                c.append("HINCRBY", key, "ended", "1")
                c.append("HSET", key, "n", String(run.trailing))
            }
            if let last = run.lastFailure { c.append("HSET", key, "last", String(Int64(clamping: (last * 1000).rounded()))) }
            c.append("EXPIRE", key, ttl)
        }
        var modelsByHour: [Int64: [String]] = [:]
        for k in batch.hour.keys { if let m = k.model { modelsByHour[k.start, default: []].append(m) } }
        for (hour, models) in modelsByHour {
            let key = keys.models(hour: hour)
            c.append(["SADD", key], models)
            c.append("EXPIREAT", key, String(hour + 3600 + retention.hourBuckets))
        }
        if !batch.models.isEmpty {
            c.append(["SADD", keys.models], batch.models)
            c.append("EXPIRE", keys.models, ttl)
        }
        // Forgotten first, so a reused identity's new checkpoint always survives.
        if !commit.forget.isEmpty {
            c.append(["HDEL", keys.checkpoints(host: host)] + commit.forget)
        }
        if !commit.checkpoints.isEmpty {
            var args = ["HSET", keys.checkpoints(host: host)]
            for (id, cp) in commit.checkpoints { args += [id, cp.encoded] }
            c.append(args)
            c.append("EXPIRE", keys.checkpoints(host: host), ttl)
        }
        let counterKey = keys.ingestCounters(host: host)
        var counters = commit.counters
        if batch.late > 0 { counters["late", default: 0] += Int64(batch.late) }
        if batch.records > 0 { counters["records", default: 0] += Int64(batch.records) }
        for (name, n) in counters where n != 0 { c.append("HINCRBY", counterKey, name, String(n)) }
        if !counters.isEmpty { c.append("EXPIRE", counterKey, ttl) }
        return (c, runReplies)
    }

    /// Applies the commit atomically. Returns, for each model whose run of failures ended in the
    /// batch, that run (its length, read atomically with the stored part it extended, and its number),
    /// and the longest run that began and ended inside the batch.
    @discardableResult
    public func commit(_ commit: Commit, on redis: RedisConnection) throws(RedisError) -> [String: RunsEnded] {
        let (commands, runReplies) = self.commands(for: commit)
        var tx = RedisCommands()
        tx.append("MULTI")
        tx.append(contentsOf: commands)
        tx.append("EXEC")
        let replies = try redis.pipeline(tx)
        guard let last = replies.last else { throw RedisError(.protocolViolation, "no reply to EXEC") }
        if case let .error(e) = last {
            let firstError = replies.lazy.compactMap { if case let .error(m) = $0 { m } else { nil } }.first
            throw RedisError(.reply, "Redis refused the batch: \(firstError ?? e)")
        }
        guard let results = last.array else {
            throw RedisError(.reply, "Redis aborted the batch transaction (EXEC returned \(last))")
        }
        for r in results {
            if case let .error(e) = r { throw RedisError(.reply, "a command of the batch failed: \(e) (keys under '\(keys.prefix):' must be left to aimon)") }
        }
        var ended: [String: RunsEnded] = [:]
        for (model, run) in commit.batch.runs where run.sawSuccess {
            guard let i = runReplies[model], i + 1 < results.count,
                  let length = results[i].integer, let id = results[i + 1].integer else { continue }
            ended[model] = RunsEnded(ended: .init(length: length, id: id), inside: run.longestInside)
        }
        return ended
    }

    /// After a broken connection: did the commit whose checkpoints are given land?
    public func isCommitted(_ checkpoints: [String: Checkpoint], on redis: RedisConnection) throws(RedisError) -> Bool {
        guard let (id, cp) = checkpoints.first else { return false }
        let reply = try redis.command(["HGET", keys.checkpoints(host: host), id])
        return reply.text == cp.encoded
    }

    /// The checkpoints of this host, by file identity key.
    public func loadCheckpoints(on redis: RedisConnection) throws(RedisError) -> [String: Checkpoint] {
        let reply = try redis.command(["HGETALL", keys.checkpoints(host: host)])
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read checkpoints: \(e)") }
        var out: [String: Checkpoint] = [:]
        for (id, value) in reply.pairs {
            if let text = value.text, let cp = Checkpoint(encoded: text) { out[id] = cp }
        }
        return out
    }

    /// Known model names (for the model cap).
    public func loadModels(on redis: RedisConnection) throws(RedisError) -> Set<String> {
        let reply = try redis.command(["SMEMBERS", keys.models])
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read the model set: \(e)") }
        return Set((reply.array ?? []).compactMap(\.text))
    }
}
