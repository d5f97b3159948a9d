/// How long buckets are kept: also the line between a usable event and a late one.
public struct Retention: Equatable, Sendable {
    public var minuteBuckets: Int64
    public var hourBuckets: Int64
    public init(minuteBuckets: Int64 = 48 * 3600, hourBuckets: Int64 = 35 * 86400) {
        self.minuteBuckets = minuteBuckets
        self.hourBuckets = hourBuckets
    }
}

/// A model's failures in a row, folded over one batch in event order.
///
/// With the run stored before the batch (`stored`), the run after it is `trailing` if the batch saw a
/// success, else `stored + trailing`; the longest run reached inside the batch is kept too, so a run
/// that starts and ends within one batch is not missed.
public struct FailureRun: Equatable, Sendable {
    public var sawSuccess = false
    /// Failures before the batch's first success (they extend the stored run).
    public var leading: Int64 = 0
    /// Failures after the batch's last success (all failures when there was none).
    public var trailing: Int64 = 0
    /// The longest run that both started and ended inside the batch.
    public var longestInside: Int64 = 0

    public init() {}

    public mutating func add(success: Bool) {
        if success {
            if sawSuccess { longestInside = max(longestInside, trailing) } else { leading = trailing }
            sawSuccess = true
            trailing = 0
        } else {
            trailing += 1
        }
    }

    /// The run after the batch, given the run stored before it.
    public func after(stored: Int64) -> Int64 { sawSuccess ? trailing : stored + trailing }

    /// The longest run reached during the batch, given the run stored before it.
    public func longest(stored: Int64) -> Int64 {
        sawSuccess ? max(stored + leading, longestInside, trailing) : stored + trailing
    }
}

/// Folds a batch of records into per-(model, bucket) deltas in memory: the batcher of DESIGN.md.
///
/// Pure: time is passed in. Every record lands twice, under its model and under all models (nil).
public struct WindowBatch: Sendable {
    public struct BucketKey: Hashable, Sendable {
        public var model: String?
        public var start: Int64
    }

    public let retention: Retention
    public private(set) var minute: [BucketKey: BucketCounts] = [:]
    public private(set) var hour: [BucketKey: BucketCounts] = [:]
    public private(set) var users: [BucketKey: Set<String>] = [:]
    public private(set) var errors: [BucketKey: [String: Int64]] = [:]
    public private(set) var runs: [String: FailureRun] = [:]
    /// The models the batch touched.
    public private(set) var models: Set<String> = []
    public private(set) var records = 0
    /// Records older than the hour-bucket retention: counted, not stored.
    public private(set) var late = 0

    public init(retention: Retention) { self.retention = retention }

    public var isEmpty: Bool { records == 0 && late == 0 }

    /// Adds one record; `now` is the ingest time, used when the record has no timestamp.
    public mutating func add(_ call: APICall, model: String, now: Double) {
        let time = call.timestamp ?? now
        let t = Int64(time.rounded(.down))
        let nowSeconds = Int64(now)
        guard t >= nowSeconds - retention.hourBuckets else { late += 1; return }
        records += 1
        let hourStart = t - Self.mod(t, 3600)
        if t >= nowSeconds - retention.minuteBuckets {
            let minuteStart = t - Self.mod(t, 60)
            minute[BucketKey(model: model, start: minuteStart), default: BucketCounts()].add(call)
            minute[BucketKey(model: nil, start: minuteStart), default: BucketCounts()].add(call)
        }
        let modelHour = BucketKey(model: model, start: hourStart)
        let allHour = BucketKey(model: nil, start: hourStart)
        hour[modelHour, default: BucketCounts()].add(call)
        hour[allHour, default: BucketCounts()].add(call)
        if let user = call.userID, !user.isEmpty {
            users[modelHour, default: []].insert(user)
            users[allHour, default: []].insert(user)
        }
        if !call.success {
            let message = ErrorMessage.normalise(call.errorMessage, status: call.statusCode)
            errors[modelHour, default: [:]][message, default: 0] += 1
            errors[allHour, default: [:]][message, default: 0] += 1
        }
        runs[model, default: FailureRun()].add(success: call.success)
        models.insert(model)
    }

    @inline(__always) static func mod(_ a: Int64, _ b: Int64) -> Int64 { ((a % b) + b) % b }
}

/// The set of known models, capped so that a flood of names cannot grow Redis without bound.
public struct ModelRegistry: Sendable {
    public static let overflowName = "(other)"
    public let capacity: Int
    public private(set) var known: Set<String>

    public init(capacity: Int, known: Set<String> = []) {
        self.capacity = capacity
        self.known = known
    }

    /// The name a record is stored under: itself while there is room, else the overflow name.
    public mutating func canonical(_ model: String) -> String {
        if known.contains(model) { return model }
        guard known.count < capacity else { return Self.overflowName }
        known.insert(model)
        return model
    }
}
