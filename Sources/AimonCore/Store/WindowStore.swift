/// The runs of failures a batch ended for one model.
public struct RunsEnded: Equatable, Sendable {
    /// The run in progress before the batch, ended by the batch's first success.
    public var ended: WindowSnapshot.Run.Ended
    /// The longest run that began and ended inside the batch.
    public var inside: Int64
}

/// Writes window deltas and checkpoints to Redis, together, in one conditional Lua script
/// (`CommitScript`).
///
/// This is the exactly-once edge of DESIGN.md: a batch's deltas and the file offsets they came from
/// land together or not at all, and only if the offsets in Redis are still the ones the batch was
/// read from. A commit sent again after a broken connection is answered "landed" when it had
/// landed, and applied otherwise; a late copy of it, or another process's commit of the same
/// files, can never apply twice (Docs/design.md, "Exactly once").
public struct WindowStore: Sendable {
    public let keys: KeySchema
    public let retention: Retention
    public let host: String
    /// Distinct error messages kept per model and hour; the rest are counted together.
    public let maxErrorMessages: Int
    /// Seconds a model keeps its place under the model cap after it was last seen.
    public let modelTTL: Int64

    public init(keys: KeySchema, retention: Retention, host: String, maxErrorMessages: Int = 50, modelTTL: Int64 = 86_400) {
        self.keys = keys
        self.retention = retention
        self.host = host
        self.maxErrorMessages = maxErrorMessages
        self.modelTTL = modelTTL
    }

    /// Everything one commit writes.
    public struct Commit: Sendable {
        public var batch: WindowBatch
        /// The checkpoints the batch moves: the condition of the commit. A commit that carries
        /// deltas moves at least one (the lines came from somewhere).
        public var changes: [CheckpointChange]
        /// Ingest counters to add (lines read, bad lines by reason, overlong...).
        public var counters: [String: Int64]
        /// Fields of the checkpoint hash written as they are, whatever they hold ("" deletes): the
        /// sources this host has started, which must not be started again from their end.
        public var markers: [String: String]
        /// Ingest time (epoch seconds): when the batch's models were last seen.
        public var now: Int64

        public init(batch: WindowBatch, changes: [CheckpointChange], counters: [String: Int64] = [:],
                    markers: [String: String] = [:], now: Int64 = 0) {
            self.batch = batch
            self.changes = changes
            self.counters = counters
            self.markers = markers
            self.now = now
        }

        /// True when the commit writes only what may be written twice (markers).
        public var isIdempotent: Bool { batch.records == 0 && batch.late == 0 && counters.values.allSatisfy { $0 == 0 } }
    }

    /// What a commit did.
    public enum Outcome: Equatable, Sendable {
        /// Applied now. `runs`: for each model whose run of failures ended in the batch, that run
        /// (its length, read atomically with the stored part it extended, and its number).
        /// `saturated`: increments held at the Int64 edge; `repaired`: fields that held no integer.
        /// `sequence`: the host's commit sequence it raised (CommitScript.swift).
        case applied(runs: [String: RunsEnded], saturated: Int64, repaired: Int64, sequence: Int64)
        /// It had landed before (its reply was lost with a connection): nothing was applied again.
        case landed(sequence: Int64)
        /// A checkpoint held neither the expected nor the new text: another process moved the file.
        case conflict(id: String, found: String)
    }

    /// The script's keys and arguments (pure: testable without Redis), and the models of its run
    /// operations, in the order their replies come.
    public func scriptCall(for commit: Commit) -> (keys: [String], arguments: [String], runModels: [String]) {
        var keyList = [keys.checkpoints(host: host), keys.ingestCounters(host: host)]
        var args: [String] = []
        args.reserveCapacity(256)
        /// Adds `key` to KEYS and returns its index (1-based, as Lua counts).
        func key(_ k: String) -> String {
            keyList.append(k)
            return String(keyList.count)
        }
        args.append(String(commit.changes.count))
        for ch in commit.changes { args += [ch.id, ch.expected, ch.new] }
        args.append(String(commit.markers.count))
        for (field, value) in commit.markers.sorted(by: { $0.key < $1.key }) { args += [field, value] }
        let ttl = String(retention.hourBuckets)
        args.append(ttl)

        let batch = commit.batch
        let hour = batch.hour  // a view built from the batch: once
        let hourExpiry = { (start: Int64) in String(start + 3600 + retention.hourBuckets) }
        for (k, users) in batch.users {
            args += ["u", key(keys.users(k.model, hour: k.start)), String(users.count), hourExpiry(k.start)]
            args += users
        }
        let names = BucketCounts.fieldNames
        func bucket(_ k: String, _ counts: BucketCounts, expireAt: Int64) {
            let values = counts.fieldValues
            let n = values.reduce(0) { $1 != 0 ? $0 + 1 : $0 }
            args += ["h", key(k), String(n), String(expireAt)]
            for (name, value) in zip(names, values) where value != 0 { args += [name, String(value)] }
        }
        for (k, counts) in batch.minute {
            bucket(keys.bucket(k.model, .minute, start: k.start), counts, expireAt: k.start + 60 + retention.minuteBuckets)
        }
        for (k, counts) in hour {
            bucket(keys.bucket(k.model, .hour, start: k.start), counts, expireAt: k.start + 3600 + retention.hourBuckets)
        }
        for (k, messages) in batch.errors {
            args += ["e", key(keys.errors(k.model, hour: k.start)), String(messages.count), hourExpiry(k.start), String(maxErrorMessages)]
            for (message, n) in messages { args += [message, String(n)] }
        }
        // The model's run: its stored length grows by the failures before the batch's first success
        // (or all of them), and that sum is the reply: the length of the run that success ended. A
        // success numbers the ended run (`ended`) and starts the next at the batch's last failures.
        var runModels: [String] = []
        for (model, run) in batch.runs.sorted(by: { $0.key < $1.key }) {
            runModels.append(model)
            let last = run.lastFailure.map { String(Int64(clamping: ($0 * 1000).rounded())) } ?? ""
            args += ["r", key(keys.failureRun(model)), "0", ttl, String(run.sawSuccess ? run.leading : run.trailing),
                     run.sawSuccess ? "1" : "0", String(run.trailing), last]
        }
        var modelsByHour: [Int64: [String]] = [:]
        for k in hour.keys { if let m = k.model, !Deployment.isPair(m) { modelsByHour[k.start, default: []].append(m) } }
        for (hour, models) in modelsByHour {
            args += ["s", key(keys.models(hour: hour)), String(models.count), hourExpiry(hour)]
            args += models
        }
        for (hour, pairs) in batch.deployments {
            args += ["s", key(keys.deployments(hour: hour)), String(pairs.count), hourExpiry(hour)]
            args += pairs.sorted()
        }
        let seen = batch.models.filter { $0 != ModelRegistry.overflowName }.sorted()
        if !seen.isEmpty {
            args += ["z", key(keys.modelRegistry), String(seen.count), String(modelTTL + 86_400), String(commit.now - modelTTL)]
            for m in seen { args += [m, String(commit.now)] }
        }
        var counters = commit.counters
        if batch.late > 0 { counters["late", default: 0] += Int64(batch.late) }
        if batch.records > 0 { counters["records", default: 0] += Int64(batch.records) }
        let nonZero = counters.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        if !nonZero.isEmpty {
            args += ["c", "2", String(nonZero.count)]
            for (name, n) in nonZero { args += [name, String(n)] }
        }
        return (keyList, args, runModels)
    }

    /// Applies the commit atomically, if the checkpoints it moves are still as it expects.
    /// Throws when Redis refuses it (a key of another type under aimon's prefix...): nothing was
    /// written then, and retrying cannot help until the key is removed.
    public func commit(_ commit: Commit, on redis: RedisConnection) throws(RedisError) -> Outcome {
        assert(!commit.changes.isEmpty || commit.isIdempotent, "a commit with deltas must move a checkpoint")
        let call = scriptCall(for: commit)
        let reply = try redis.evaluate(CommitScript.source, keys: call.keys, arguments: call.arguments)
        if case let .error(e) = reply {
            throw RedisError(.reply, "Redis refused the batch: \(e)")
        }
        guard let items = reply.array, let status = items.first?.text else {
            throw RedisError(.protocolViolation, "unexpected reply to the commit script: \(reply)")
        }
        switch status {
        case "ok":
            guard items.count == 4 + 2 * call.runModels.count, let sequence = items[3].integer else {
                throw RedisError(.protocolViolation, "unexpected reply to the commit script: \(reply)")
            }
            var runs: [String: RunsEnded] = [:]
            let batchRuns = commit.batch.runs
            for (i, model) in call.runModels.enumerated() {
                guard let run = batchRuns[model], run.sawSuccess,
                      let length = items[4 + 2 * i].integer, let id = items[5 + 2 * i].integer else { continue }
                runs[model] = RunsEnded(ended: .init(length: length, id: id), inside: run.longestInside)
            }
            return .applied(runs: runs, saturated: items[1].integer ?? 0, repaired: items[2].integer ?? 0, sequence: sequence)
        case "landed":
            return .landed(sequence: items.count > 1 ? items[1].integer ?? 0 : 0)
        case "conflict":
            return .conflict(id: items.count > 1 ? items[1].text ?? "" : "", found: items.count > 2 ? items[2].text ?? "" : "")
        case "refused":
            let key = items.count > 1 ? items[1].text ?? "" : ""
            let why = items.count > 2 ? items[2].text ?? "" : ""
            // Not the key's fault: a replica (a master demoted by a failover: a new connection asks
            // the sentinels again), or a Redis out of memory (retried; nothing was written).
            if why.hasPrefix("READONLY") || why.hasPrefix("OOM") || why.hasPrefix("MISCONF") {
                throw RedisError(.reply, "Redis refused the batch: \(why)")
            }
            throw RedisError(.refused, "Redis key \(key) \(why): aimon cannot write its batch there. "
                + "Keys under '\(keys.prefix):' must be left to aimon: remove that key (or choose another redis.key_prefix); "
                + "reading is paused until then, and nothing is lost")
        default:
            throw RedisError(.protocolViolation, "unexpected reply to the commit script: \(reply)")
        }
    }

    /// The fields of this host's checkpoint hash that are not checkpoints: sources started (`~src:`)
    /// and the lease of a running daemon (`~run`).
    public static let markerPrefix = "~"

    /// This host's checkpoint hash as stored: checkpoints by file identity key (their text, for the
    /// commit's conditions) and the marker fields.
    public func loadCheckpoints(on redis: RedisConnection) throws(RedisError) -> (checkpoints: [String: String], markers: [String: String]) {
        let reply = try redis.command(["HGETALL", keys.checkpoints(host: host)])
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read checkpoints: \(e)") }
        var checkpoints: [String: String] = [:]
        var markers: [String: String] = [:]
        for (id, value) in reply.pairs {
            guard let text = value.text else { continue }
            if id.hasPrefix(Self.markerPrefix) { markers[id] = text } else { checkpoints[id] = text }
        }
        return (checkpoints, markers)
    }

    /// The host's commit sequence as Redis holds it (0: none yet).
    public func commitSequence(on redis: RedisConnection) throws(RedisError) -> Int64 {
        let reply = try redis.command(["HGET", keys.checkpoints(host: host), Self.sequenceField])
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read the commit sequence: \(e)") }
        return reply.text.flatMap { Int64($0) } ?? 0
    }

    /// The checkpoint hash's field holding the commit sequence.
    public static let sequenceField = markerPrefix + "seq"

    /// Models seen within `modelTTL` of `now`, with when they were last seen (for the model cap).
    public func loadModels(now: Int64, on redis: RedisConnection) throws(RedisError) -> [String: Int64] {
        let reply = try redis.command(["ZRANGEBYSCORE", keys.modelRegistry, String(now - modelTTL), "+inf", "WITHSCORES"])
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read the model registry \(keys.modelRegistry): \(e)") }
        var out: [String: Int64] = [:]
        for (model, score) in reply.pairs { out[model] = score.text.flatMap(Double.init).map { Int64(clamping: $0) } ?? now }
        return out
    }
}
