/// The alert table (SQLite or PostgreSQL): one row per alert episode, upserted by fingerprint.
public protocol AlertTable: AnyObject {
    /// Creates the table or brings it to the current schema version.
    func migrate() throws(AlertTableError)
    /// Writes rows in one transaction. Idempotent: writing a row again changes nothing.
    func upsert(_ rows: [AlertRow]) throws(AlertTableError)
    /// Rows matching the filter, newest first.
    func list(_ filter: AlertFilter) throws(AlertTableError) -> [AlertRow]
}

public struct AlertTableError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The database cannot be reached or opened: retry later.
        case unavailable
        /// A statement failed.
        case query
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// The SQL both databases share; they differ in placeholders and a few functions.
enum AlertSQL {
    static let table = "aimon_alerts"

    /// Migrations in order; the schema version is how many have run.
    static func migrations(postgres: Bool) -> [[String]] {
        let id = postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
        let time = postgres ? "TIMESTAMPTZ" : "TEXT"
        let real = postgres ? "DOUBLE PRECISION" : "REAL"
        let bool = postgres ? "BOOLEAN" : "INTEGER"
        return [[
            """
            CREATE TABLE \(table) (
              id \(id),
              rule_name TEXT NOT NULL,
              alert_type TEXT NOT NULL,
              level TEXT NOT NULL,
              severity TEXT NOT NULL,
              message TEXT NOT NULL,
              is_active \(bool) NOT NULL,
              created_at \(time) NOT NULL,
              model TEXT NOT NULL,
              value \(real),
              threshold \(real) NOT NULL,
              "window" TEXT NOT NULL,
              fingerprint TEXT NOT NULL UNIQUE,
              resolved_at \(time),
              notify_count INTEGER NOT NULL,
              host TEXT NOT NULL
            )
            """,
            "CREATE INDEX \(table)_created_at ON \(table) (created_at)",
            "CREATE INDEX \(table)_active ON \(table) (is_active, created_at)",
        ], [
            // 2: the deployment of a (model, deployment) pair's alert; NULL for a model's. Safe to
            // run again: an older aimon starting on the table sets the version back to 1.
            "ALTER TABLE \(table) ADD COLUMN \(postgres ? "IF NOT EXISTS " : "")deployment TEXT",
        ]]
    }

    /// The column an `ALTER TABLE ... ADD COLUMN` adds (SQLite has no IF NOT EXISTS for it).
    static func addedColumn(_ sql: String) -> String? {
        guard sql.hasPrefix("ALTER TABLE"), let r = sql.range(of: "ADD COLUMN ") else { return nil }
        return sql[r.upperBound...].split(separator: " ").first.map(String.init)
    }

    /// Sets the schema version, never lowering it (a newer aimon may share the table).
    static func setVersion(_ n: Int) -> String { "UPDATE aimon_schema SET version = \(n) WHERE version < \(n)" }

    /// The upsert: a resolved row is final, so a late or repeated write cannot reopen it.
    static func upsert(postgres: Bool) -> String {
        let p = (1...16).map { postgres ? "$\($0)" : "?" }
        let created = postgres ? "\(p[6])::timestamptz" : p[6]
        let resolved = postgres ? "\(p[12])::timestamptz" : p[12]
        return """
        INSERT INTO \(table) (rule_name, alert_type, level, severity, message, is_active, created_at, model, value,
                              threshold, "window", fingerprint, resolved_at, notify_count, host, deployment)
        VALUES (\(p[0]), \(p[1]), \(p[2]), \(p[3]), \(p[4]), \(p[5]), \(created), \(p[7]), \(p[8]), \(p[9]), \(p[10]), \(p[11]), \(resolved), \(p[13]), \(p[14]), \(p[15]))
        ON CONFLICT (fingerprint) DO UPDATE SET
          is_active = excluded.is_active,
          resolved_at = excluded.resolved_at,
          notify_count = \(postgres ? "GREATEST" : "max")(\(table).notify_count, excluded.notify_count),
          value = coalesce(excluded.value, \(table).value)
        WHERE \(table).is_active
        """
    }

    /// The row's values as text, in `upsert` parameter order (nil: NULL).
    static func parameters(_ r: AlertRow, postgres: Bool) -> [String?] {
        [r.ruleName, r.alertType, r.level, r.severity, r.message,
         postgres ? (r.isActive ? "true" : "false") : (r.isActive ? "1" : "0"),
         r.createdAt, r.model, r.value.map { String($0) }, String(r.threshold), r.window, r.fingerprint,
         r.resolvedAt, String(r.notifyCount), r.host, r.deployment]
    }

    /// The list query and its parameters; columns in `AlertRow.columns` order, times as text.
    static func list(_ f: AlertFilter, postgres: Bool) -> (String, [String?]) {
        func time(_ c: String) -> String {
            postgres ? "to_char(\(c) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')" : c
        }
        var conditions: [String] = []
        var params: [String?] = []
        func next() -> String { postgres ? "$\(params.count)" : "?" }
        if f.activeOnly { conditions.append(postgres ? "is_active" : "is_active = 1") }
        if let s = f.since { params.append(s); conditions.append("created_at >= \(next())\(postgres ? "::timestamptz" : "")") }
        if let m = f.model { params.append(m); conditions.append("model = \(next())") }
        let columns = AlertRow.columns.map { c in
            c == "created_at" || c == "resolved_at" ? time(c) : c == "window" ? "\"window\"" : c == "is_active" && postgres ? "CASE WHEN is_active THEN 1 ELSE 0 END" : c
        }
        let sql = "SELECT \(columns.joined(separator: ", ")) FROM \(table)"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY created_at DESC, id DESC LIMIT \(f.limit)"
        return (sql, params)
    }

    /// A row from the list query's text columns.
    static func row(_ c: [String?]) -> AlertRow {
        AlertRow(id: c[0].flatMap { Int64($0) }, ruleName: c[1] ?? "", alertType: c[2] ?? "", level: c[3] ?? "",
                 severity: c[4] ?? "", message: c[5] ?? "", isActive: c[6] == "1" || c[6] == "t" || c[6] == "true",
                 createdAt: c[7] ?? "", model: c[8] ?? "", value: c[9].flatMap { Double($0) },
                 threshold: c[10].flatMap { Double($0) } ?? 0, window: c[11] ?? "", fingerprint: c[12] ?? "",
                 resolvedAt: c[13], notifyCount: c[14].flatMap { Int($0) } ?? 0, host: c[15] ?? "", deployment: c.count > 16 ? c[16] : nil)
    }
}

extension AlertsConfig.Database {
    /// Opens the table this URL names and brings its schema up to date; nil for `none`.
    public func openTable(migrate: Bool = true) throws(AlertTableError) -> (any AlertTable)? {
        let table: any AlertTable
        switch self {
        case .none: return nil
        case let .sqlite(path): table = try SQLiteAlertTable(path: path)
        case let .postgres(uri, password): table = try PostgresAlertTable(uri: uri, password: password, redacted: description)
        }
        if migrate { try table.migrate() }
        return table
    }
}
