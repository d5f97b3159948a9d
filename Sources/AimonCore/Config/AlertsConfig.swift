/// The `thresholds:`, `rules:` and `alerts:` sections (Docs/configuration.md).
public struct AlertsConfig: Equatable, Sendable {
    /// Where alert episodes are recorded.
    public enum Database: Equatable, Sendable, CustomStringConvertible {
        /// A SQLite file (created with its folder).
        case sqlite(path: String)
        /// A PostgreSQL connection URI, as libpq reads it (multi-host URIs with
        /// `target_session_attrs=read-write` follow a primary/standby failover); `password` from
        /// `alerts.database_password_file`, given to libpq apart from the URI.
        case postgres(uri: String, password: String? = nil)
        /// No table: alerts go to the journal only.
        case none

        public static let defaultValue = Database.sqlite(path: "/var/lib/aimon/alerts.db")

        /// `sqlite:///abs/path.db`, `postgres://user:password@host:port/db` (or `postgresql://`), `none`.
        public init(parsing text: String) throws(ConfigError.Problem) {
            if text == "none" || text == "off" { self = .none; return }
            if text.hasPrefix("sqlite://") {
                let path = String(text.dropFirst("sqlite://".count))
                guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/") else {
                    throw .init(key: "", line: nil, message: "'\(text)': a SQLite URL names an absolute file, e.g. sqlite:///var/lib/aimon/alerts.db")
                }
                self = .sqlite(path: path)
                return
            }
            if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
                self = .postgres(uri: text)
                return
            }
            throw .init(key: "", line: nil, message: "'\(text)' is not a database URL: use sqlite:///path/alerts.db, postgres://user:password@host:5432/db, or none")
        }

        /// The URL with any password hidden, for logs and errors.
        public var description: String {
            switch self {
            case let .sqlite(path): return "sqlite://" + path
            case .none: return "none"
            case let .postgres(uri, _):
                guard let at = uri.lastIndex(of: "@"), let scheme = uri.range(of: "://"),
                      let colon = uri[scheme.upperBound..<at].firstIndex(of: ":") else { return uri }
                return String(uri[..<uri.index(after: colon)]) + "***" + String(uri[at...])
            }
        }
    }

    /// `alerts.alertmanager`: where firing and resolved alerts are pushed (Alertmanager's v2 API).
    public struct Alertmanager: Equatable, Sendable {
        /// Every instance of an HA cluster, each given every alert (as Prometheus does).
        public var urls: [String]
        /// Seconds between two pushes of a still-active alert (Alertmanager resolves alerts that stop coming).
        public var resendInterval: Double = 60
        /// Seconds allowed for one push.
        public var timeout: Double = 10
        /// Labels added to every alert (e.g. `team: llm`).
        public var extraLabels: [String: String] = [:]
        /// Pushes kept while every instance is unreachable (one per episode); the oldest go first.
        public var queueSize: Int = 1000

        public init(urls: [String]) { self.urls = urls }

        /// Label names aimon sets on every alert (`deployment`, and `period` and `threshold` of spend
        /// alerts, are set on some: on those they win over an extra label of that name).
        public static let ownLabels: Set<String> = ["alertname", "model", "severity"]
    }

    public var engine: RuleEngine
    /// `rules.spend`: cost over calendar periods (none by default).
    public var spend: [SpendRule] = []
    public var database: Database
    public var alertmanager: Alertmanager?
    /// Seconds between two evaluations of every model (so alerts resolve when traffic stops).
    public var evaluateInterval: Double
    /// Least seconds between two evaluations after batches (the rate limit on a busy log).
    public var minGap: Double
    /// Alert table writes kept while the database is unreachable (one per episode).
    public var queueSize: Int

    public static let defaults = AlertsConfig(
        engine: .defaults, database: Database.defaultValue, alertmanager: nil, evaluateInterval: 10, minGap: 0.005, queueSize: 10000)

    /// The longest window any rule reads.
    public var longestWindow: Double { engine.rules.filter(\.mayRun).map(\.window).max() ?? 60 }
    /// Whether a rule runs for (model, deployment) pairs too.
    public var evaluatesDeployments: Bool { engine.rules.contains { $0.deployments && $0.mayRun } }
    /// Whether a rule reads the time to first token (its minutes then carry the TTFT histogram).
    public var readsFirstToken: Bool { engine.rules.contains { $0.type == .slowFirstToken && $0.mayRun } }
}
