import Yams

/// `rules.spend`: one rule (a mapping) or several (a list). Each has a `period`, a `zone`, USD
/// `thresholds` or a `budget` with percentages, a `scope` and a `severity` (Docs/alerts.md, "Spend").
extension Checker {
    mutating func spendRules(_ node: Node, retention: Retention) -> [SpendRule] {
        var items: [(Node, String)] = []
        if case let .sequence(seq) = node {
            items = seq.enumerated().map { ($1, "rules.spend[\($0)]") }
        } else {
            items = [(node, "rules.spend")]
        }
        var out: [SpendRule] = []
        for (item, key) in items {
            guard let m = mapping(item, key: key), let rule = spendRule(m, key: key, node: item, retention: retention) else { continue }
            if out.contains(where: { $0.period == rule.period && $0.scope == rule.scope }) {
                fail(key, item, "a second rule for period \(rule.period.name) and scope \(rule.scope.rawValue): put its thresholds in the first one")
                continue
            }
            out.append(rule)
        }
        return out
    }

    private mutating func spendRule(_ m: Node.Mapping, key: String, node: Node, retention: Retention) -> SpendRule? {
        allowOnly(m, ["period", "zone", "thresholds", "budget", "scope", "severity", "enabled"], in: key)
        if bool(m["enabled"], key: "\(key).enabled") == false { return nil }
        var period: SpendRule.Period?
        if let n = m["period"], let s = string(n, key: "\(key).period") {
            if let p = SpendRule.Period(parsing: s) {
                if p.longest > retention.hourBuckets {
                    fail("\(key).period", n, "\(s) is longer than retention.hour_buckets (spend is summed over hour buckets): raise it or choose a shorter period")
                } else { period = p }
            } else {
                fail("\(key).period", n, "'\(s)' is not a period: use 1h, 1d, Nd (e.g. 30d: 30 days counted from 1970-01-01), week or month")
            }
        } else if m["period"] == nil {
            fail("\(key).period", node, "is missing: the calendar period spend is counted over (1h, 1d, 30d, week or month)")
        }
        var offset = 0
        if let n = m["zone"], let s = string(n, key: "\(key).zone") {
            if let v = SpendRule.parseZone(s) { offset = v } else {
                fail("\(key).zone", n, "'\(s)' is not a zone: use UTC or a fixed offset from -12:00 to +14:00 in quarter hours (e.g. +01:00, -05:00, +05:30)")
            }
        }
        var budget: Double?
        if let n = m["budget"], let s = string(n, key: "\(key).budget") {
            if let v = Self.usd(s) { budget = v } else { fail("\(key).budget", n, "'\(s)' must be an amount in USD above 0 (e.g. 500)") }
        }
        var thresholds: [Double] = []
        if let n = m["thresholds"] {
            var values: [Node] = []
            if case let .sequence(seq) = n { values = Array(seq) } else { values = [n] }
            if values.isEmpty { fail("\(key).thresholds", n, "must list at least one threshold") }
            for (i, v) in values.enumerated() {
                let tkey = "\(key).thresholds[\(i)]"
                guard let s = string(v, key: tkey) else { continue }
                let t = s.trimmingSpaces
                if t.hasSuffix("%") {
                    guard let b = budget else {
                        if m["budget"] == nil { fail(tkey, v, "'\(s)' is a percentage: give the rule a budget (USD), or give the threshold in USD") }
                        continue
                    }
                    if let p = Double(t.dropLast().trimmingSpaces), p > 0, p <= 1000 { thresholds.append(b * p / 100) }
                    else { fail(tkey, v, "'\(s)' must be a percentage of the budget above 0 and at most 1000%") }
                } else if budget != nil || m["budget"] != nil {
                    fail(tkey, v, "'\(s)': with a budget, thresholds are percentages of it (e.g. 80%)")
                } else if let usd = Self.usd(t) {
                    thresholds.append(usd)
                } else {
                    fail(tkey, v, "'\(s)' must be an amount in USD above 0 (e.g. 80, $12.50)")
                }
            }
        } else if let b = budget {
            thresholds = [0.8 * b, 0.9 * b, b]
        } else {
            fail("\(key).thresholds", node, "is missing: amounts in USD (thresholds: [80, 100]), or a budget with percentages")
        }
        var scope = AlertScope.allModels
        if let n = m["scope"], let s = string(n, key: "\(key).scope") {
            if let v = AlertScope(rawValue: s) { scope = v } else {
                fail("\(key).scope", n, "must be 'all' (all models together) or 'model' (each model against the thresholds)")
            }
        }
        var severity = AlertSeverity.warning
        if let n = m["severity"], let s = string(n, key: "\(key).severity") {
            if let v = AlertSeverity(rawValue: s) { severity = v } else { fail("\(key).severity", n, "must be critical or warning") }
        }
        guard let period, !thresholds.isEmpty else { return nil }
        // Thresholds are told apart by their amount in nano-USD: two that round alike are one.
        var seen = Set<Int64>()
        let distinct = thresholds.filter { seen.insert(BucketCounts.nanos($0)).inserted }
        return SpendRule(period: period, utcOffset: offset, thresholds: distinct, budget: budget, scope: scope, severity: severity)
    }

    /// An amount in USD above 0 and at most a billion (nano-USD stay in 64 bits): `80`, `12.50`, `$100`.
    static func usd(_ text: String) -> Double? {
        var t = Substring(text.trimmingSpaces)
        if t.hasPrefix("$") { t = t.dropFirst() }
        if t.hasSuffix(" USD") { t = t.dropLast(4) }
        guard let v = Double(t), v.isFinite, v > 0, v <= 1e9 else { return nil }
        return v
    }
}
