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
/// The store adds `leading` (or, without a success, `trailing`) to the stored run and reads the sum
/// back in the same transaction: the length of the run the batch's first success ended. After a
/// success the stored run becomes `trailing`. A run that starts and ends within the batch is kept
/// in `longestInside`, so it is not missed.
public struct FailureRun: Equatable, Sendable {
    public var sawSuccess = false
    /// Failures before the batch's first success (they extend the stored run).
    public var leading: Int64 = 0
    /// Failures after the batch's last success (all failures when there was none).
    public var trailing: Int64 = 0
    /// The longest run that both started and ended inside the batch.
    public var longestInside: Int64 = 0
    /// Event time of the batch's latest failure (nil: no failure): alerts announce only recent runs.
    public var lastFailure: Double?

    public init() {}

    public mutating func add(success: Bool, at time: Double = 0) {
        if !success { lastFailure = max(lastFailure ?? time, time) }
        if success {
            if sawSuccess { longestInside = max(longestInside, trailing) } else { leading = trailing }
            sawSuccess = true
            trailing = 0
        } else {
            trailing += 1
        }
    }
}

/// Folds a batch of records into per-(model, bucket) deltas in memory: the batcher of DESIGN.md.
///
/// Pure: time is passed in. The hot path costs one model lookup per record: each model has a slot
/// whose buckets are keyed by their start time, with the current minute and hour kept aside (records
/// mostly arrive in time order). The all-models figures (model nil in the views) are summed once,
/// when the batch is read, rather than on every record.
public struct WindowBatch: Sendable {
    public struct BucketKey: Hashable, Sendable {
        public var model: String?
        public var start: Int64
    }

    /// One model's part of the batch.
    struct Slot: Sendable {
        var minute: [Int64: BucketCounts] = [:]
        var hour: [Int64: BucketCounts] = [:]
        var users: [Int64: UserSet] = [:]
        var errors: [Int64: [String: Int64]] = [:]
        var run = FailureRun()
        var currentMinute: Int64 = .min
        var currentMinuteCounts = BucketCounts()
        var currentHour: Int64 = .min
        var currentHourCounts = BucketCounts()
        /// The users of `currentHour`, kept aside as its counts are.
        var currentUsers = UserSet()

        mutating func flush() {
            if currentMinute != .min { minute[currentMinute, default: BucketCounts()].merge(currentMinuteCounts) }
            if currentHour != .min { hour[currentHour, default: BucketCounts()].merge(currentHourCounts) }
            if currentHour != .min { putBackUsers() }
            currentMinute = .min
            currentHour = .min
            currentMinuteCounts = BucketCounts()
            currentHourCounts = BucketCounts()
            currentUsers = UserSet()
        }

        /// `start` becomes the current hour (before `roll` moves its counts): the users go the same way.
        mutating func rollUsers(to start: Int64) {
            if currentHour != .min { putBackUsers() }
            currentUsers = users.removeValue(forKey: start) ?? UserSet()
        }

        /// The current hour's users back with the others: moved, not copied (the hour's set was taken
        /// out when it became current), so records that go back and forth across an hour cost nothing more.
        private mutating func putBackUsers() {
            guard !currentUsers.isEmpty else { return }
            if var stored = users.removeValue(forKey: currentHour) {
                if stored.count < currentUsers.count { swap(&stored, &currentUsers) }
                stored.formUnion(currentUsers)
                users[currentHour] = stored
            } else {
                users[currentHour] = currentUsers
            }
            currentUsers = UserSet()
        }
    }

    public let retention: Retention
    public let limits: RecordLimits
    /// Costs for calls whose log gives tokens and no cost (`prices:`).
    public let prices: Prices
    var slots: [Slot] = []
    var slotNames: [String] = []
    /// Stored name -> slot (several names as written can share one: the overflow).
    private var slotByName: [String: Int] = [:]
    /// Whether a slot is a (model, deployment) pair's.
    var slotIsPair: [Bool] = []
    /// Model as written -> deployment as written -> its pair's slot.
    private var pairIndex: [String: [String: Int]] = [:]
    /// Model name as written in the log -> slot (names over the model cap share the overflow slot).
    private var slotIndex: [String: Int] = [:]
    /// The first models seen, looked for before `slotIndex`: comparing a few names costs less than
    /// hashing one (most logs have a handful of models).
    private var recent: [(model: String, slot: Int)] = []
    /// Models and (model, deployment) pairs the batch holds.
    public var slotCount: Int { slots.count }
    public internal(set) var records = 0
    /// Records older than the hour-bucket retention: counted, not stored.
    public internal(set) var late = 0

    /// Distinct error messages kept per model and hour; further ones are counted under
    /// `ErrorMessage.others`.
    public let maxErrorMessages: Int

    public init(retention: Retention, limits: RecordLimits = .default, maxErrorMessages: Int = 50, prices: Prices = Prices()) {
        self.retention = retention
        self.limits = limits
        self.prices = prices
        self.maxErrorMessages = maxErrorMessages
    }

    /// Adds one record; `now` is the ingest time, used when the record has no timestamp. The model is
    /// stored under the name `registry` gives it (itself, or the overflow name past the cap). `policy`
    /// (the source's) says which failure classes count as failures.
    ///
    /// The record's time must lie in its domain: not after now plus `limits.maxClockSkew`
    /// (`future_timestamp` is thrown, nothing is added). A time before the hour-bucket retention is
    /// counted in `late` and dropped.
    ///
    /// False, with nothing added, only when `registry` is a snapshot (`ModelRegistry.snapshot`) that
    /// cannot place the call's model or pair: the real registry must decide.
    @discardableResult
    public mutating func add(_ call: APICall, policy: FailurePolicy = .default, registry: inout ModelRegistry, now: Double) throws(ParseFailure) -> Bool {
        let time = try limits.eventTime(call, now: now)
        // 0 <= time <= now + a day: every figure below fits an Int64 with room to spare.
        let t = Int64(time.rounded(.down))
        guard t >= Int64(now) - retention.hourBuckets else { late += 1; return true }
        let slot: Int
        if let i = recent.firstIndex(where: { $0.model == call.model }) {
            slot = recent[i].slot
        } else if let i = slotIndex[call.model] {
            slot = i
        } else {
            guard let name = registry.resolve(call.model, now: now) else { return false }
            slot = self.slot(named: name, pair: false)
            slotIndex[call.model] = slot
            if recent.count < 8 { recent.append((call.model, slot)) }
        }
        // A deployment name is bounded as a model's is; a longer one is no deployment (the call counts).
        var pair: Int?
        if let deployment = call.deployment, !deployment.isEmpty, deployment.utf8.count <= RecordLimits.maxModelBytes {
            if let i = pairIndex[call.model]?[deployment] {
                pair = i
            } else {
                guard let name = registry.resolvePair(model: slotNames[slot], deployment: deployment, now: now) else { return false }
                pair = self.slot(named: name, pair: true)
                pairIndex[call.model, default: [:]][deployment] = pair
            }
        }
        records += 1
        // A cost from `prices:` where the log has none, once per call (its model and its pair share
        // it); the call is copied only then, not on every line.
        if !prices.isEmpty, call.cost == nil, let cost = prices.cost(of: call) {
            var priced = call
            priced.cost = cost
            place(priced, policy: policy, slot: slot, pair: pair, time: time, second: t, now: now)
        } else {
            place(call, policy: policy, slot: slot, pair: pair, time: time, second: t, now: now)
        }
        return true
    }

    /// Whether `add` can place the call with this registry (always, unless it is a snapshot).
    func canPlace(_ call: APICall, registry: ModelRegistry, now: Double) -> Bool {
        guard registry.isSnapshot else { return true }
        let stored: String
        if let i = slotIndex[call.model] {
            stored = slotNames[i]
        } else {
            var probe = registry  // resolve's answer, without keeping what it notes
            guard let name = probe.resolve(call.model, now: now) else { return false }
            stored = name
        }
        guard let deployment = call.deployment, !deployment.isEmpty, deployment.utf8.count <= RecordLimits.maxModelBytes else { return true }
        return pairIndex[call.model]?[deployment] != nil || registry.canPlace(pairOf: stored, deployment: deployment, now: now)
    }

    /// The places this batch gave names with the registry itself, for snapshots (`ModelRegistry.Decisions`).
    func decisions() -> ModelRegistry.Decisions {
        var d = ModelRegistry.Decisions()
        for (written, slot) in slotIndex { d.models[written] = slotNames[slot] }
        for (written, deployments) in pairIndex {
            guard let slot = slotIndex[written] else { continue }
            for (deployment, pair) in deployments { d.pairs[Deployment.pair(slotNames[slot], deployment)] = slotNames[pair] }
        }
        return d
    }

    /// Adds a call to its model's slot and, with a deployment, to its pair's.
    @inline(__always)
    private mutating func place(_ call: APICall, policy: FailurePolicy, slot: Int, pair: Int?, time: Double, second t: Int64, now: Double) {
        add(call, policy: policy, slot: slot, time: time, second: t, now: Int64(now))
        if let pair { add(call, policy: policy, slot: pair, time: time, second: t, now: Int64(now)) }
    }

    mutating func slot(named name: String, pair: Bool) -> Int {
        if let i = slotByName[name] { return i }
        slotByName[name] = slots.count
        slots.append(Slot())
        slotNames.append(name)
        slotIsPair.append(pair)
        return slots.count - 1
    }

    private mutating func add(_ call: APICall, policy: FailurePolicy, slot i: Int, time: Double, second t: Int64, now nowSeconds: Int64) {
        let pair = slotIsPair[i]
        let hourStart = t - Self.mod(t, 3600)
        slots.withUnsafeMutableBufferPointer { buf in
            if t >= nowSeconds - retention.minuteBuckets {
                Self.roll(&buf[i].currentMinute, &buf[i].currentMinuteCounts, &buf[i].minute, to: t - Self.mod(t, 60))
                buf[i].currentMinuteCounts.add(call, policy: policy)
            }
            if buf[i].currentHour != hourStart { buf[i].rollUsers(to: hourStart) }
            Self.roll(&buf[i].currentHour, &buf[i].currentHourCounts, &buf[i].hour, to: hourStart)
            buf[i].currentHourCounts.add(call, policy: policy)
            if !pair, let user = call.userID, !user.isEmpty { buf[i].currentUsers.insert(user) }
            if !call.success {
                var message = ErrorMessage.normalise(call.errorMessage, status: call.statusCode)
                if let seen = buf[i].errors[hourStart], seen[message] == nil,
                   seen.count - (seen[ErrorMessage.others] == nil ? 0 : 1) >= maxErrorMessages {
                    message = ErrorMessage.others
                }
                buf[i].errors[hourStart, default: [:]][message, default: 0] += 1
            }
            // A failure the source does not count neither extends a run nor ends one.
            if call.success || policy.counts(call.outcome) { buf[i].run.add(success: call.success, at: time) }
        }
    }

    /// Makes `start` the current bucket: the previous current one goes back to `stored`.
    @inline(__always) private static func roll(_ current: inout Int64, _ counts: inout BucketCounts,
                                               _ stored: inout [Int64: BucketCounts], to start: Int64) {
        guard current != start else { return }
        if current != .min {
            stored[current, default: BucketCounts()].merge(counts)
            counts = stored.removeValue(forKey: start) ?? BucketCounts()
        }
        current = start
    }

    // MARK: - Views, built once per batch (model nil: all models)

    /// Puts every slot's current buckets with the others, once the batch is read: the views then
    /// need no copy of the slots (adding more records after it is fine).
    public mutating func finish() {
        for i in slots.indices { slots[i].flush() }
    }

    private var flushedSlots: [Slot] {
        slots.contains { $0.currentMinute != .min || $0.currentHour != .min } ? slots.map { var s = $0; s.flush(); return s } : slots
    }

    /// Minute buckets by (model or pair, start), with the all-models sums (of models only).
    public var minute: [BucketKey: BucketCounts] { Self.view(flushedSlots, slotNames, slotIsPair, minutes: true) }
    /// Hour buckets by (model or pair, start), with the all-models sums (of models only).
    public var hour: [BucketKey: BucketCounts] { Self.view(flushedSlots, slotNames, slotIsPair, minutes: false) }

    /// The (model, deployment) pairs of each hour the batch touched.
    public var deployments: [Int64: Set<String>] {
        var out: [Int64: Set<String>] = [:]
        for (i, slot) in slots.enumerated() where slotIsPair[i] {
            for start in slot.hour.keys { out[start, default: []].insert(slotNames[i]) }
            if slot.currentHour != .min { out[slot.currentHour, default: []].insert(slotNames[i]) }
        }
        return out
    }

    public var users: [BucketKey: Set<String>] {
        var out: [BucketKey: Set<String>] = [:]
        for (name, slot) in zip(slotNames, flushedSlots) {
            for (hour, set) in slot.users {
                let users = Set(set.items)
                out[BucketKey(model: name, start: hour)] = users
                out[BucketKey(model: nil, start: hour), default: []].formUnion(users)
            }
        }
        return out
    }

    public var errors: [BucketKey: [String: Int64]] {
        var out: [BucketKey: [String: Int64]] = [:]
        for (i, (name, slot)) in zip(slotNames, slots).enumerated() {
            for (hour, counts) in slot.errors {
                out[BucketKey(model: name, start: hour)] = counts
                if !slotIsPair[i] { out[BucketKey(model: nil, start: hour), default: [:]].merge(counts, uniquingKeysWith: +) }
            }
        }
        return out
    }

    /// Failure runs by model and by (model, deployment) pair.
    public var runs: [String: FailureRun] { Dictionary(uniqueKeysWithValues: zip(slotNames, slots.map(\.run))) }

    /// The models the batch touched (not the pairs).
    public var models: Set<String> { Set(slotNames.indices.filter { !slotIsPair[$0] }.map { slotNames[$0] }) }

    private static func view(_ slots: [Slot], _ names: [String], _ pairs: [Bool], minutes: Bool) -> [BucketKey: BucketCounts] {
        var out: [BucketKey: BucketCounts] = [:]
        for (i, (name, slot)) in zip(names, slots).enumerated() {
            for (start, counts) in minutes ? slot.minute : slot.hour {
                out[BucketKey(model: name, start: start)] = counts
                if !pairs[i] { out[BucketKey(model: nil, start: start), default: BucketCounts()].merge(counts) }
            }
        }
        return out
    }

    @inline(__always) static func mod(_ a: Int64, _ b: Int64) -> Int64 { ((a % b) + b) % b }
}

/// The models under the cap (`ingest.max_models`), so that a flood of names cannot grow Redis without
/// bound; a model not seen for `ttl` seconds frees its place, so a flood of junk names does not fold
/// every later model into the overflow for good.
public struct ModelRegistry: Sendable {
    /// Where models past the cap are counted: the empty name, which no log can write (a record
    /// without a model is a bad line), so no real model merges with it.
    public static let overflowName = ""
    /// How reports and alerts show the overflow model.
    public static let overflowLabel = "(other models)"

    public let capacity: Int
    /// Seconds a model keeps its place after it was last seen.
    public let ttl: Double
    /// Model -> when it was last seen (seconds since the epoch).
    public var lastSeen: [String: Double] { models.seen }
    private var models: Slots
    /// (model, deployment) pairs kept (`ingest.max_deployments`), by pair name, as models are.
    public var deploymentCapacity: Int { pairs.capacity }
    private var pairs: Slots

    /// Names holding a place under a cap, by when each was last seen.
    private struct Slots: Sendable {
        let capacity: Int
        var seen: [String: Double]
        var lastEviction = -Double.infinity

        init(capacity: Int, seen: [String: Double] = [:]) {
            self.capacity = capacity
            self.seen = seen
        }

        /// Whether `name` has (or now takes) a place; names unseen for `ttl` give theirs up, looked
        /// for at most once a minute (a cap full of fresh names costs nothing per new name).
        mutating func admit(_ name: String, now: Double, ttl: Double) -> Bool {
            if seen[name] != nil {
                seen[name] = now
                return true
            }
            if seen.count >= capacity, now - lastEviction >= 60 {
                lastEviction = now
                seen = seen.filter { $0.value >= now - ttl }
            }
            guard seen.count < capacity else { return false }
            seen[name] = now
            return true
        }

        /// Whether `admit` refuses every name it does not have until `now` has moved on: the cap
        /// is full and the names past their time were looked for less than a minute ago.
        func refusesNew(now: Double) -> Bool { seen.count >= capacity && now - lastEviction < 60 }
    }

    public init(capacity: Int, ttl: Double = 86_400, known: [String: Double] = [:], deployments: Int = 1000) {
        self.capacity = capacity
        self.ttl = ttl
        models = Slots(capacity: capacity, seen: known)
        pairs = Slots(capacity: deployments)
    }

    /// The name a (model, deployment) pair is stored under: `Deployment.pair(model, deployment)`
    /// while there is room, else the model's overflow pair, shown as "(other deployments)".
    public mutating func canonicalPair(model: String, deployment: String, now: Double) -> String {
        let name = Deployment.pair(model, deployment)
        return pairs.admit(name, now: now, ttl: ttl) ? name : Deployment.pair(model, Deployment.overflowName)
    }

    /// The name a record is stored under: itself while there is room, else the overflow name.
    public mutating func canonical(_ model: String, now: Double) -> String {
        models.admit(model, now: now, ttl: ttl) ? model : Self.overflowName
    }

    // MARK: - Snapshots, for folds beside the ingest thread

    /// Whether this is a snapshot (`snapshot`): it places only names whose place cannot change within
    /// the batch, and changes nothing.
    private(set) var isSnapshot = false
    /// The places the batch being read gave names (as the registry itself did), which a snapshot
    /// gives them too: a batch keeps the place it gave a name, the overflow's included.
    struct Decisions: Sendable {
        /// Model as written -> stored name.
        var models: [String: String] = [:]
        /// `Deployment.pair(stored model, deployment as written)` -> stored pair name.
        var pairs: [String: String] = [:]
    }
    private var decided = Decisions()
    /// The names a snapshot placed (models, then pairs): `replay` tells the registry they were seen.
    private(set) var placedModels: [String] = []
    private(set) var placedPairs: [String] = []

    /// A copy for a fold on another thread. It places a model or pair only where the registry's answer
    /// cannot depend on what else the batch brings: a name it holds for good (seen within `ttl` of
    /// `now`: no eviction at `now` can take it), a name the batch being read already placed
    /// (`decided`, the overflow's included: a batch keeps the place it gave), and a name it does not
    /// have while it refuses every new one (`refusesNew`: the overflow). For any other name it
    /// answers nil, and the line is left to the registry (`resolve`).
    func snapshot(decided: Decisions = Decisions()) -> ModelRegistry {
        var copy = self
        copy.isSnapshot = true
        copy.decided = decided
        copy.placedModels = []
        copy.placedPairs = []
        return copy
    }

    /// Tells this registry of the names a snapshot placed at `now` (as if it had placed them itself).
    mutating func replay(_ snapshot: ModelRegistry, now: Double) {
        for name in snapshot.placedModels {
            let admitted = models.admit(name, now: now, ttl: ttl)
            assert(admitted, "a snapshot placed a model its registry no longer holds")
        }
        for name in snapshot.placedPairs {
            let admitted = pairs.admit(name, now: now, ttl: ttl)
            assert(admitted, "a snapshot placed a pair its registry no longer holds")
        }
    }

    private func holds(model: String, now: Double) -> Bool { models.seen[model].map { $0 >= now - ttl } ?? false }
    private func holds(pair: String, now: Double) -> Bool { pairs.seen[pair].map { $0 >= now - ttl } ?? false }

    /// Whether a snapshot can place this pair of a stored model name.
    func canPlace(pairOf model: String, deployment: String, now: Double) -> Bool {
        var probe = self  // resolvePair's answer, without keeping what it notes
        return probe.resolvePair(model: model, deployment: deployment, now: now) != nil
    }

    /// The name a model is stored under; nil only from a snapshot that cannot tell.
    mutating func resolve(_ model: String, now: Double) -> String? {
        guard isSnapshot else { return canonical(model, now: now) }
        if let stored = decided.models[model] { return stored }
        if models.seen[model] == nil, models.refusesNew(now: now) { return Self.overflowName }
        guard holds(model: model, now: now) else { return nil }
        placedModels.append(model)
        return model
    }

    /// The name a (model, deployment) pair is stored under (`model`: the model's stored name); nil
    /// only from a snapshot that cannot tell.
    mutating func resolvePair(model: String, deployment: String, now: Double) -> String? {
        guard isSnapshot else { return canonicalPair(model: model, deployment: deployment, now: now) }
        let name = Deployment.pair(model, deployment)
        if let stored = decided.pairs[name] { return stored }
        if pairs.seen[name] == nil, pairs.refusesNew(now: now) { return Deployment.pair(model, Deployment.overflowName) }
        guard holds(pair: name, now: now) else { return nil }
        placedPairs.append(name)
        return name
    }

    /// A fresher snapshot keeps the names this one placed (they are told to the registry once).
    mutating func keepPlaced(of older: ModelRegistry) {
        placedModels = older.placedModels + placedModels
        placedPairs = older.placedPairs + placedPairs
    }

    /// How a stored model name is shown.
    public static func label(_ model: String) -> String { model == overflowName ? overflowLabel : model }
}

/// A (model, deployment) pair has its own buckets under one name: the model, U+001F (a control
/// character no gateway puts in a name), and the deployment. Pairs are kept apart from models: they
/// are not in the all-models sums, the models of an hour, or the model registry.
public enum Deployment {
    public static let separator: Character = "\u{1F}"
    /// Where deployments past `ingest.max_deployments` are counted, per model.
    public static let overflowName = ""
    public static let overflowLabel = "(other deployments)"

    public static func pair(_ model: String, _ deployment: String) -> String { model + String(separator) + deployment }

    @inline(__always) public static func isPair(_ name: String) -> Bool { name.utf8.contains(0x1F) }

    /// (model, deployment) of a pair name; nil for a model's name.
    public static func split(_ name: String) -> (model: String, deployment: String)? {
        guard let i = name.firstIndex(of: separator) else { return nil }
        return (String(name[..<i]), String(name[name.index(after: i)...]))
    }

    public static func label(_ deployment: String) -> String { deployment == overflowName ? overflowLabel : deployment }
}
