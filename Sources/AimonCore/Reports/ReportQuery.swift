#if canImport(Glibc)
import Glibc
#endif

/// One report request, shared by the CLI (`aimon stats --json` …) and the HTTP API
/// (`/api/v1/stats?…`): the same parameters, the same checks, the same JSON. Both front ends
/// build a query and call `json(…)`, so their answers cannot drift apart.
public enum ReportQuery: Equatable, Sendable {
    /// `stats`: every model seen in the window, or one (`model`, a single object in JSON); with
    /// `byDeployment`, every (model, deployment) pair instead (of `model` only, if given: an array).
    case stats(model: String?, hours: Double, byDeployment: Bool = false)
    /// `system`: all models together.
    case system(hours: Double)
    /// `trend`: one row per UTC day, today included, oldest first.
    case trend(days: Int, model: String?)
    /// `alerts`: rows of the alert table, newest first.
    case alerts(Alerts)

    public struct Alerts: Equatable, Sendable {
        public var active: Bool
        /// Seconds back from now; nil: no limit.
        public var since: Double?
        public var model: String?
        public var limit: Int
        public init(active: Bool = false, since: Double? = nil, model: String? = nil, limit: Int = 1000) {
            self.active = active
            self.since = since
            self.model = model
            self.limit = limit
        }

        public func filter(now: Double) -> AlertFilter {
            AlertFilter(activeOnly: active, since: since.map { AlertRow.timestamp(now - $0) }, model: model, limit: limit)
        }
    }

    // MARK: - The checks, one definition for both front ends

    public static let defaultHours = 24.0
    public static let defaultDays = 7

    /// nil when valid, else what is wrong (the CLI says `--hours …`, the API `hours …`).
    public static func problem(hours: Double) -> String? {
        hours > 0 && hours <= 24 * 366 ? nil : "must be more than 0 and at most a year (8784)"
    }

    public static func problem(days: Int) -> String? { (1...366).contains(days) ? nil : "must be from 1 to 366" }

    public static func problem(limit: Int) -> String? { limit >= 1 ? nil : "must be at least 1" }

    /// The default `since` of `alerts`: a day, or everything for the active ones.
    public static func since(_ text: String?, active: Bool) -> Double? {
        text.flatMap(Quantities.duration) ?? (active ? nil : 86400)
    }

    /// The stored name of a model as people write it: "(other models)" is how the models past
    /// `ingest.max_models` are shown, and asked for.
    public static func storedModel(_ model: String) -> String {
        model == ModelRegistry.overflowLabel ? ModelRegistry.overflowName : model
    }
}

/// Why a report has no answer, with what an HTTP client or the CLI makes of it.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// A parameter is wrong (HTTP 400, CLI usage error).
        case badRequest
        /// Redis or the alert table cannot be reached (HTTP 503, exit 69).
        case unavailable
        /// There is no alert table (`alerts.database: none`; HTTP 404, exit 69).
        case noTable
        /// A read failed (HTTP 500, exit 1).
        case failed
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

extension ReportQuery {
    /// The query of an API path (`/api/v1/stats`, `/system`, `/trend`, `/alerts`) with its
    /// arguments; nil for another path. Parameter names are the CLI's long options.
    public static func api(path: String, argument: (String) -> String?) -> Result<ReportQuery, ReportError>? {
        func bad(_ m: String) -> Result<ReportQuery, ReportError> { .failure(ReportError(.badRequest, m)) }
        func hours() -> Result<Double, ReportError> {
            guard let text = argument("hours") else { return .success(defaultHours) }
            guard let h = Double(text), h.isFinite else { return .failure(ReportError(.badRequest, "hours '\(text)' is not a number")) }
            if let p = problem(hours: h) { return .failure(ReportError(.badRequest, "hours \(p)")) }
            return .success(h)
        }
        func integer(_ name: String, _ fallback: Int, _ check: (Int) -> String?) -> Result<Int, ReportError> {
            guard let text = argument(name) else { return .success(fallback) }
            guard let v = Int(text) else { return .failure(ReportError(.badRequest, "\(name) '\(text)' is not a whole number")) }
            if let p = check(v) { return .failure(ReportError(.badRequest, "\(name) \(p)")) }
            return .success(v)
        }
        func flag(_ name: String) -> Result<Bool, ReportError> {
            switch argument(name) {
            case nil, "false", "0": return .success(false)
            case "", "true", "1": return .success(true)
            case let v?: return .failure(ReportError(.badRequest, "\(name) '\(v)' is not true or false"))
            }
        }
        let model = argument("model").flatMap { $0.isEmpty ? nil : $0 }
        do throws(ReportError) {
            switch path {
            case "/api/v1/stats":
                let by = argument("by") ?? "model"
                guard by == "model" || by == "deployment" else { return bad("by '\(by)' must be model or deployment") }
                return .success(.stats(model: model, hours: try hours().get(), byDeployment: by == "deployment"))
            case "/api/v1/system": return .success(.system(hours: try hours().get()))
            case "/api/v1/trend": return .success(.trend(days: try integer("days", defaultDays, problem(days:)).get(), model: model))
            case "/api/v1/alerts":
                let active = try flag("active").get()
                if let s = argument("since"), Quantities.duration(s) == nil { return bad("since '\(s)' is not a duration (e.g. 30m, 24h, 7d)") }
                return .success(.alerts(Alerts(active: active, since: since(argument("since"), active: active), model: model,
                                               limit: try integer("limit", 1000, problem(limit:)).get())))
            default: return nil
            }
        } catch {
            return .failure(error)
        }
    }
}

/// What a report query found, typed (the CLI renders text from it) and as JSON (both front ends).
public enum ReportAnswer: Sendable {
    case stats([ModelPerformance], single: Bool)
    case system(SystemPerformance)
    case trend([DayPerformance])
    /// `notCreated`: the SQLite file that `aimon run` creates with its first alert does not exist
    /// yet (no rows, and a report creates no files).
    case alerts([AlertRow], notCreated: String?)

    public var json: JSONValue {
        switch self {
        case let .stats(reports, single): single ? reports[0].json : .array(reports.map(\.json))
        case let .system(report): report.json
        case let .trend(rows): .array(rows.map(\.json))
        case let .alerts(rows, _): .array(rows.map(\.json))
        }
    }
}

extension ReportQuery {
    /// Reads the answer from the windows under `config`'s keys and its alert table. `redis` is called
    /// only by the reports that read windows; `now` is wall time.
    public func answer(redis: () throws(ReportError) -> RedisConnection, config: Config, now: Double) throws(ReportError) -> ReportAnswer {
        let database = config.alerts.database
        func read<T>(_ body: (WindowReader) throws(RedisError) -> T) throws(ReportError) -> T {
            let reader = WindowReader(keys: config.keys, redis: try redis(), minuteRetention: config.retention.minuteBuckets)
            do { return try body(reader) } catch {
                throw ReportError(error.kind == .connection || error.kind == .io ? .unavailable : .failed, "reading the windows failed: \(error)")
            }
        }
        switch self {
        case let .stats(model, hours, true):
            return .stats(try read { r throws(RedisError) in
                let w = WindowReader.window(hours: hours, now: now)
                let pairs = try r.deployments(from: w.from, to: w.to).filter { p in model.map { Deployment.split(p)?.model == Self.storedModel($0) } ?? true }
                return try r.performances(models: pairs, hours: hours, now: now)
            }, single: false)
        case let .stats(model?, hours, false):
            return .stats([try read { r throws(RedisError) in try r.performance(model: Self.storedModel(model), hours: hours, now: now) }], single: true)
        case let .stats(nil, hours, false):
            return .stats(try read { r throws(RedisError) in
                let w = WindowReader.window(hours: hours, now: now)
                return try r.performances(models: try r.models(from: w.from, to: w.to), hours: hours, now: now)
            }, single: false)
        case let .system(hours):
            return .system(try read { r throws(RedisError) in try r.system(hours: hours, now: now) })
        case let .trend(days, model):
            return .trend(try read { r throws(RedisError) in try r.trend(days: days, model: model, now: now) })
        case let .alerts(q):
            if case let .sqlite(path) = database, access(path, F_OK) != 0 { return .alerts([], notCreated: path) }
            do {
                guard let table = try database.openTable() else {
                    throw ReportError(.noTable, "alerts.database is none: alerts go to the journal only (journalctl SYSLOG_IDENTIFIER=aimon)")
                }
                return .alerts(try table.list(q.filter(now: now)), notCreated: nil)
            } catch let error as AlertTableError {
                throw ReportError(error.kind == .unavailable ? .unavailable : .failed, error.description)
            } catch let error as ReportError {
                throw error
            } catch {
                throw ReportError(.failed, "\(error)")
            }
        }
    }
}
