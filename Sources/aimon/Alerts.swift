import AimonCore
import ArgumentParser

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List alert episodes from the alert table, newest first.",
        discussion: """
        One row per episode: it opens when an alert fires and closes (is_active false, resolved_at \
        set) when it resolves. The table is alerts.database in the configuration (SQLite by default, \
        or PostgreSQL shared by several hosts). The journal has the same alerts as they happen:
          journalctl SYSLOG_IDENTIFIER=aimon -p warning
          journalctl AIMON_FINGERPRINT=<fingerprint>   (one episode)

        Examples:
          aimon alerts --active
          aimon alerts --since 7d --model gpt-4o --json
        """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Only alerts still firing.")
    var active = false

    @Option(help: ArgumentHelp("Only episodes that began within this long (e.g. 30m, 24h, 7d). Default: 24h, or all with --active.", valueName: "duration"))
    var since: String?

    @Option(help: "Only this model (\"*\" for the all-models alerts).")
    var model: String?

    @Option(help: "At most this many rows.")
    var limit = 1000

    @Flag(help: "An array of row objects with the table's column names.")
    var json = false

    func validate() throws {
        if let since, Quantities.duration(since) == nil {
            throw ValidationError("--since '\(since)' is not a duration (e.g. 30m, 24h, 7d)")
        }
        if let p = ReportQuery.problem(limit: limit) { throw ValidationError("--limit \(p)") }
    }

    func run() throws {
        let query = ReportQuery.Alerts(active: active, since: ReportQuery.since(since, active: active), model: model, limit: limit)
        let answer = try runReport(.alerts(query), options)
        guard case let .alerts(rows, notCreated) = answer else { return }
        if json {
            print(answer.json.pretty)
        } else if let notCreated {
            print("No alert table yet at \(notCreated): aimon run creates it with its first alert.")
        } else {
            print(AlertsTable.render(rows, window: query.since, activeOnly: active))
        }
    }
}

/// The human view of alert rows: one aligned line per episode.
enum AlertsTable {
    static func render(_ rows: [AlertRow], window: Double?, activeOnly: Bool) -> String {
        let scope = (activeOnly ? "active alerts" : "alerts") + (window.map { " begun in the last \(AlertRule.durationText($0))" } ?? "")
        guard !rows.isEmpty else { return "No \(scope)." }
        var table = TextTable(["STATE", "SEVERITY", "TYPE", "MODEL", "VALUE", "SINCE (UTC)", "RESOLVED (UTC)", "NOTICES"])
        for r in rows {
            let type = AlertType(rawValue: r.alertType)
            let value = r.value.map { v in type.map { AlertTransition.format(v, $0) } ?? String(v) } ?? "-"
            table.add([r.isActive ? "FIRING" : "resolved", r.severity, r.alertType, r.model + (r.deployment.map { " @ " + $0 } ?? ""), value,
                       short(r.createdAt), r.resolvedAt.map(short) ?? "-", String(r.notifyCount)])
        }
        let out = ["\(rows.count) \(scope), newest first:"] + table.render(leftAligned: Set(0..<8))
        return out.joined(separator: "\n")
    }

    /// `2026-11-27T06:12:00.123Z` -> `2026-11-27 06:12:00`.
    static func short(_ t: String) -> String {
        String(t.prefix(19).map { $0 == "T" ? " " : $0 })
    }
}
