/// Evaluates the `spend` rules (SpendRule.swift) on the timer's evaluation, against what Redis holds.
///
/// A period's spend is the `cost_nusd` of its hour buckets, from its start to now (all models, or
/// each model). Hours already read are kept; the last two are read at every evaluation, and all of
/// them every `refreshEvery` seconds (late lines, lagging hosts).
///
/// Once per period, across processes and restarts: a threshold is announced by the process whose
/// `SADD` to the period's announced set adds it (one script also records it in the active hash); when
/// the period is over (or the rule no longer has the threshold), the process whose `HDEL` removes it
/// from the active hash announces the resolution. The announced set outlives the period, so a
/// process with a slow clock cannot announce it again.
final class SpendWatcher {
    struct Cost: Equatable {
        var calls: Int64 = 0
        var nanos: Int64 = 0
        mutating func add(_ o: Cost) { calls = calls.addingSaturated(o.calls); nanos = nanos.addingSaturated(o.nanos) }
    }

    /// One hour bucket's cost: all models, and by model when a rule is per model.
    struct Hour {
        var all = Cost()
        var models: [String: Cost]?
    }

    private let keys: KeySchema
    private let stateTTL: Int64
    private var hours: [Int64: Hour] = [:]
    private var lastFullRead = -Double.infinity
    static let refreshEvery = 300.0
    /// This process's mark on what it announces and resolves, so that a script whose reply was lost
    /// (it may or may not have run) can be told apart at the next evaluation.
    private let owner = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    /// Announcements and resolutions whose script's reply was lost, by field.
    private var unsure: [String: (entry: Entry, resolved: Bool, withdrawn: Bool)] = [:]
    /// Tests: called between reading the active alerts and announcing (another process moving first).
    var beforeAnnounce: (() -> Void)?
    /// Tests: called after a script ran, as a reply lost on the way back would.
    var afterScript: (() throws(RedisError) -> Void)?
    /// Hours read from Redis by the last evaluation (tests).
    private(set) var hoursRead = 0

    init(keys: KeySchema, stateTTL: Int64) {
        self.keys = keys
        self.stateTTL = stateTTL
    }

    /// Evaluates the rules at `now`: `deliver` gets each transition as soon as this process has won it
    /// (an error later in the evaluation cannot lose it). Returns the alerts firing now.
    func evaluate(_ rules: [SpendRule], now: Double, on redis: RedisConnection,
                  deliver: (AlertTransition) -> Void) throws(RedisError) -> [AlertTransition] {
        let current = Int64(now) - WindowBatch.mod(Int64(now), 3600)
        let bounds = rules.map { $0.bounds(at: now) }
        let byModel = rules.contains { $0.scope == .model }
        let earliest = bounds.map(\.start).min() ?? current
        let full = now - lastFullRead >= Self.refreshEvery
        let due = rules.isEmpty ? [] : stride(from: earliest, through: current, by: 3600).filter { h in
            full || h >= current - 3600 || hours[h] == nil || (byModel && hours[h]?.models == nil)
        }
        var active = try read(due, byModel: byModel, on: redis)
        hoursRead = due.count
        if full { lastFullRead = now }
        hours = hours.filter { $0.key >= earliest }
        try settle(active, now: now, on: redis, deliver: deliver)

        let configured = Dictionary(rules.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // Over, or a threshold this rule no longer has: resolved by whoever removes it. An alert of a
        // rule this process does not have stays (another host's, or a rule being rolled out): it
        // resolves when its period is over.
        for (field, entry) in active.sorted(by: { $0.key < $1.key }) {
            let over = Double(entry.end) <= now
            let withdrawn = configured[entry.ruleID].map { r in !r.thresholds.contains { BucketCounts.nanos($0) == entry.threshold } } ?? false
            guard over || withdrawn else { continue }
            // The final figure first: a failed read leaves the alert for the next evaluation.
            var done = entry
            done.spent = try cost(entry.subject, from: entry.start, to: entry.end, on: redis)
            active[field] = nil
            unsure[field] = (done, true, !over)
            let won = try resolve(field, on: redis)
            unsure[field] = nil
            if won { deliver(done.resolution(withdrawn: !over, now: now)) }
        }

        beforeAnnounce?()
        for (rule, b) in zip(rules, bounds) {
            var subjects: [String?] = rule.scope == .allModels ? [nil] : []
            if rule.scope == .model {
                var names = Set<String>()
                for h in stride(from: b.start, through: current, by: 3600) { if let m = hours[h]?.models { names.formUnion(m.keys) } }
                subjects = names.sorted()
            }
            for subject in subjects {
                let spent = cost(subject, from: b.start, to: b.end)
                guard spent.calls > 0 else { continue }
                for threshold in rule.thresholds where Double(spent.nanos) / 1e9 >= threshold {
                    var entry = Entry(rule: rule, start: b.start, end: b.end, subject: subject, threshold: BucketCounts.nanos(threshold))
                    guard active[entry.field] == nil else { continue }
                    entry.since = now
                    entry.spent = spent
                    entry.owner = owner
                    unsure[entry.field] = (entry, false, false)
                    let won = try announce(entry, now: now, on: redis)
                    unsure[entry.field] = nil
                    if won {
                        active[entry.field] = entry
                        deliver(entry.transition(kind: .firing, spent: spent, now: now))
                    }
                }
            }
        }
        // Firing now: this process's rules' alerts of their current period.
        var firing: [AlertTransition] = []
        for (rule, b) in zip(rules, bounds) {
            for entry in active.values where entry.ruleID == rule.id && entry.start == b.start {
                firing.append(entry.transition(kind: .firing, spent: cost(entry.subject, from: entry.start, to: entry.end), now: now))
            }
        }
        if !active.isEmpty { _ = try redis.command(["EXPIRE", keys.spendActive, String(stateTTL)]) }
        return firing.sorted { $0.fingerprint < $1.fingerprint }
    }

    /// Announcements and resolutions whose reply was lost: those this process's script did make are
    /// delivered now (late, not never); the others were someone else's, or did not happen.
    private func settle(_ active: [String: Entry], now: Double, on redis: RedisConnection,
                        deliver: (AlertTransition) -> Void) throws(RedisError) {
        guard !unsure.isEmpty else { return }
        let resolved = unsure.filter(\.value.resolved).keys.sorted()
        var resolvers: [String: String] = [:]
        if !resolved.isEmpty {
            let reply = try redis.command(["HMGET", keys.spendResolved] + resolved)
            if case let .error(e) = reply { throw RedisError(.reply, "cannot read \(keys.spendResolved): \(e)") }
            for (f, v) in zip(resolved, reply.array ?? []) { if let t = v.text { resolvers[f] = t } }
        }
        for (field, u) in unsure.sorted(by: { $0.key < $1.key }) {
            if u.resolved {
                if resolvers[field] == owner { deliver(u.entry.resolution(withdrawn: u.withdrawn, now: now)) }
            } else if let e = active[field], e.owner == owner {
                deliver(e.transition(kind: .firing, spent: e.spent, now: now))
            }
            unsure[field] = nil
        }
    }

    /// Reads the hours `due` (and the active alerts, in the same pipeline); returns the active alerts.
    private func read(_ due: [Int64], byModel: Bool, on redis: RedisConnection) throws(RedisError) -> [String: Entry] {
        var c = RedisCommands()
        c.append("HGETALL", keys.spendActive)
        for h in due {
            c.append("HMGET", keys.bucket(nil, .hour, start: h), "cost_n", "cost_nusd")
            if byModel { c.append("SMEMBERS", keys.models(hour: h)) }
        }
        let replies = try redis.pipeline(c)
        if case let .error(e) = replies[0] { throw RedisError(.reply, "cannot read \(keys.spendActive): \(e)") }
        var active: [String: Entry] = [:]
        for (k, v) in replies[0].pairs { if let e = Entry(field: k, value: v.text ?? "") { active[k] = e } }
        var i = 1
        var names: [(hour: Int64, models: [String])] = []
        for h in due {
            var hour = Hour(all: try Self.cost(replies[i]))
            i += 1
            if byModel {
                if case let .error(e) = replies[i] { throw RedisError(.reply, "cannot read \(keys.models(hour: h)): \(e)") }
                let models = (replies[i].array ?? []).compactMap(\.text).filter { !Deployment.isPair($0) }
                i += 1
                // An hour without priced calls has none by model either.
                if hour.all.calls > 0 { names.append((h, models)) } else { hour.models = [:] }
            }
            hours[h] = hour
        }
        guard !names.isEmpty else { return active }
        var m = RedisCommands()
        for (h, models) in names { for model in models { m.append("HMGET", keys.bucket(model, .hour, start: h), "cost_n", "cost_nusd") } }
        let more = try redis.pipeline(m)
        var j = 0
        for (h, models) in names {
            var by: [String: Cost] = [:]
            for model in models {
                let c = try Self.cost(more[j])
                j += 1
                if c.calls > 0 { by[model] = c }
            }
            hours[h]?.models = by
        }
        return active
    }

    /// A subject's cost over [from, to) from the hours held.
    private func cost(_ subject: String?, from: Int64, to: Int64) -> Cost {
        var total = Cost()
        var h = from
        while h < to {
            if let hour = hours[h] { total.add(subject.map { hour.models?[$0] ?? Cost() } ?? hour.all) }
            h += 3600
        }
        return total
    }

    /// A subject's cost over a past period, read from Redis (its hours are no longer held).
    private func cost(_ subject: String?, from: Int64, to: Int64, on redis: RedisConnection) throws(RedisError) -> Cost {
        var c = RedisCommands()
        for h in stride(from: from, to: to, by: 3600) { c.append("HMGET", keys.bucket(subject, .hour, start: h), "cost_n", "cost_nusd") }
        guard c.count > 0 else { return Cost() }
        var total = Cost()
        for r in try redis.pipeline(c) { total.add(try Self.cost(r)) }
        return total
    }

    static func cost(_ reply: RedisReply) throws(RedisError) -> Cost {
        if case let .error(e) = reply { throw RedisError(.reply, "cannot read an hour bucket: \(e)") }
        let v = (reply.array ?? []).map { $0.integer ?? 0 }
        return Cost(calls: v.count > 0 ? v[0] : 0, nanos: v.count > 1 ? v[1] : 0)
    }

    /// Adds the threshold to the period's announced set and, if this process added it, to the active
    /// hash: true when this process announces it.
    private func announce(_ e: Entry, now: Double, on redis: RedisConnection) throws(RedisError) -> Bool {
        // A day past the period's end, counted from this process's clock (not Redis's: the two may differ).
        let keep = max(3600, e.end + 86400 - Int64(now))
        let reply = try redis.evaluate(Self.announceScript, keys: [keys.spendAnnounced(start: e.start), keys.spendActive],
                                       arguments: [e.member, String(keep), e.field, e.value, String(stateTTL)])
        try afterScript?()
        if case let .error(e) = reply { throw RedisError(.reply, "cannot record a spend alert: \(e)") }
        return reply.integer == 1
    }

    /// Removes a firing alert whose period is over; true when this process removed it (and so
    /// announces its resolution). Who removed it is kept a while, for a reply that gets lost.
    private func resolve(_ field: String, on redis: RedisConnection) throws(RedisError) -> Bool {
        let reply = try redis.evaluate(Self.resolveScript, keys: [keys.spendActive, keys.spendResolved],
                                       arguments: [field, owner, String(2 * 86400)])
        try afterScript?()
        if case let .error(e) = reply { throw RedisError(.reply, "cannot resolve a spend alert: \(e)") }
        return reply.integer == 1
    }

    /// KEYS: the period's announced set, the active hash. ARGV: the member, the set's TTL (only ever
    /// raised: periods of several rules can begin at the same second and share the set), the active
    /// field and value, the active hash's TTL.
    static let announceScript = """
    if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
    if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
    redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
    redis.call('EXPIRE', KEYS[2], ARGV[5])
    return 1
    """

    /// KEYS: the active hash, the resolved hash. ARGV: the field, this process's mark, the resolved
    /// hash's TTL.
    static let resolveScript = """
    if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
    redis.call('EXPIRE', KEYS[2], ARGV[3])
    return 1
    """

    /// One spend alert: a rule's threshold for a subject in one period, as the active hash keeps it.
    struct Entry {
        var ruleID: String
        var start: Int64
        var end: Int64
        /// nil: all models.
        var subject: String?
        /// nano-USD.
        var threshold: Int64
        var since: Double = 0
        var spent = Cost()
        var severity = AlertSeverity.warning
        var budget: Double?
        /// The process that announced it.
        var owner = ""

        static let separator = "\u{1F}"

        init(rule: SpendRule, start: Int64, end: Int64, subject: String?, threshold: Int64) {
            ruleID = rule.id
            self.start = start
            self.end = end
            self.subject = subject
            self.threshold = threshold
            severity = rule.severity
            budget = rule.budget
        }

        var subjectToken: String { subject.map { "m" + $0 } ?? "*" }
        var member: String { [ruleID, subjectToken, String(threshold)].joined(separator: Self.separator) }
        var field: String { [ruleID, String(start), String(end), subjectToken, String(threshold)].joined(separator: Self.separator) }
        var value: String {
            [AlertState.num(since), String(spent.nanos), String(spent.calls), severity.rawValue, budget.map { String($0) } ?? "", owner]
                .joined(separator: "|")
        }

        init?(field: String, value: String) {
            let f = field.split(separator: Self.separator, maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
            let v = value.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5, let start = Int64(f[1]), let end = Int64(f[2]), let threshold = Int64(f[4]), !f[3].isEmpty,
                  v.count == 6, let since = Double(v[0]), let nanos = Int64(v[1]), let calls = Int64(v[2]),
                  let severity = AlertSeverity(rawValue: v[3]) else { return nil }
            ruleID = f[0]
            self.start = start
            self.end = end
            subject = f[3] == "*" ? nil : String(f[3].dropFirst())
            self.threshold = threshold
            self.since = since
            spent = Cost(calls: calls, nanos: nanos)
            self.severity = severity
            budget = v[4].isEmpty ? nil : Double(v[4])
            owner = v[5]
        }

        /// The rule's period and zone, from its id (`1d@+01:00/all`).
        var period: (name: String, text: String) {
            let name = String(ruleID.prefix { $0 != "@" })
            let zone = ruleID.drop { $0 != "@" }.dropFirst().prefix { $0 != "/" }
            guard let p = SpendRule.Period(parsing: name), let offset = SpendRule.parseZone(String(zone)) else {
                return (name, "the period from \(AlertRow.timestamp(Double(start)))")
            }
            return (name, SpendRule(period: p, utcOffset: offset, thresholds: []).describe(start: start))
        }

        /// The resolution, with the period's final spend (`spent`).
        func resolution(withdrawn: Bool, now: Double) -> AlertTransition {
            var t = transition(kind: .resolved, spent: spent, now: now)
            t.spend?.withdrawn = withdrawn
            return t
        }

        func transition(kind: AlertTransition.Kind, spent: Cost, now: Double) -> AlertTransition {
            let p = period
            let usd = Double(threshold) / 1e9
            var t = AlertTransition(
                kind: kind, type: .spend, model: subject, severity: severity, value: Double(spent.nanos) / 1e9, threshold: usd,
                window: Double(end - start), sample: spent.calls,
                fingerprint: AlertFingerprint.make(type: .spend, model: "\(ruleID)|\(subjectToken)|\(threshold)", start: Double(start)),
                episodeStart: since, at: now, notifyCount: 1)
            t.spend = .init(period: p.name, text: p.text, start: Double(start), end: Double(end), budget: budget)
            return t
        }
    }
}
