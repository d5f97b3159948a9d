import Yams

/// The alert sections of the configuration: `thresholds:` (the seed's five numbers), `rules:`
/// (timing, severity and per-model overrides per alert type) and `alerts:` (table and evaluation).
extension Checker {
    mutating func alerts(_ top: Node.Mapping, retention: Retention) -> AlertsConfig {
        var out = AlertsConfig.defaults
        var rules = Dictionary(uniqueKeysWithValues: AlertType.windowTypes.map { ($0, AlertRule($0)) })

        if let n = top["thresholds"], let m = mapping(n, key: "thresholds") {
            allowOnly(m, AlertType.windowTypes.map(\.thresholdKey), in: "thresholds")
            for type in AlertType.windowTypes {
                if let v = threshold(m[type.thresholdKey], type, key: "thresholds.\(type.thresholdKey)") { rules[type]!.threshold = v }
            }
        }

        if let n = top["rules"], let m = mapping(n, key: "rules") {
            allowOnly(m, AlertType.allCases.map(\.rawValue), in: "rules")
            if let n = m[AlertType.spend.rawValue] { out.spend = spendRules(n, retention: retention) }
            for type in AlertType.windowTypes {
                guard let rn = m[type.rawValue], let rm = mapping(rn, key: "rules.\(type.rawValue)") else { continue }
                rule(rm, into: &rules[type]!, key: "rules.\(type.rawValue)", node: rn, retention: retention)
            }
        }

        if let n = top["alerts"], let m = mapping(n, key: "alerts") {
            allowOnly(m, ["database", "database_password_file", "evaluate_interval", "min_gap", "queue_size", "alertmanager"], in: "alerts")
            if let n = m["alertmanager"], let am = mapping(n, key: "alerts.alertmanager") { out.alertmanager = alertmanager(am, node: n) }
            if let d = m["database"], let s = string(d, key: "alerts.database") {
                do { out.database = try AlertsConfig.Database(parsing: s) } catch { fail("alerts.database", d, error.message) }
            }
            if let n = m["database_password_file"], let s = string(n, key: "alerts.database_password_file"),
               let secret = secret(s, key: "alerts.database_password_file", node: n) {
                if case let .postgres(uri, _) = out.database { out.database = .postgres(uri: uri, password: secret) }
                else { fail("alerts.database_password_file", n, "applies to a PostgreSQL alert table (alerts.database: postgres://...)") }
            }
            if let v = duration(m["evaluate_interval"], key: "alerts.evaluate_interval") {
                if v < 1 || v > 300 { fail("alerts.evaluate_interval", m["evaluate_interval"]!, "must be between 1s and 5m") } else { out.evaluateInterval = v }
            }
            if let v = duration(m["min_gap"], key: "alerts.min_gap") {
                if v > 10 { fail("alerts.min_gap", m["min_gap"]!, "must be at most 10s (alerts would come late)") } else { out.minGap = v }
            }
            if let node = m["queue_size"], let s = string(node, key: "alerts.queue_size") {
                if let v = Int(s), v >= 1 { out.queueSize = v } else { fail("alerts.queue_size", node, "must be a whole number, at least 1") }
            }
        }
        out.engine = RuleEngine(rules: AlertType.windowTypes.map { rules[$0]! })
        return out
    }

    /// `alerts.alertmanager`: urls, resend_interval, timeout, extra_labels, queue_size.
    private mutating func alertmanager(_ m: Node.Mapping, node: Node) -> AlertsConfig.Alertmanager? {
        let key = "alerts.alertmanager"
        allowOnly(m, ["urls", "resend_interval", "timeout", "extra_labels", "queue_size"], in: key)
        var urls: [String] = []
        if let n = m["urls"] {
            var items: [Node] = []
            if case let .sequence(seq) = n { items = Array(seq) } else { items = [n] }
            for (i, item) in items.enumerated() {
                guard let s = string(item, key: "\(key).urls[\(i)]") else { continue }
                if (s.hasPrefix("http://") || s.hasPrefix("https://")), s.count > 8, !s.contains(" ") {
                    urls.append(s.hasSuffix("/") ? String(s.dropLast()) : s)
                } else {
                    fail("\(key).urls[\(i)]", item, "'\(s)' is not an Alertmanager URL: use http://host:9093 (the API path is added)")
                }
            }
        }
        if urls.isEmpty {
            fail("\(key).urls", m["urls"] ?? node, "must list at least one Alertmanager, e.g. urls: [http://127.0.0.1:9093]")
            return nil
        }
        var out = AlertsConfig.Alertmanager(urls: urls)
        if let v = duration(m["resend_interval"], key: "\(key).resend_interval") {
            if v < 1 || v > 3600 { fail("\(key).resend_interval", m["resend_interval"]!, "must be between 1s and 1h") } else { out.resendInterval = v }
        }
        if let v = duration(m["timeout"], key: "\(key).timeout") {
            if v < 0.1 || v > 60 { fail("\(key).timeout", m["timeout"]!, "must be between 100ms and 60s") } else { out.timeout = v }
        }
        if let n = m["queue_size"], let s = string(n, key: "\(key).queue_size") {
            if let v = Int(s), v >= 1, v <= 1_000_000 { out.queueSize = v } else { fail("\(key).queue_size", n, "must be a whole number from 1 to 1000000") }
        }
        if let n = m["extra_labels"], let lm = mapping(n, key: "\(key).extra_labels") {
            for (k, v) in lm {
                guard let name = k.string, let value = string(v, key: "\(key).extra_labels.\(k.string ?? "")") else { continue }
                let valid = name.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
                    && name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) } && !name.hasPrefix("__")
                if !valid {
                    fail("\(key).extra_labels.\(name)", k, "'\(name)' is not a label name: letters, digits and _, not starting with a digit or __")
                } else if AlertsConfig.Alertmanager.ownLabels.contains(name) {
                    fail("\(key).extra_labels.\(name)", k, "'\(name)' is set by aimon on every alert")
                } else {
                    out.extraLabels[name] = value
                }
            }
        }
        return out
    }

    private mutating func rule(_ m: Node.Mapping, into r: inout AlertRule, key: String, node: Node, retention: Retention) {
        allowOnly(m, ["enabled", "threshold", "clear_threshold", "window", "min_requests", "for", "keep_firing_for",
                      "repeat_interval", "severity", "scope", "models"] + (r.type == .slowFirstToken ? ["statistic"] : [])
                      + (r.type == .consecutiveFailures || r.type == .lowSuccessRate ? ["deployments"] : []), in: key)
        if let v = bool(m["deployments"], key: "\(key).deployments") { r.deployments = v }
        if let n = m["statistic"], let s = string(n, key: "\(key).statistic") {
            if let v = AlertRule.Statistic(rawValue: s) { r.statistic = v } else { fail("\(key).statistic", n, "must be p95 or avg") }
        }
        if let v = bool(m["enabled"], key: "\(key).enabled") { r.enabled = v }
        if let v = threshold(m["threshold"], r.type, key: "\(key).threshold") { r.threshold = v }
        if let v = threshold(m["clear_threshold"], r.type, key: "\(key).clear_threshold") { r.clearThreshold = v }
        if let v = duration(m["window"], key: "\(key).window") {
            if v < 60 || v > 86400 || v.truncatingRemainder(dividingBy: 60) != 0 {
                fail("\(key).window", m["window"]!, "must be whole minutes from 1m to 24h (windows are minute buckets)")
            } else if Int64(v) > retention.minuteBuckets {
                fail("\(key).window", m["window"]!, "is longer than retention.minute_buckets")
            } else { r.window = v }
        }
        if let v = count(m["min_requests"], key: "\(key).min_requests") { r.minRequests = v }
        if let v = duration(m["for"], key: "\(key).for") { r.forDuration = v }
        if let v = duration(m["keep_firing_for"], key: "\(key).keep_firing_for") { r.keepFiringFor = v }
        if let n = m["repeat_interval"], let s = string(n, key: "\(key).repeat_interval") {
            if s == "off" || s == "0" { r.repeatInterval = nil }
            else if let v = Quantities.duration(s), v >= 60 { r.repeatInterval = v }
            else { fail("\(key).repeat_interval", n, "'\(s)' must be 'off' or a duration of at least 1m (e.g. 1h)") }
        }
        if let n = m["severity"], let s = string(n, key: "\(key).severity") {
            if let v = AlertSeverity(rawValue: s) { r.severity = v } else { fail("\(key).severity", n, "must be critical or warning") }
        }
        if let n = m["scope"], let s = string(n, key: "\(key).scope") {
            if let v = AlertScope(rawValue: s) {
                if v == .allModels && r.type == .consecutiveFailures {
                    fail("\(key).scope", n, "consecutive failures are counted per model; 'all' does not apply")
                } else { r.scope = v }
            } else { fail("\(key).scope", n, "must be 'model' (one alert per model) or 'all' (all models together)") }
        }
        if let n = m["models"], let mm = mapping(n, key: "\(key).models") {
            for (k, v) in mm {
                guard let model = k.string else { continue }
                let okey = "\(key).models.\(model)"
                guard let om = mapping(v, key: okey) else { continue }
                allowOnly(om, ["enabled", "threshold", "clear_threshold", "min_requests"], in: okey)
                var o = AlertRule.Override()
                o.enabled = bool(om["enabled"], key: "\(okey).enabled")
                o.threshold = threshold(om["threshold"], r.type, key: "\(okey).threshold")
                o.clearThreshold = threshold(om["clear_threshold"], r.type, key: "\(okey).clear_threshold")
                o.minRequests = count(om["min_requests"], key: "\(okey).min_requests")
                r.overrides[model] = o
            }
        }
        if let clear = r.clearThreshold, r.breaches(clear, r.threshold) && clear != r.threshold {
            fail("\(key).clear_threshold", m["clear_threshold"] ?? node,
                 "must be on the healthy side of the threshold (\(AlertTransition.format(r.threshold, r.type))), or the alert could never fire and clear")
        }
    }

    /// A threshold in its type's unit: a count, a ratio (0.95 or 95%), or seconds (10, 10s, 800ms).
    mutating func threshold(_ node: Node?, _ type: AlertType, key: String) -> Double? {
        guard let node, let s = string(node, key: key) else { return nil }
        switch type {
        case .consecutiveFailures, .highHourlyFailures:
            if let v = Int(s), v >= 1 { return Double(v) }
            fail(key, node, "'\(s)' must be a whole number, at least 1")
        case .lowSuccessRate, .highErrorRate:
            let t = s.trimmingSpaces
            let v = t.hasSuffix("%") ? Double(t.dropLast()).map { $0 / 100 } : Double(t)
            if let v, v >= 0, v <= 1 { return v }
            fail(key, node, "'\(s)' must be a ratio from 0 to 1 (e.g. 0.95) or a percentage (95%)")
        case .slowResponse, .slowFirstToken:
            if let v = Quantities.duration(s), v > 0 { return v }
            fail(key, node, "'\(s)' must be a duration above 0 (e.g. 10s, 800ms)")
        case .spend:
            if let v = Self.usd(s) { return v }
            fail(key, node, "'\(s)' must be an amount in USD above 0 (e.g. 80, 12.50, $100)")
        }
        return nil
    }

    mutating func bool(_ node: Node?, key: String) -> Bool? {
        guard let node, let s = string(node, key: key) else { return nil }
        switch s {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: fail(key, node, "must be true or false"); return nil
        }
    }

    mutating func count(_ node: Node?, key: String) -> Int64? {
        guard let node, let s = string(node, key: key) else { return nil }
        if let v = Int64(s), v >= 0 { return v }
        fail(key, node, "'\(s)' must be a whole number, 0 or more")
        return nil
    }
}
