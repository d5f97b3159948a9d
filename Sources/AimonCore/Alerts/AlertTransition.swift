/// A change the engine decided: what sinks announce (journal) and record (alert table).
public struct AlertTransition: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The condition holds, waiting out `for` (logged, not announced).
        case pending
        /// The alert fires: a new episode.
        case firing
        /// It would fire, but the model's consecutive-failure alert already describes the outage.
        case held = "held_back"
        /// Still firing after `repeat_interval`.
        case reminder
        /// The episode is over.
        case resolved
    }

    public var kind: Kind
    public var type: AlertType
    /// The model; nil for all models together.
    public var model: String?
    public var severity: AlertSeverity
    /// The measured value; nil when there is no longer enough data to measure.
    public var value: Double?
    public var threshold: Double
    /// Seconds the rule looks back.
    public var window: Double
    /// The calls the value rests on.
    public var sample: Int64
    public var fingerprint: String
    /// When the episode began (firing) and when this transition happened.
    public var episodeStart: Double
    public var at: Double
    public var notifyCount: Int
    /// A spend alert's period; nil for the window rules.
    public var spend: SpendContext?

    /// The calendar period of a spend alert (SpendRule.swift).
    public struct SpendContext: Equatable, Sendable {
        /// `1d`, `month`... as configured.
        public var period: String
        /// "the day from 2026-12-03 00:00 UTC".
        public var text: String
        public var start: Double
        public var end: Double
        /// USD, when the thresholds are shares of a budget.
        public var budget: Double?
        /// Resolved because the rule no longer asks for this threshold (a reload), not because the period ended.
        public var withdrawn = false
        public init(period: String, text: String, start: Double, end: Double, budget: Double?) {
            self.period = period
            self.text = text
            self.start = start
            self.end = end
            self.budget = budget
        }
    }

    /// The model as AIMON_MODEL and the table write it: "*" for all models.
    public var modelField: String {
        guard let model else { return KeySchema.allModels }
        return ModelRegistry.label(Deployment.split(model)?.model ?? model)
    }
    /// The deployment of a (model, deployment) pair's alert; nil for a model's.
    public var deployment: String? { model.flatMap(Deployment.split).map { Deployment.label($0.deployment) } }

    /// The state as AIMON_STATE writes it.
    public var state: String {
        switch kind {
        case .pending: "pending"
        case .firing, .reminder: "firing"
        case .held: "held_back"
        case .resolved: "resolved"
        }
    }

    /// journald PRIORITY: critical 2, warning 4, resolved 5 (notice), held back and pending 6 (info).
    public var priority: Int {
        switch kind {
        case .firing, .reminder: severity == .critical ? 2 : 4
        case .resolved: 5
        case .held, .pending: 6
        }
    }

    public var windowText: String { spend?.period ?? AlertRule.durationText(window) }

    /// The threshold as a label value, at full precision (two spend thresholds never share one): `80`, `12.5`.
    public var thresholdLabel: String { AlertState.num(threshold) }

    /// One line a person understands: what, for which model, the value, the threshold, the window.
    public var message: String {
        let subject = (model.map { _ in "model " + JournalText.sanitise(modelField, limit: 200) } ?? "all models")
            + (deployment.map { " deployment " + JournalText.sanitise($0, limit: 200) } ?? "")
        let head: String
        switch kind {
        case .pending: head = "Pending \(type.rawValue) for \(subject)"
        case .firing: head = "Firing \(type.rawValue) for \(subject)"
        case .held: head = "Held back \(type.rawValue) for \(subject)"
        case .reminder: head = "Still firing \(type.rawValue) for \(subject)"
        case .resolved: head = "Resolved \(type.rawValue) for \(subject)"
        }
        var text = "\(head): \(measure) (threshold \(Self.format(threshold, type))\(budgetShare))"
        switch kind {
        case .held: text += "; consecutive_failures is firing for this model and describes the same outage"
        case .reminder: text += "; firing for \(AlertRule.durationText(max(0, at - episodeStart))), notice \(notifyCount)"
        case .resolved where spend != nil: text += spend!.withdrawn ? "; the rule no longer has this threshold" : "; the period is over"
        case .resolved: text += "; fired for \(AlertRule.durationText(max(0, at - episodeStart)))"
        case .pending, .firing: break
        }
        return text
    }

    /// ", 80% of the $100.00 budget" for a spend threshold given as a share of a budget.
    var budgetShare: String {
        guard let budget = spend?.budget, budget > 0 else { return "" }
        return ", \(Self.fixed(threshold / budget * 100, 0))% of the \(Self.format(budget, .spend)) budget"
    }

    var measure: String {
        if type == .spend, let spend {
            return "\(Self.format(value ?? 0, type)) spent in \(spend.text) (\(sample) priced call\(sample == 1 ? "" : "s"))"
        }
        guard let value else {
            switch type {
            case .consecutiveFailures: return "no failure in the last \(windowText)"
            default: return sample == 0 ? "no calls in the last \(windowText)" : "only \(sample) calls in the last \(windowText), too few to judge"
            }
        }
        switch type {
        case .consecutiveFailures: return "\(Int64(clamping: value)) consecutive failure\(value == 1 ? "" : "s")"
        case .highHourlyFailures: return "\(Int64(clamping: value)) failures in the last \(windowText)"
        case .lowSuccessRate: return "success rate \(Self.format(value, type)) over \(windowText) (\(sample) calls)"
        case .highErrorRate: return "error rate \(Self.format(value, type)) over \(windowText) (\(sample) calls)"
        case .slowResponse: return "average response time \(Self.format(value, type)) over \(windowText) (\(sample) calls)"
        case .slowFirstToken: return "time to first token \(Self.format(value, type)) over \(windowText) (\(sample) streamed calls)"
        case .spend: return "\(Self.format(value, type)) spent over \(windowText)"
        }
    }

    /// A value in the unit of its type: a count, a percentage, or seconds.
    public static func format(_ v: Double, _ type: AlertType) -> String {
        switch type {
        case .consecutiveFailures, .highHourlyFailures:
            return v == v.rounded() ? String(Int64(clamping: v)) : fixed(v, 2)
        case .lowSuccessRate, .highErrorRate:
            return fixed(v * 100, 1) + "%"
        case .slowResponse, .slowFirstToken:
            return fixed(v, 2) + " s"
        case .spend:
            return "$" + fixed(v, 2)
        }
    }

    public static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let n = Int64(clamping: (abs(v) * scale).rounded())
        let whole = n / Int64(scale), frac = n % Int64(scale)
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        return (v < 0 && n != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + f : "")
    }
}

/// Text made safe for a journal field or a one-line message.
public enum JournalText {
    /// Control characters and invalid bytes become `\xNN`, so a value cannot start a new line or a
    /// new field; the result is cut to `limit` bytes (on a character boundary).
    public static func sanitise(_ text: String, limit: Int = 1024) -> String {
        var out = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            let piece: String
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                || scalar == "\u{2028}" || scalar == "\u{2029}" {
                piece = "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                piece = String(scalar)
            }
            if bytes + piece.utf8.count > limit { return out + "..." }
            bytes += piece.utf8.count
            out += piece
        }
        return out
    }
}
