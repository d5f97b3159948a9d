/// Reads windows back from Redis for reports: sums of buckets over a trailing window.
public struct WindowReader {
    public let keys: KeySchema
    public let redis: RedisConnection
    /// `retention.minute_buckets` of the writers: how far back minute buckets exist, so that a
    /// window's first hour may be read as its hour less the minutes before the window. nil: unknown,
    /// that hour is read from its minutes.
    public var minuteRetention: Int64?

    public init(keys: KeySchema, redis: RedisConnection, minuteRetention: Int64? = nil) {
        self.keys = keys
        self.redis = redis
        self.minuteRetention = minuteRetention
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
        try members(from: from, to: to, keys.models(hour:))
    }

    /// The (model, deployment) pairs with an event in the hours overlapping [from, to), by name.
    public func deployments(from: Int64, to: Int64) throws(RedisError) -> [String] {
        try members(from: from, to: to, keys.deployments(hour:))
    }

    /// The union of the hourly sets `set(hour)` over the hours overlapping [from, to), sorted.
    private func members(from: Int64, to: Int64, _ set: (Int64) -> String) throws(RedisError) -> [String] {
        var c = RedisCommands()
        var hour = from - WindowBatch.mod(from, 3600)
        while hour < to {
            c.append("SMEMBERS", set(hour))
            hour += 3600
        }
        var names = Set<String>()
        for reply in try redis.pipeline(c) {
            if case let .error(e) = reply { throw RedisError(.reply, e) }
            for m in reply.array ?? [] { if let t = m.text { names.insert(t) } }
        }
        return names.sorted()
    }

    /// One bucket read of a window's sum: added, or taken away (`subtract`).
    public struct BucketTerm: Equatable, Sendable {
        public var key: String
        public var subtract: Bool
    }

    /// The bucket reads that make up a window, as few as the sums allow. Whole hours inside a
    /// minute-resolution window are read from their hour bucket (the same sums, 60 times fewer
    /// keys). A partial hour at an edge is read from its minute buckets, or, when that takes fewer
    /// reads, as its hour bucket minus the minutes outside the window: every commit adds a call to
    /// its minute and its hour bucket together, so the difference is exact. For the first hour that
    /// needs the minutes before the window to still exist (`minuteRetention`, with 5 minutes to
    /// spare for clocks of other hosts); the minutes after the last one are in the future, and hold
    /// only the calls of clocks running ahead (within `ingest.max_clock_skew`), which the window
    /// leaves out.
    ///
    /// `now` (default: the end of the starts) is when the window ends: minutes older than
    /// `now - minuteRetention` are gone, whatever part of the window the starts are (the system
    /// report reads each hour of its window on its own).
    public func bucketTerms(_ model: String?, _ resolution: KeySchema.Resolution, starts: [Int64], now: Int64? = nil) -> [BucketTerm] {
        guard resolution == .minute, let first = starts.first, let last = starts.last, last - first == Int64(starts.count - 1) * 60 else {
            return starts.map { BucketTerm(key: keys.bucket(model, resolution, start: $0), subtract: false) }
        }
        let to = last + 60
        var out: [BucketTerm] = []
        func add(_ r: KeySchema.Resolution, _ start: Int64, subtract: Bool = false) {
            out.append(BucketTerm(key: keys.bucket(model, r, start: start), subtract: subtract))
        }
        func minutes(_ from: Int64, _ to: Int64, subtract: Bool = false) {
            for m in stride(from: from, to: to, by: 60) { add(.minute, m, subtract: subtract) }
        }
        var m = first
        let firstHour = first - WindowBatch.mod(first, 3600)
        if firstHour != first {
            // The first hour, in part.
            let end = min(firstHour + 3600, to)
            let direct = (end - first) / 60
            let before = (first - firstHour) / 60
            let alive = minuteRetention.map { firstHour >= max(to, now ?? to) - $0 + 300 } ?? false
            if end == firstHour + 3600 && alive && 1 + before < direct {
                add(.hour, firstHour)
                minutes(firstHour, first, subtract: true)
            } else {
                minutes(first, end)
            }
            m = end
        }
        while m + 3600 <= to {
            add(.hour, m)
            m += 3600
        }
        if m < to {
            // The last hour, in part: its first minutes, or the hour less the minutes after `to`.
            let direct = (to - m) / 60
            let after = (m + 3600 - to) / 60
            if 1 + after < direct {
                add(.hour, m)
                minutes(to, m + 3600, subtract: true)
            } else {
                minutes(m, to)
            }
        }
        return out
    }

    /// Sum of the buckets of one model (nil: all models) at the given starts.
    public func sum(_ model: String?, _ resolution: KeySchema.Resolution, starts: [Int64]) throws(RedisError) -> BucketCounts {
        var c = RedisCommands()
        let terms = appendSum(&c, model, resolution, starts: starts)
        return try Self.sum(try redis.pipeline(c)[...], terms: terms)
    }

    /// Queues the reads of a sum (HGETALL of each bucket: a bucket holds only the fields it has, and
    /// Redis answers HGETALL about twice as fast as an HMGET of every field); returns, per reply
    /// they give, whether it is taken away.
    func appendSum(_ c: inout RedisCommands, _ model: String?, _ resolution: KeySchema.Resolution, starts: [Int64]) -> [Bool] {
        let terms = bucketTerms(model, resolution, starts: starts)
        for t in terms { c.append("HGETALL", t.key) }
        return terms.map(\.subtract)
    }

    /// Adds up the first replies of an `appendSum`, one per term.
    static func sum(_ replies: ArraySlice<RedisReply>, terms: [Bool]) throws(RedisError) -> BucketCounts {
        var total = BucketCounts()
        var less = BucketCounts()
        for (reply, subtract) in zip(replies.prefix(terms.count), terms) {
            if case let .error(e) = reply { throw RedisError(.reply, e) }
            guard let items = reply.array, !items.isEmpty else { continue }
            if subtract { less.merge(BucketCounts(hash: items)) } else { total.merge(BucketCounts(hash: items)) }
        }
        total.subtract(less)
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
        var plan: [(sums: [Bool], errors: Int)] = []
        for m in models {
            plan.append((appendSum(&c, m, w.resolution, starts: w.starts), appendErrors(&c, m, from: w.from, to: w.to)))
        }
        let replies = try redis.pipeline(c)
        var i = 0
        var out: [ModelPerformance] = []
        for (m, p) in zip(models, plan) {
            let counts = try Self.sum(replies[i...], terms: p.sums)
            i += p.sums.count
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
