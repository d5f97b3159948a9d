/// Reads what the rules need from Redis (window snapshots, alert states) and stores alert states
/// with a compare-and-set, so that of several aimon processes on one Redis exactly one makes (and
/// announces) each transition.
public struct AlertStore: Sendable {
    public let keys: KeySchema
    /// Seconds an alert state is kept after its last change.
    public let stateTTL: Int64

    public init(keys: KeySchema, stateTTL: Int64) {
        self.keys = keys
        self.stateTTL = stateTTL
    }

    /// A subject's view: its snapshot and its states as stored (raw text kept for the compare-and-set).
    public struct Subject: Sendable {
        public var model: String?
        public var snapshot: WindowSnapshot
        public var stored: [AlertType: String]
        public var states: [AlertType: AlertState] {
            stored.reduce(into: [:]) { $0[$1.key] = AlertState(encoded: $1.value) ?? .inactive }
        }
    }

    static let minuteFields = ["calls", "ok", "fail", "lat_n", "lat_us"]
    /// With `slow_first_token`: the streamed calls' count, sum and histogram too.
    static let firstTokenFields = minuteFields + ["ttft_n", "ttft_us"] + (0...LatencyBuckets.bounds.count).map { "t\($0)" }

    /// Minute buckets already read, by subject and bucket start. A minute that is over changes only
    /// when a late line (or a lagging host) lands in it, so evaluations after batches reuse it and
    /// read just the last two minutes; the timer's evaluation reads everything again.
    public struct MinuteCache: Sendable {
        /// By subject: a model, or nil for all models.
        var values: [String?: [Int64: WindowSnapshot.Minute]] = [:]
        /// Whether the cached minutes carry the TTFT fields.
        var firstToken = false
        public init() {}
        public var count: Int { values.values.reduce(0) { $0 + $1.count } }
    }

    /// Reads the last `minutes` minute buckets, the failure run and the alert states of each subject
    /// in one pipeline. Minutes before the previous one come from `cache` unless `refresh`.
    public func read(_ models: [String?], minutes: Int, now: Double, cache: inout MinuteCache, refresh: Bool,
                     firstToken: Bool = false, on redis: RedisConnection) throws(RedisError) -> [Subject] {
        let fields = firstToken ? Self.firstTokenFields : Self.minuteFields
        // Cached minutes read without the TTFT fields would hide them: read every minute again.
        if firstToken && !cache.firstToken { cache = MinuteCache() }
        cache.firstToken = firstToken
        let current = Int64(now) - WindowBatch.mod(Int64(now), 60)
        let first = current - Int64(minutes - 1) * 60
        let reusableBefore = refresh ? first : current - 60
        var c = RedisCommands()
        for model in models {
            let cached = cache.values[model]
            for start in stride(from: first, through: current, by: 60) where start >= reusableBefore || cached?[start] == nil {
                c.append(["HMGET", keys.bucket(model, .minute, start: start)], fields)
            }
            if let model { c.append("HMGET", keys.failureRun(model), "n", "last", "ended", "announced") }
            c.append("HGETALL", keys.alertStates(model))
        }
        let replies = try redis.pipeline(c)
        var i = 0
        var out: [Subject] = []
        for model in models {
            var known = cache.values[model] ?? [:]
            var minuteCounts: [WindowSnapshot.Minute] = []
            minuteCounts.reserveCapacity(minutes)
            for start in stride(from: first, through: current, by: 60) {
                if start < reusableBefore, let m = known[start] { minuteCounts.append(m); continue }
                let v = try Self.values(replies[i]); i += 1
                var m = WindowSnapshot.Minute(calls: v[0], successes: v[1], failures: v[2], latencyCount: v[3], latencySumMicros: v[4])
                if firstToken && v.count >= fields.count {
                    m.ttftCount = v[5]
                    m.ttftSumMicros = v[6]
                    m.ttftHistogram = Array(v[7..<fields.count])
                }
                known[start] = m
                minuteCounts.append(m)
            }
            cache.values[model] = known.filter { $0.key >= first }
            var run: WindowSnapshot.Run?
            if model != nil {
                let r = try Self.values(replies[i]); i += 1
                let last = replies[i - 1].array.flatMap { $0.count > 1 ? $0[1].integer : nil }
                run = .init(current: r[0], id: r[2].addingSaturated(1), lastFailure: last.map { Double($0) / 1000 }, announced: r[3])
            }
            let statesReply = replies[i]; i += 1
            if case let .error(e) = statesReply { throw RedisError(.reply, "cannot read alert states: \(e)") }
            var stored: [AlertType: String] = [:]
            for (k, v) in statesReply.pairs { if let t = AlertType(rawValue: k), let s = v.text { stored[t] = s } }
            out.append(Subject(model: model, snapshot: WindowSnapshot(minutes: minuteCounts, run: run), stored: stored))
        }
        return out
    }

    /// Forgets subjects not evaluated any more (called after the timer's evaluation).
    public func prune(_ cache: inout MinuteCache, keeping models: [String?]) {
        let keep = Set(models)
        cache.values = cache.values.filter { keep.contains($0.key) }
    }

    /// Renews the TTL of the state hashes of subjects still alerting, and of the alerting set.
    public func keepAlive(_ models: [String?], on redis: RedisConnection) throws(RedisError) {
        guard !models.isEmpty else { return }
        var c = RedisCommands()
        for m in models { c.append("EXPIRE", keys.alertStates(m), String(stateTTL)) }
        c.append("EXPIRE", keys.alerting, String(stateTTL))
        for reply in try redis.pipeline(c) {
            if case let .error(e) = reply { throw RedisError(.reply, "cannot renew alert states: \(e)") }
        }
    }

    static func values(_ reply: RedisReply) throws(RedisError) -> [Int64] {
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read a window: \(e)") }
        return (reply.array ?? []).map { $0.integer ?? 0 } + [0, 0, 0, 0, 0]
    }

    /// Models with a state not inactive.
    public func alertingModels(on redis: RedisConnection) throws(RedisError) -> [String] {
        let reply = try redis.command(["SMEMBERS", keys.alerting])
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read \(keys.alerting): \(e)") }
        return (reply.array ?? []).compactMap(\.text)
    }

    /// Compare-and-set of a subject's changed states, all or none: true when they were as read
    /// (`old`) and are now `new`; false when another process changed them first. `announcedRun`
    /// raises the model's announced run number in the same step.
    public func swap(_ model: String?, _ changes: [(type: AlertType, old: String, new: String)], announcedRun: Int64? = nil,
                     on redis: RedisConnection) throws(RedisError) -> Bool {
        let runKey = model.map(keys.failureRun) ?? keys.alertStates(nil)
        var args = [model ?? "", String(stateTTL), announcedRun.map(String.init) ?? ""]
        for ch in changes { args += [ch.type.rawValue, ch.old, ch.new] }
        let reply = try redis.evaluate(Self.swapScript, keys: [keys.alertStates(model), keys.alerting, runKey], arguments: args)
        if case let .error(e) = reply { throw RedisError(.reply, "cannot store an alert state: \(e)") }
        return reply.integer == 1
    }

    /// KEYS: the subject's state hash, the alerting set, the model's run hash. ARGV: the model ("" for
    /// all models), the TTL, the announced run number ("" for none), then (field, expected, new)
    /// triples; "" is the inactive state (no field).
    static let swapScript = """
    for i = 4, #ARGV, 3 do
      local cur = redis.call('HGET', KEYS[1], ARGV[i]) or ''
      if cur ~= ARGV[i + 1] then return 0 end
    end
    if ARGV[3] ~= '' and tonumber(redis.call('HGET', KEYS[3], 'announced') or '0') < tonumber(ARGV[3]) then
      redis.call('HSET', KEYS[3], 'announced', ARGV[3])
    end
    for i = 4, #ARGV, 3 do
      if ARGV[i + 2] == '' then
        redis.call('HDEL', KEYS[1], ARGV[i])
      else
        redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
      end
    end
    if redis.call('HLEN', KEYS[1]) == 0 then
      if ARGV[1] ~= '' then redis.call('SREM', KEYS[2], ARGV[1]) end
    else
      redis.call('EXPIRE', KEYS[1], ARGV[2])
      if ARGV[1] ~= '' then
        redis.call('SADD', KEYS[2], ARGV[1])
        redis.call('EXPIRE', KEYS[2], ARGV[2])
      end
    end
    return 1
    """
}
