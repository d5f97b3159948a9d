#if canImport(Glibc)
import Glibc
#endif

/// One alert episode in the alert table: the seed's columns plus aimon's (DESIGN.md, decision 8).
public struct AlertRow: Equatable, Sendable {
    public var id: Int64?
    public var ruleName: String
    public var alertType: String
    public var level: String
    public var severity: String
    public var message: String
    public var isActive: Bool
    /// UTC, `2026-11-27T06:12:00.123Z` (the same text in SQLite and PostgreSQL output).
    public var createdAt: String
    public var model: String
    public var value: Double?
    public var threshold: Double
    public var window: String
    public var fingerprint: String
    public var resolvedAt: String?
    public var notifyCount: Int
    public var host: String
    /// The deployment of a (model, deployment) pair's alert; nil for a model's.
    public var deployment: String?

    /// The column names, in table order: `aimon alerts --json` uses them as keys.
    public static let columns = ["id", "rule_name", "alert_type", "level", "severity", "message", "is_active", "created_at",
                                 "model", "value", "threshold", "window", "fingerprint", "resolved_at", "notify_count", "host", "deployment"]

    /// The row a transition writes (firing, reminder or resolved; pending and held-back write none).
    public init?(_ t: AlertTransition, host: String) {
        guard t.kind == .firing || t.kind == .reminder || t.kind == .resolved else { return nil }
        id = nil
        ruleName = t.type.ruleName
        alertType = t.type.rawValue
        level = t.severity.rawValue
        severity = t.severity.rawValue
        message = t.message
        isActive = t.kind != .resolved
        createdAt = Self.timestamp(t.episodeStart)
        model = t.modelField
        value = t.value
        threshold = t.threshold
        window = t.windowText
        fingerprint = t.fingerprint
        resolvedAt = t.kind == .resolved ? Self.timestamp(t.at) : nil
        notifyCount = t.notifyCount
        self.host = host
        deployment = t.deployment
    }

    public init(id: Int64?, ruleName: String, alertType: String, level: String, severity: String, message: String,
                isActive: Bool, createdAt: String, model: String, value: Double?, threshold: Double, window: String,
                fingerprint: String, resolvedAt: String?, notifyCount: Int, host: String, deployment: String? = nil) {
        self.deployment = deployment
        self.id = id; self.ruleName = ruleName; self.alertType = alertType; self.level = level
        self.severity = severity; self.message = message; self.isActive = isActive; self.createdAt = createdAt
        self.model = model; self.value = value; self.threshold = threshold; self.window = window
        self.fingerprint = fingerprint; self.resolvedAt = resolvedAt; self.notifyCount = notifyCount; self.host = host
    }

    /// A later write of the same episode folded onto an earlier one still waiting: the table's upsert
    /// rule applied in memory (the episode's first message and start stay; a resolved row is final).
    public func merging(_ later: AlertRow) -> AlertRow {
        guard isActive else { return self }
        var r = self
        r.isActive = later.isActive
        r.resolvedAt = later.resolvedAt
        r.notifyCount = max(notifyCount, later.notifyCount)
        r.value = later.value ?? value
        return r
    }

    public var json: JSONValue {
        .object([
            ("id", id.map { .int($0) } ?? .null),
            ("rule_name", .string(ruleName)), ("alert_type", .string(alertType)), ("level", .string(level)),
            ("severity", .string(severity)), ("message", .string(message)), ("is_active", .bool(isActive)),
            ("created_at", .string(createdAt)), ("model", .string(model)),
            ("value", value.map { .number($0, digits: 6) } ?? .null), ("threshold", .number(threshold, digits: 6)),
            ("window", .string(window)), ("fingerprint", .string(fingerprint)),
            ("resolved_at", resolvedAt.map { .string($0) } ?? .null), ("notify_count", .int(Int64(notifyCount))),
            ("host", .string(host)), ("deployment", deployment.map { .string($0) } ?? .null),
        ])
    }

    /// Epoch seconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func timestamp(_ epoch: Double) -> String {
        let ms = Int64(clamping: (epoch * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let milli = Int(ms % 1000)
        let m = milli < 10 ? "00\(milli)" : milli < 100 ? "0\(milli)" : "\(milli)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(m)Z"
    }
}

/// Which rows `aimon alerts` lists.
public struct AlertFilter: Sendable {
    public var activeOnly = false
    /// Rows created at or after this `AlertRow.timestamp` text.
    public var since: String?
    public var model: String?
    public var limit = 1000
    public init(activeOnly: Bool = false, since: String? = nil, model: String? = nil, limit: Int = 1000) {
        self.activeOnly = activeOnly
        self.since = since
        self.model = model
        self.limit = limit
    }
}
