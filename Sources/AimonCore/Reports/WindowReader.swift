/// Reads windows back from Redis for reports: sums of buckets over a trailing window.
public struct WindowReader {
    public let keys: KeySchema
    public let redis: RedisConnection

    public init(keys: KeySchema, redis: RedisConnection) {
        self.keys = keys
        self.redis = redis
    }

    /// The trailing window of `hours` ending now: minute buckets up to 48 h, hour buckets beyond.
    /// Returns the bucket starts and the [from, to) range they cover.
    public static func window(hours: Double, now: Double) -> (resolution: KeySchema.Resolution, starts: [Int64], from: Int64, to: Int64) {
        let resolution: KeySchema.Resolution = hours <= 48 ? .minute : .hour
        let width = resolution.seconds
        let current = Int64(now) - WindowBatch.mod(Int64(now), width)
        let count = max(1, Int64((hours * 3600 / Double(width)).rounded(.up)))
        let starts = (0..<count).map { current - (count - 1 - $0) * width }
        return (resolution, starts, starts[0], current + width)
    }

    /// Models with an event in the hours overlapping [from, to), by name.
    public func models(from: Int64, to: Int64) throws(RedisError) -> [String] {
        var c = RedisCommands()
        var hour = from - WindowBatch.mod(from, 3600)
        while hour < to {
            c.append("SMEMBERS", keys.models(hour: hour))
            hour += 3600
        }
        var names = Set<String>()
        for reply in try redis.pipeline(c) {
            if case let .error(e) = reply { throw RedisError(.reply, e) }
            for m in reply.array ?? [] { if let t = m.text { names.insert(t) } }
        }
        return names.sorted()
    }

    /// The bucket keys that make up a window: whole hours inside a minute-resolution window are read
    /// from their hour bucket (the same sums, 60 times fewer keys), the partial hours at its edges from
    /// minute buckets.
    public func bucketKeys(_ model: String?, _ resolution: KeySchema.Resolution, starts: [Int64]) -> [String] {
        guard resolution == .minute else { return starts.map { keys.bucket(model, resolution, start: $0) } }
        var out: [String] = []
        var i = 0
        while i < starts.count {
            let s = starts[i]
            if WindowBatch.mod(s, 3600) == 0, i + 59 < starts.count, starts[i + 59] == s + 3540 {
                out.append(keys.bucket(model, .hour, start: s))
                i += 60
            } else {
                out.append(keys.bucket(model, .minute, start: s))
                i += 1
            }
        }
        return out
    }

    /// Sum of the buckets of one model (nil: all models) at the given starts.
    public func sum(_ model: String?, _ resolution: KeySchema.Resolution, starts: [Int64]) throws(RedisError) -> BucketCounts {
        var c = RedisCommands()
        let n = appendSum(&c, model, resolution, starts: starts)
        return try Self.sum(try redis.pipeline(c)[...], count: n)
    }

    /// Queues the reads of a sum (HMGET of every bucket field, in `BucketCounts.fieldNames` order);
    /// returns how many replies they give.
    func appendSum(_ c: inout RedisCommands, _ model: String?, _ resolution: KeySchema.Resolution, starts: [Int64]) -> Int {
        let keys = bucketKeys(model, resolution, starts: starts)
        for key in keys { c.append(["HMGET", key], BucketCounts.fieldNames) }
        return keys.count
    }

    /// Adds up the first `count` replies of an `appendSum`.
    static func sum(_ replies: ArraySlice<RedisReply>, count: Int) throws(RedisError) -> BucketCounts {
        var total = BucketCounts()
        for reply in replies.prefix(count) {
            if case let .error(e) = reply { throw RedisError(.reply, e) }
            guard let values = reply.array, values.contains(where: { $0 != .null }) else { continue }
            total.merge(BucketCounts(values: values.map(\.integer)))
        }
        return total
    }

    /// Most frequent errors over the hours [from, to), most frequent first (ties by message).
    public func topErrors(_ model: String?, from: Int64, to: Int64, limit: Int = 5) throws(RedisError) -> [(message: String, count: Int64)] {
        var c = RedisCommands()
        let n = appendErrors(&c, model, from: from, to: to)
        return Self.topErrors(try redis.pipeline(c)[...], count: n, limit: limit)
    }

    func appendErrors(_ c: inout RedisCommands, _ model: String?, from: Int64, to: Int64) -> Int {
        var hour = from - WindowBatch.mod(from, 3600)
        var n = 0
        while hour < to {
            c.append("HGETALL", keys.errors(model, hour: hour))
            hour += 3600
            n += 1
        }
        return n
    }

    static func topErrors(_ replies: ArraySlice<RedisReply>, count: Int, limit: Int) -> [(message: String, count: Int64)] {
        var counts: [String: Int64] = [:]
        for reply in replies.prefix(count) {
            for (k, v) in reply.pairs { counts[k, default: 0] += v.integer ?? 0 }
        }
        // The others (past ingest.max_error_messages) are shown under their label.
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(limit).map { (message: $0.key == ErrorMessage.others ? ErrorMessage.othersLabel : $0.key, count: $0.value) }
    }

    /// `get_model_performance` for several models over the trailing `hours`, in one round trip.
    public func performances(models: [String], hours: Double, now: Double) throws(RedisError) -> [ModelPerformance] {
        let w = Self.window(hours: hours, now: now)
        var c = RedisCommands()
        var plan: [(sums: Int, errors: Int)] = []
        for m in models {
            plan.append((appendSum(&c, m, w.resolution, starts: w.starts), appendErrors(&c, m, from: w.from, to: w.to)))
        }
        let replies = try redis.pipeline(c)
        var i = 0
        var out: [ModelPerformance] = []
        for (m, p) in zip(models, plan) {
            let counts = try Self.sum(replies[i...], count: p.sums)
            i += p.sums
            let errors = Self.topErrors(replies[i...], count: p.errors, limit: 5)
            i += p.errors
            out.append(ModelPerformance(model: m, counts: counts, topErrors: errors, from: w.from, to: w.to, resolution: w.resolution))
        }
        return out
    }

    /// The seed's `get_model_performance` over the trailing `hours`.
    public func performance(model: String, hours: Double, now: Double) throws(RedisError) -> ModelPerformance {
        try performances(models: [model], hours: hours, now: now)[0]
    }
}
