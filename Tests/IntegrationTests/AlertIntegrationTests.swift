import AimonCore
import Foundation
import Testing

/// Alerts end to end with the real binary, a real Redis, the real journal and real alert tables
/// (SQLite file, private PostgreSQL): an outage on one model and a slow model give exactly the
/// expected journal entries and rows, and their resolution.
@Suite(.serialized) struct AlertIntegrationTests {
    /// The model that fails, with a name that must survive keys, the journal and the table intact.
    static let failing = "claude \"3.5\": sonnet/é"
    static let slow = "mistral-large"

    /// One native log line, properly escaped.
    static func line(_ model: String, ok: Bool, latency: Double = 0.4, at time: Double) -> String {
        let obj: [String: Any] = [
            "timestamp": AlertRow.timestamp(time), "model_name": model, "success": ok, "response_time": latency,
            "status_code": ok ? 200 : 503, "error_message": ok ? NSNull() : "upstream unavailable", "user_id": "u1",
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: obj), as: UTF8.self) + "\n"
    }

    /// Makes a whole log file appear at once (a rename into the glob), so a phase is read in one batch.
    static func publish(_ ws: Workspace, _ name: String, _ lines: [String]) {
        ws.writeLog(name + ".tmp", lines)
        rename(ws.path(name + ".tmp"), ws.path(name + ".jsonl"))
    }

    /// Phase 1: the failing model's 100 calls then 30 failures in a row; the slow model's 30 calls at 15 s.
    static func outage(now: Double) -> [String] {
        var lines: [String] = []
        for i in 0..<100 { lines.append(line(failing, ok: true, at: now - 50 + Double(i) * 0.1)) }
        for i in 0..<30 { lines.append(line(failing, ok: false, at: now - 30 + Double(i) * 0.1)) }
        for i in 0..<30 { lines.append(line(slow, ok: true, latency: 15, at: now - 20 + Double(i) * 0.1)) }
        return lines
    }

    /// Phase 2: recovery; 600 good calls for the failing model, 300 fast ones for the slow model.
    static func recovery(now: Double) -> [String] {
        var lines: [String] = []
        for i in 0..<600 { lines.append(line(failing, ok: true, at: now - 10 + Double(i) * 0.01)) }
        for i in 0..<300 { lines.append(line(slow, ok: true, latency: 1, at: now - 10 + Double(i) * 0.01)) }
        return lines
    }

    static let firedOnOutage = [
        "firing consecutive_failures \(failing)", "firing high_hourly_failures *", "firing slow_response \(slow)",
        "held_back high_error_rate \(failing)", "held_back low_success_rate \(failing)",
    ].sorted()
    static let resolvedOnRecovery = ["resolved consecutive_failures \(failing)", "resolved slow_response \(slow)"]

    /// Rules that resolve as soon as the value is back, so the test needs no waiting.
    static func config(_ ws: Workspace, redis: RedisServer, database: String) -> String {
        ws.writeConfig(redis: redis.url, extra: """
        rules:
          consecutive_failures: {keep_firing_for: 0s}
          low_success_rate: {keep_firing_for: 0s}
          high_error_rate: {keep_firing_for: 0s}
          slow_response: {keep_firing_for: 0s}
          high_hourly_failures: {keep_firing_for: 0s}
        alerts:
          database: \(database)
          evaluate_interval: 1s
        """).replacingOccurrences(of: "batch_bytes: 256KiB", with: "batch_bytes: 8MiB")
    }

    func awaitEntries(_ host: String, count: Int) throws -> [[String: String]] {
        var entries: [[String: String]] = []
        _ = try eventually(timeout: 30) {
            entries = try Journal.entries("AIMON_HOST=\(host)")
            return entries.count >= count
        }
        return entries
    }

    /// The scenario on one table; `between` runs between the phases (e.g. stops PostgreSQL), `after`
    /// once the recovery is in the journal.
    /// Returns the daemon's log.
    @discardableResult
    func scenario(database: String, table: () throws -> [AlertRow], between: () throws -> Void = {}, after: () throws -> Void = {}) throws -> String {
        try Journal.requirePresent()
        let ws = Workspace()
        let redis = RedisServer.shared
        let config = Self.config(ws, redis: redis, database: database)
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }

        Self.publish(ws, "phase1", Self.outage(now: Date().timeIntervalSince1970))
        let first = try awaitEntries(ws.host, count: 5)
        let log = (try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? ""
        #expect(Journal.summary(first) == Self.firedOnOutage, "\(log)")
        #expect(try eventually(timeout: 30) { try table().count == 3 })

        try between()
        Self.publish(ws, "phase2", Self.recovery(now: Date().timeIntervalSince1970))
        let all = try awaitEntries(ws.host, count: 7)
        try after()
        #expect(Journal.summary(all) == (Self.firedOnOutage + Self.resolvedOnRecovery).sorted())

        // Priorities, message ids, fields.
        for e in all {
            let type = AlertType(rawValue: e["AIMON_ALERT_TYPE"] ?? "")
            #expect(type != nil)
            #expect(e["MESSAGE_ID"] == type?.messageID)
            let expected = switch (e["AIMON_STATE"], type) {
            case ("firing", .consecutiveFailures): "2"
            case ("firing", _): "4"
            case ("resolved", _): "5"
            default: "6"
            }
            #expect(e["PRIORITY"] == expected, "\(e)")
            #expect(e["AIMON_FINGERPRINT"]?.count == 16)
            #expect(e["MESSAGE"]?.contains("\n") == false)
        }
        let fired = try #require(all.first { $0["AIMON_STATE"] == "firing" && $0["AIMON_ALERT_TYPE"] == "consecutive_failures" })
        #expect(fired["AIMON_MODEL"] == Self.failing)
        #expect(fired["AIMON_THRESHOLD"] == "5" && fired["AIMON_WINDOW"] == "10m")
        #expect(fired["MESSAGE"]?.hasPrefix("Firing consecutive_failures for model \(Self.failing): ") == true)
        let resolved = try #require(all.first { $0["AIMON_STATE"] == "resolved" && $0["AIMON_ALERT_TYPE"] == "consecutive_failures" })
        #expect(resolved["AIMON_FINGERPRINT"] == fired["AIMON_FINGERPRINT"])

        // The table: one row per episode, the two resolved ones closed, the hourly one still open.
        var rows: [AlertRow] = []
        #expect(try eventually(timeout: 30) {
            rows = try table()
            return rows.filter { !$0.isActive }.count == 2
        })
        #expect(rows.count == 3)
        let byType = Dictionary(uniqueKeysWithValues: rows.map { ($0.alertType, $0) })
        #expect(byType["consecutive_failures"]?.model == Self.failing)
        #expect(byType["consecutive_failures"]?.fingerprint == fired["AIMON_FINGERPRINT"])
        #expect(byType["consecutive_failures"]?.resolvedAt != nil)
        #expect(byType["consecutive_failures"]?.severity == "critical" && byType["consecutive_failures"]?.level == "critical")
        #expect(byType["consecutive_failures"]?.ruleName == "ai_success_monitor_consecutive_failures")
        #expect(byType["slow_response"]?.isActive == false && byType["slow_response"]?.value.map { $0 < 10 } == true)
        #expect(byType["high_hourly_failures"]?.isActive == true && byType["high_hourly_failures"]?.model == "*")
        #expect(byType["high_hourly_failures"]?.value == 30 && byType["high_hourly_failures"]?.host == ws.host)

        // A restart announces nothing again: after it, a new alert arrives alone.
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        let again = try startDaemon(config: config, log: ws.path("aimon.log"))
        defer { if again.isRunning { again.terminate() }; again.waitUntilExit() }
        let now = Date().timeIntervalSince1970
        Self.publish(ws, "phase3", (0..<6).map { Self.line("gpt-4o", ok: false, at: now + Double($0) * 0.01) })
        let later = try awaitEntries(ws.host, count: 8)
        #expect(Journal.summary(later) == (Self.firedOnOutage + Self.resolvedOnRecovery + ["firing consecutive_failures gpt-4o"]).sorted())

        // Every key aimon wrote, alert states included, expires.
        let r = try redis.connection()
        let written = try r.command(["KEYS", ws.prefix + ":*"]).array?.compactMap(\.text) ?? []
        #expect(written.contains(KeySchema(prefix: ws.prefix).alertStates(nil)) && written.contains(KeySchema(prefix: ws.prefix).alerting))
        for key in written { #expect(try r.command(["TTL", key]).integer ?? -1 > 0, "\(key)") }
        return (try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? ""
    }

    @Test func anOutageAndASlowModelInTheJournalAndTheSQLiteTable() throws {
        let ws = Workspace()
        let db = ws.path("state/alerts.db")
        try scenario(database: "sqlite://" + db, table: { try SQLiteAlertTable(path: db).list(AlertFilter()) })
        // The CLI reads the same table.
        let cfg = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: sqlite://\(db)")
        let r = try runAimon(["alerts", "--config", cfg, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 4)  // with the one after the restart
        #expect(Set(rows.first?.keys.map { $0 } ?? []) == Set(AlertRow.columns))
        let active = try runAimon(["alerts", "--config", cfg, "--active"])
        #expect(active.stdout.contains("high_hourly_failures") && !active.stdout.contains("slow_response"))
    }

    @Test func postgresStoppedMidRunLosesNoRow() throws {
        let pg = try PostgresServer()
        let table = { () throws -> [AlertRow] in
            let t = try PostgresAlertTable(uri: pg.uri, redacted: "test")
            return try t.list(AlertFilter())
        }
        let log = try scenario(database: pg.uri, table: {
            // While the server is down, reading the table fails: the check waits for it.
            (try? table()) ?? []
        }, between: { try pg.stop() }, after: { try pg.start() })
        // The outage was real: writes failed, waited, and were retried.
        #expect(log.contains("cannot write to the alert table"), "\(log)")
        // Exactly one row per episode even though writes were retried.
        let fingerprints = try pg.query("SELECT fingerprint FROM aimon_alerts")
        #expect(fingerprints.count == 3 + 1)
        #expect(try pg.query("SELECT version FROM aimon_schema") == [["2"]])  // both migrations ran (2: the deployment column)
    }

    @Test func historyFillsTheWindowsButAnnouncesNothing() throws {
        try Journal.requirePresent()
        let ws = Workspace()
        let config = Self.config(ws, redis: RedisServer.shared, database: "none")
        // Two hours ago: an outage and a slow model, read at the first start (start_at: beginning).
        let old = Self.outage(now: Date().timeIntervalSince1970 - 7200)
        ws.writeLog("history.jsonl", old)
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let r = try RedisServer.shared.connection()
        #expect(eventually(timeout: 30) { committedLines(r, prefix: ws.prefix, host: ws.host) == Int64(old.count) })
        // Something current, after the history was read and evaluated: it alone is announced.
        let now = Date().timeIntervalSince1970
        Self.publish(ws, "now", (0..<6).map { Self.line("gpt-4o", ok: false, at: now + Double($0) * 0.01) })
        let entries = try awaitEntries(ws.host, count: 1)
        #expect(Journal.summary(entries) == ["firing consecutive_failures gpt-4o"])
        let stats = try statsJSON(config: config, hours: 3)
        #expect(stats.contains { $0["model_name"] as? String == Self.failing && ($0["failed_calls"] as? NSNumber)?.intValue == 30 })
    }

    @Test func twoProcessesOnOneRedisAnnounceEachAlertOnce() throws {
        try Journal.requirePresent()
        let a = Workspace(), b = Workspace()
        let redis = RedisServer.shared
        let model = "shared-" + UUID().uuidString.prefix(6).lowercased()
        // Only the consecutive-failure rule, and one key prefix: one set of windows and alert states, two hosts feeding it.
        let onlyRuns = """
        rules:
          consecutive_failures: {keep_firing_for: 0s}
          high_hourly_failures: {enabled: false}
          low_success_rate: {enabled: false}
          slow_response: {enabled: false}
          high_error_rate: {enabled: false}
        alerts:
          database: none
          evaluate_interval: 1s
        """
        let ca = a.writeConfig(redis: redis.url, extra: onlyRuns)
        let cb = b.writeConfig(redis: redis.url, extra: onlyRuns)
        try String(contentsOfFile: cb, encoding: .utf8).replacingOccurrences(of: b.prefix, with: a.prefix)
            .write(toFile: cb, atomically: true, encoding: .utf8)
        let da = try startDaemon(config: ca, log: a.path("aimon.log"))
        let db = try startDaemon(config: cb, log: b.path("aimon.log"))
        defer {
            for d in [da, db] { if d.isRunning { d.terminate() }; d.waitUntilExit() }
        }
        let r = try RedisConnection(url: RedisURL(parsing: redis.url))
        func committed(_ n: Int64) -> Bool {
            committedLines(r, prefix: a.prefix, host: a.host) == n && committedLines(r, prefix: a.prefix, host: b.host) == n
        }
        func announced() throws -> [String] { Journal.summary(try Journal.entries("AIMON_MODEL=\(model)")) }
        for round in 0..<3 {
            // Both hosts read an outage at the same moment, and both evaluate it: one announces.
            let now = Date().timeIntervalSince1970
            for ws in [a, b] { Self.publish(ws, "fail\(round)", (0..<40).map { Self.line(model, ok: false, at: now + Double($0) * 0.01) }) }
            #expect(try eventually(timeout: 30) { try committed(Int64(45 * round + 40)) && announced().count == 2 * round + 1 })
            for ws in [a, b] { Self.publish(ws, "ok\(round)", (0..<5).map { Self.line(model, ok: true, at: now + 1 + Double($0) * 0.01) }) }
            #expect(try eventually(timeout: 30) { try committed(Int64(45 * round + 45)) && announced().count == 2 * round + 2 })
        }
        let settled = try announced()
        let entries = try Journal.entries("AIMON_MODEL=\(model)")
        #expect(settled == Array(repeating: ["firing consecutive_failures \(model)", "resolved consecutive_failures \(model)"], count: 3).flatMap { $0 }.sorted(),
                "\(committedLines(r, prefix: a.prefix, host: a.host)) \(committedLines(r, prefix: a.prefix, host: b.host))")
        #expect(Set(entries.map { $0["AIMON_FINGERPRINT"] ?? "" }).count == 3)
        #expect(Set(entries.map { $0["AIMON_HOST"] ?? "" }).isSubset(of: [a.host, b.host]))
    }
}
