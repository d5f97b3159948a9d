import CPQ
#if canImport(Glibc)
import Glibc
#endif

/// The alert table in PostgreSQL (several hosts, one table), through libpq. Owns one `PGconn`;
/// reconnects on the next call after the server went away.
public final class PostgresAlertTable: AlertTable {
    private var conn: OpaquePointer?
    private let uri: String
    private let password: String?
    private let redacted: String
    private let timeout: Int

    /// Connects to `uri` (`postgres://user:password@host:port/db`); `password`, when given, wins over
    /// the URI's.
    public init(uri: String, password: String? = nil, redacted: String, timeout: Int = 5) throws(AlertTableError) {
        self.uri = uri
        self.password = password
        self.redacted = redacted
        self.timeout = timeout
        try connect()
    }

    deinit { cpq_finish(conn) }

    private func connect() throws(AlertTableError) {
        cpq_finish(conn)
        conn = nil
        // Later key words win over what the URI (expanded from dbname) says.
        let keys = ["dbname", "connect_timeout", "application_name"] + (password == nil ? [] : ["password"])
        let values = [uri, String(timeout), "aimon"] + (password.map { [$0] } ?? [])
        if let why = cpq_load() {
            throw AlertTableError(.unavailable, "the alert table \(redacted) needs libpq, which cannot be loaded: \(String(cString: why)); install libpq5")
        }
        let c = withCStrings(keys) { k in withCStrings(values) { v in cpq_connectdbParams(k, v, 1) } }
        guard let c, cpq_status(c) == CPQ_CONNECTION_OK else {
            let message = c.map { String(cString: cpq_errorMessage($0)) } ?? "out of memory"
            cpq_finish(c)
            throw AlertTableError(.unavailable, "cannot connect to the alert table \(redacted): \(message.trimmingNewlines)")
        }
        conn = c
        _ = try? run("SET client_min_messages = warning", [])
    }

    public func migrate() throws(AlertTableError) {
        try transaction { () throws(AlertTableError) in
            // Several hosts may start at once: one migrates, the others wait and find it done.
            _ = try run("SELECT pg_advisory_xact_lock(7369646)", [])
            _ = try run("CREATE TABLE IF NOT EXISTS aimon_schema (version INTEGER NOT NULL)", [])
            var version = Int(try run("SELECT version FROM aimon_schema", []).first?[0] ?? "") ?? -1
            if version < 0 {
                _ = try run("INSERT INTO aimon_schema (version) VALUES (0)", [])
                version = 0
            }
            let all = AlertSQL.migrations(postgres: true)
            for step in all.dropFirst(version) { for sql in step { _ = try run(sql, []) } }
            _ = try run(AlertSQL.setVersion(all.count), [])
        }
    }

    public func upsert(_ rows: [AlertRow]) throws(AlertTableError) {
        let sql = AlertSQL.upsert(postgres: true)
        try transaction { () throws(AlertTableError) in
            for r in rows { _ = try run(sql, AlertSQL.parameters(r, postgres: true)) }
        }
    }

    public func list(_ filter: AlertFilter) throws(AlertTableError) -> [AlertRow] {
        try ensureConnected()
        let (sql, params) = AlertSQL.list(filter, postgres: true)
        return try run(sql, params).map(AlertSQL.row)
    }

    /// Reconnects when the server went away since the last call.
    private func ensureConnected() throws(AlertTableError) {
        if conn == nil || cpq_status(conn) != CPQ_CONNECTION_OK { try connect() }
    }

    private func transaction(_ body: () throws(AlertTableError) -> Void) throws(AlertTableError) {
        try ensureConnected()
        _ = try run("BEGIN", [])
        do {
            try body()
            _ = try run("COMMIT", [])
        } catch {
            _ = try? run("ROLLBACK", [])
            throw error
        }
    }

    /// One statement with text parameters (`PQexecParams`); rows as text columns.
    private func run(_ sql: String, _ params: [String?]) throws(AlertTableError) -> [[String?]] {
        let result = withOptionalCStrings(params) { values in
            cpq_execParams(conn, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        defer { cpq_clear(result) }
        let status = cpq_resultStatus(result)
        guard status == CPQ_PGRES_COMMAND_OK || status == CPQ_PGRES_TUPLES_OK else {
            let message = String(cString: cpq_errorMessage(conn)).trimmingNewlines
            let lost = cpq_status(conn) != CPQ_CONNECTION_OK
            let head = sql.split(separator: "\n").first.map(String.init) ?? sql
            throw AlertTableError(lost ? .unavailable : .query,
                                  "PostgreSQL \(redacted): \(message.isEmpty ? "no result" : message) (in: \(head.prefix(60)))")
        }
        var rows: [[String?]] = []
        for r in 0..<cpq_ntuples(result) {
            rows.append((0..<cpq_nfields(result)).map { c in
                cpq_getisnull(result, r, c) == 1 ? nil : String(cString: cpq_getvalue(result, r, c))
            })
        }
        return rows
    }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    withOptionalCStrings(strings + [nil]) { body($0) }
}

/// Calls `body` with an array of C strings (nil entries stay NULL).
private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for p in copies { free(p) } }
    let pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension String {
    var trimmingNewlines: String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}
