import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// The alert table in a SQLite file (the default: nothing to run). Owns one `sqlite3` handle.
public final class SQLiteAlertTable: AlertTable {
    private var db: OpaquePointer?
    public let path: String

    /// Opens (creating the file and its folder) the database at `path`.
    public init(path: String) throws(AlertTableError) {
        self.path = path
        let folder = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !folder.isEmpty { try Self.makeFolders(folder) }
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            db = nil
            throw AlertTableError(.unavailable, "cannot open the alert table \(path): \(message) (check alerts.database and the folder's permissions)")
        }
        sqlite3_busy_timeout(db, 5000)
        // WAL lets `aimon alerts` read while the daemon writes.
        try exec("PRAGMA journal_mode=WAL")
    }

    deinit { sqlite3_close(db) }

    public func migrate() throws(AlertTableError) {
        try exec("BEGIN IMMEDIATE")
        do {
            try exec("CREATE TABLE IF NOT EXISTS aimon_schema (version INTEGER NOT NULL)")
            var version = Int(try query("SELECT version FROM aimon_schema", []).first?[0] ?? "") ?? -1
            if version < 0 {
                try exec("INSERT INTO aimon_schema (version) VALUES (0)")
                version = 0
            }
            let all = AlertSQL.migrations(postgres: false)
            for step in all.dropFirst(version) {
                for sql in step {
                    if let column = AlertSQL.addedColumn(sql),
                       try query("SELECT 1 FROM pragma_table_info('\(AlertSQL.table)') WHERE name = ?", [column]).count > 0 { continue }
                    try exec(sql)
                }
            }
            try exec(AlertSQL.setVersion(all.count))
            try exec("COMMIT")
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    public func upsert(_ rows: [AlertRow]) throws(AlertTableError) {
        try exec("BEGIN IMMEDIATE")
        do {
            let sql = AlertSQL.upsert(postgres: false)
            for r in rows { _ = try query(sql, AlertSQL.parameters(r, postgres: false)) }
            try exec("COMMIT")
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    public func list(_ filter: AlertFilter) throws(AlertTableError) -> [AlertRow] {
        let (sql, params) = AlertSQL.list(filter, postgres: false)
        return try query(sql, params).map(AlertSQL.row)
    }

    // MARK: - sqlite3 calls

    private func exec(_ sql: String) throws(AlertTableError) {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        defer { sqlite3_free(err) }
        guard rc == SQLITE_OK else { throw failure(rc, err.map { String(cString: $0) } ?? "", sql) }
    }

    /// Runs one statement with text parameters; returns its rows as text columns.
    private func query(_ sql: String, _ params: [String?]) throws(AlertTableError) -> [[String?]] {
        var stmt: OpaquePointer?
        var rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK else { throw failure(rc, String(cString: sqlite3_errmsg(db)), sql) }
        defer { sqlite3_finalize(stmt) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, p) in params.enumerated() {
            rc = p.map { sqlite3_bind_text(stmt, Int32(i + 1), $0, -1, transient) } ?? sqlite3_bind_null(stmt, Int32(i + 1))
            guard rc == SQLITE_OK else { throw failure(rc, String(cString: sqlite3_errmsg(db)), sql) }
        }
        var rows: [[String?]] = []
        while true {
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw failure(rc, String(cString: sqlite3_errmsg(db)), sql) }
            let n = sqlite3_column_count(stmt)
            rows.append((0..<n).map { c in sqlite3_column_text(stmt, c).map { String(cString: $0) } })
        }
    }

    private func failure(_ rc: Int32, _ message: String, _ sql: String) -> AlertTableError {
        let busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_FULL || rc == SQLITE_IOERR || rc == SQLITE_CANTOPEN
        let head = sql.split(separator: "\n").first.map(String.init) ?? sql
        var text = "SQLite \(path): \(message) (code \(rc), in: \(head.prefix(60)))"
        // A full disk often reads "disk I/O error" (a WAL or journal file that cannot grow): say so.
        if rc == SQLITE_FULL || rc == SQLITE_IOERR, let free = Self.freeBytes(near: path), free < 1 << 20 {
            text += "; the filesystem holding it is full (\(free) bytes free)"
        }
        return AlertTableError(busy ? .unavailable : .query, text)
    }

    /// Bytes free to this process on the filesystem holding `path` (or its folder).
    static func freeBytes(near path: String) -> UInt64? {
        var st = statvfs()
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        guard statvfs(folder.isEmpty ? "/" : folder, &st) == 0 else { return nil }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize)
    }

    static func makeFolders(_ path: String) throws(AlertTableError) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o750) != 0 && errno != EEXIST {
                throw AlertTableError(.unavailable, "cannot create the folder \(current) for the alert table: \(String(cString: strerror(errno)))")
            }
        }
    }
}
