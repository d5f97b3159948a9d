/// One rule: an alert type with its threshold and timing, as configured (`thresholds:`, `rules:`).
public struct AlertRule: Equatable, Sendable {
    public var type: AlertType
    public var enabled = true
    public var threshold: Double
    /// While firing, the alert holds until the value is back past this (hysteresis); nil: `threshold`.
    public var clearThreshold: Double?
    /// Seconds the rule looks back (whole minutes: windows are minute buckets).
    public var window: Double
    /// Calls needed in the window before a ratio or an average means anything.
    public var minRequests: Int64
    /// Seconds the condition must hold before the alert fires (0: at once).
    public var forDuration: Double = 0
    /// Seconds the condition must stay clear before a firing alert resolves (0: at once).
    public var keepFiringFor: Double
    /// Seconds between reminders while firing; nil: no reminders.
    public var repeatInterval: Double?
    public var severity: AlertSeverity
    public var scope: AlertScope
    /// What `slow_first_token` compares with its threshold: the 95th percentile (estimated within
    /// its histogram bucket, Docs/reports.md) or the average.
    public var statistic: Statistic = .p95
    /// Also evaluated for each (model, deployment) pair (consecutive_failures, low_success_rate):
    /// one failing upstream behind a healthy model name is seen.
    public var deployments = false
    public enum Statistic: String, Sendable { case p95, avg }
    /// Per-model settings that replace the rule's own (a slow model's own latency limit...).
    public var overrides: [String: Override] = [:]

    public struct Override: Equatable, Sendable {
        public var enabled: Bool?
        public var threshold: Double?
        public var clearThreshold: Double?
        public var minRequests: Int64?
        public init(enabled: Bool? = nil, threshold: Double? = nil, clearThreshold: Double? = nil, minRequests: Int64? = nil) {
            self.enabled = enabled
            self.threshold = threshold
            self.clearThreshold = clearThreshold
            self.minRequests = minRequests
        }
    }

    /// The seed's rule with aimon's defaults.
    public init(_ type: AlertType) {
        self.type = type
        threshold = type.defaultThreshold
        window = type.defaultWindow
        minRequests = type.defaultMinRequests
        keepFiringFor = type.defaultKeepFiringFor
        severity = type.defaultSeverity
        scope = type.defaultScope
    }

    /// Whether the rule runs for some model: on, or on for one model by an override.
    public var mayRun: Bool { enabled || overrides.values.contains { $0.enabled == true } }

    /// The rule as it applies to one model (its override merged in).
    public func applying(to model: String?) -> AlertRule {
        guard let model, let o = overrides[model] else { return self }
        var r = self
        if let v = o.enabled { r.enabled = v }
        if let v = o.threshold { r.threshold = v; r.clearThreshold = o.clearThreshold }
        if let v = o.clearThreshold { r.clearThreshold = v }
        if let v = o.minRequests { r.minRequests = v }
        return r
    }

    /// Whether `value` is past `limit` in the rule's direction.
    public func breaches(_ value: Double, _ limit: Double) -> Bool {
        if type.firesBelow { return type.inclusive ? value <= limit : value < limit }
        return type.inclusive ? value >= limit : value > limit
    }

    /// The window as people write it: "1h", "5m", "90s".
    public var windowText: String { Self.durationText(window) }

    public static func durationText(_ seconds: Double) -> String {
        let s = Int64(seconds.rounded())
        if s > 0, s % 86400 == 0 { return "\(s / 86400)d" }
        if s > 0, s % 3600 == 0 { return "\(s / 3600)h" }
        if s > 0, s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }
}
