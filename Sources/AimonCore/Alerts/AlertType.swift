/// The five alerts of the seed, under the seed's names (DESIGN.md, Docs/alerts.md), and aimon's own:
/// the time to first token of streamed calls, and spend over calendar periods (SpendRule.swift).
public enum AlertType: String, CaseIterable, Sendable, Comparable {
    case consecutiveFailures = "consecutive_failures"
    case highHourlyFailures = "high_hourly_failures"
    case lowSuccessRate = "low_success_rate"
    case slowResponse = "slow_response"
    case highErrorRate = "high_error_rate"
    case slowFirstToken = "slow_first_token"
    case spend

    /// The types the window rule engine evaluates (RuleEngine.swift); spend has its own watcher.
    public static let windowTypes = allCases.filter { $0 != .spend }

    public static func < (a: Self, b: Self) -> Bool { a.order < b.order }

    /// Consecutive failures first: the ratio rules of a model look at its state.
    var order: Int { Self.allCases.firstIndex(of: self)! }

    /// The seed's threshold key in `thresholds:`.
    public var thresholdKey: String {
        switch self {
        case .consecutiveFailures: "consecutive_failures_max"
        case .highHourlyFailures: "hourly_failures_max"
        case .lowSuccessRate: "success_rate_min"
        case .slowResponse: "avg_response_time_max"
        case .highErrorRate: "error_rate_max"
        case .slowFirstToken: "first_token_time_max"
        case .spend: "spend"
        }
    }

    /// The seed's default threshold (seconds for the response time).
    public var defaultThreshold: Double {
        switch self {
        case .consecutiveFailures: 5
        case .highHourlyFailures: 10
        case .lowSuccessRate: 0.95
        case .slowResponse: 10
        case .highErrorRate: 0.05
        case .slowFirstToken: 3
        case .spend: 0
        }
    }

    public var defaultSeverity: AlertSeverity { self == .consecutiveFailures ? .critical : .warning }

    /// How far back the rule looks. For consecutive failures: how recent the last failure of the run
    /// must be for the run to be news.
    public var defaultWindow: Double {
        switch self {
        case .consecutiveFailures: 600
        case .highHourlyFailures, .lowSuccessRate, .slowResponse: 3600
        case .highErrorRate: 300
        case .slowFirstToken: 600
        case .spend: 86400
        }
    }

    /// Ratios and averages need a sample; counts do not.
    public var defaultMinRequests: Int64 {
        switch self {
        case .consecutiveFailures, .highHourlyFailures, .spend: 0
        case .lowSuccessRate, .slowResponse, .highErrorRate, .slowFirstToken: 20
        }
    }

    /// A value hovering at the threshold keeps the alert firing this long before it resolves. For runs
    /// of failures a minute: a model failing 5 times, succeeding once, failing again is one outage,
    /// not an episode per run.
    public var defaultKeepFiringFor: Double { self == .consecutiveFailures ? 60 : self == .spend ? 0 : 300 }

    /// The seed counts hourly failures over all models; the other rules are per model.
    public var defaultScope: AlertScope { self == .highHourlyFailures || self == .spend ? .allModels : .model }

    /// Held back while the model's consecutive-failure alert fires: they describe the same outage.
    public var heldDuringOutage: Bool {
        self == .lowSuccessRate || self == .highErrorRate || self == .highHourlyFailures
    }

    /// Fires when the value is at or past the threshold in this direction.
    public var firesBelow: Bool { self == .lowSuccessRate }

    /// Whether the threshold itself already fires (the seed: `>=` for counts, `<`/`>` for the rest).
    public var inclusive: Bool { self == .consecutiveFailures || self == .highHourlyFailures || self == .spend }

    /// The journal's MESSAGE_ID, fixed forever per type (systemd/aimon.catalog explains each).
    public var messageID: String {
        switch self {
        case .consecutiveFailures: "b38ad26cbf9a4612bb1446fc2249486e"
        case .highHourlyFailures: "06c27555e70a4312bbac815e56b84860"
        case .lowSuccessRate: "9cea97ac92d54a679793d092006cc15a"
        case .slowResponse: "e354d839f86e4773a91183279e3d1aa6"
        case .highErrorRate: "5f63990217db44979fd0ccd6f865873c"
        case .slowFirstToken: "30a564f00c1b449cb392f6c3e7e4f469"
        case .spend: "80104c465ecb4ea3b65c382b1f07cfd7"
        }
    }

    /// The seed's `rule_name` column, translated.
    public var ruleName: String { "ai_success_monitor_" + rawValue }
}

public enum AlertSeverity: String, CaseIterable, Sendable {
    case critical, warning
}

public enum AlertScope: String, CaseIterable, Sendable {
    /// One alert per model.
    case model
    /// One alert for all models together (AIMON_MODEL=*).
    case allModels = "all"
}
