import Foundation
import Synchronization
import Testing
@testable import AimonCore

@Suite struct AlertSinkTests {
    static func transition(_ kind: AlertTransition.Kind, model: String = "gpt-4o", at: Double = 1_795_760_000) -> AlertTransition {
        AlertTransition(kind: kind, type: .lowSuccessRate, model: model, severity: .warning, value: kind == .resolved ? 0.99 : 0.8,
                        threshold: 0.95, window: 3600, sample: 120, fingerprint: "00000000000000ab",
                        episodeStart: 1_795_759_000, at: at, notifyCount: kind == .reminder ? 2 : 1)
    }

    /// `journalctl -x` explains every alert: systemd/aimon.catalog has an entry per MESSAGE_ID.
    @Test func everyAlertTypeHasACatalogEntry() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let catalog = try String(contentsOf: root.appendingPathComponent("systemd/aimon.catalog"), encoding: .utf8)
        for type in AlertType.allCases { #expect(catalog.contains("\n-- \(type.messageID)\n"), "\(type)") }
    }

    @Test func withoutAJournalAlertsGoToStderrAndAreCounted() {
        let lines = Mutex<[String]>([])
        let telemetry = Telemetry()
        let sink = JournalSink(host: "h", socketPath: "/nonexistent/journal/socket", telemetry: telemetry) { line in lines.withLock { $0.append(line) } }
        sink.deliver(Self.transition(.firing))
        #expect(sink.fallbacks == 1 && sink.sent == 0)
        #expect(telemetry.figures.publishedSinkCounters == ["alerts_journal": 0, "alerts_stderr": 1])
        let line = lines.withLock { $0.first } ?? ""
        #expect(line.contains("journal unavailable: no journal socket at /nonexistent/journal/socket"))
        #expect(line.contains("<4> Firing low_success_rate for model gpt-4o: success rate 80.0% over 1h (120 calls) (threshold 95.0%)"))
    }

    @Test func fieldsAreUpperCaseAndValuesCannotInjectFieldsOrLines() {
        let fields = JournalSink.fields(Self.transition(.firing, model: "evil\nPRIORITY=0\nMESSAGE_ID=x"), host: "gw\n1")
        for f in fields {
            let name = f.prefix { $0 != "=" }
            #expect(name.allSatisfy { $0.isUppercase || $0 == "_" }, "\(f)")
            #expect(!f.contains("\n"), "\(f)")
        }
        #expect(fields.contains("AIMON_MODEL=evil\\x0aPRIORITY=0\\x0aMESSAGE_ID=x"))
        #expect(fields.filter { $0.hasPrefix("PRIORITY=") } == ["PRIORITY=4"])
        #expect(fields.contains("MESSAGE_ID=9cea97ac92d54a679793d092006cc15a"))
        #expect(fields.contains("AIMON_VALUE=0.8") && fields.contains("AIMON_THRESHOLD=0.95") && fields.contains("AIMON_WINDOW=1h"))
    }

    @Test func rowsOfOneEpisodeFoldLikeTheTableUpsert() {
        let fired = AlertRow(Self.transition(.firing), host: "h")!
        let reminded = AlertRow(Self.transition(.reminder), host: "h")!
        let resolved = AlertRow(Self.transition(.resolved, at: 1_795_760_100), host: "h")!
        #expect(AlertRow(Self.transition(.held), host: "h") == nil)
        let folded = fired.merging(reminded).merging(resolved)
        #expect(folded.message == fired.message && folded.createdAt == "2026-11-27T05:56:40.000Z")
        #expect(!folded.isActive && folded.resolvedAt == "2026-11-27T06:15:00.000Z" && folded.notifyCount == 2 && folded.value == 0.99)
        // A resolved row is final: a late reminder does not reopen it.
        #expect(folded.merging(reminded) == folded)
    }

    @Test func theSQLiteTableUpsertsOneRowPerEpisode() throws {
        let folder = LogFolder()
        let table = try SQLiteAlertTable(path: folder.file("nested/alerts.db"))
        try table.migrate()
        try table.migrate()  // idempotent
        let fired = AlertRow(Self.transition(.firing), host: "h")!
        var other = AlertRow(Self.transition(.firing, model: "it's \"quoted\""), host: "h")!
        other.fingerprint = "00000000000000cd"
        try table.upsert([fired, other])
        try table.upsert([fired])  // a retry adds nothing
        try table.upsert([AlertRow(Self.transition(.resolved), host: "h")!])
        try table.upsert([AlertRow(Self.transition(.reminder), host: "h")!])  // late: ignored
        let rows = try table.list(AlertFilter())
        #expect(rows.count == 2)
        let first = rows.first { $0.fingerprint == fired.fingerprint }!
        #expect(!first.isActive && first.resolvedAt != nil && first.notifyCount == 1 && first.value == 0.99)
        #expect(first.message == fired.message && first.createdAt == fired.createdAt)
        #expect(try table.list(AlertFilter(activeOnly: true)).map(\.model) == ["it's \"quoted\""])
        #expect(try table.list(AlertFilter(since: "2026-11-28T00:00:00.000Z")).isEmpty)
        #expect(try table.list(AlertFilter(model: "gpt-4o")).count == 1)
    }

    /// A table made by the first schema (no deployment column) is brought up to date in place: its
    /// rows stay, and a deployment's alert is written and listed with its deployment.
    @Test func aVersionOneTableGetsTheDeploymentColumn() throws {
        let folder = LogFolder()
        let path = folder.file("old.db")
        let v1 = AlertSQL.migrations(postgres: false)[0] + [
            "CREATE TABLE aimon_schema (version INTEGER NOT NULL)", "INSERT INTO aimon_schema (version) VALUES (1)",
            "INSERT INTO aimon_alerts (rule_name, alert_type, level, severity, message, is_active, created_at, model, value, threshold, \"window\", fingerprint, resolved_at, notify_count, host) VALUES ('r', 'low_success_rate', 'warning', 'warning', 'old', 1, '2026-11-27T05:56:40.000Z', 'gpt-4o', 0.5, 0.95, '1h', '0000000000000001', NULL, 1, 'h')",
        ]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [path, v1.joined(separator: ";\n") + ";"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let table = try SQLiteAlertTable(path: path)
        try table.migrate()
        var pair = AlertRow(Self.transition(.firing, model: Deployment.pair("gpt-4o", "eu-west")), host: "h")!
        pair.fingerprint = "00000000000000ef"
        try table.upsert([pair])
        let rows = try table.list(AlertFilter())
        #expect(rows.count == 2)
        #expect(rows.first { $0.fingerprint == "00000000000000ef" }.map { [$0.model, $0.deployment ?? "-"] } == ["gpt-4o", "eu-west"])
        #expect(rows.contains { $0.deployment == nil })
        // An older aimon starting on the table sets its version back to 1: the next start migrates
        // again without failing on the column it already has.
        let back = Process()
        back.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        back.arguments = [path, "UPDATE aimon_schema SET version = 1"]
        try back.run()
        back.waitUntilExit()
        try SQLiteAlertTable(path: path).migrate()
        #expect(try SQLiteAlertTable(path: path).list(AlertFilter()).count == 2)
    }
}
