import AimonCore
import ArgumentParser

struct Trend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One row per day, oldest first (the seed's get_performance_trend).",
        discussion: """
        Days are UTC calendar days from the hour buckets; today counts so far. Each row has the day's \
        calls, success rate ("no data" for a day without calls), average latency and 95th percentile. \
        A bar shows the day's calls; a success rate below 95% is marked, so a bad day stands out.
        """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Number of days, today included.")
    var days = 7

    @Option(help: "Only this model (default: all models).")
    var model: String?

    @Flag(help: "An array of day objects with the seed's key names.")
    var json = false

    func validate() throws {
        if let p = ReportQuery.problem(days: days) { throw ValidationError("--days \(p)") }
    }

    func run() throws {
        let answer = try runReport(.trend(days: days, model: model), options)
        if json { print(answer.json.pretty); return }
        guard case let .trend(rows) = answer else { return }
        let top = rows.map(\.counts.calls).max() ?? 0
        let costs = rows.contains { $0.counts.costCalls > 0 }
        var table = TextTable(["DATE", "CALLS", "SUCCESS", "AVG", "P95"] + (costs ? ["COST"] : []) + [""])
        for r in rows {
            let bad = r.successRate.map { $0 < 0.95 } ?? false
            let width = top > 0 ? Int((Double(r.counts.calls) / Double(top) * 30).rounded()) : 0
            let bar = String(repeating: "█", count: width) + (bad ? "  < 95%" : "")
            let plain: (String) -> String = { $0 }
            let red: (String) -> String = { TerminalStyle.red($0) }
            table.add([r.date, String(r.counts.calls), r.successRate.map(StatsTable.percent) ?? "no data",
                       r.avgResponseTime.map(StatsTable.seconds) ?? "no data", r.p95.map(StatsTable.seconds) ?? "no data"]
                      + (costs ? [r.counts.cost.map(StatsTable.usd) ?? "-"] : []) + [bar],
                      paint: [plain, plain, bad ? red : plain, plain, plain] + (costs ? [plain] : []) + [bad ? red : plain])
        }
        print((["\(model.map { "model \($0)" } ?? "all models"), last \(days) days (UTC), oldest first:"]
               + table.render(leftAligned: [0, costs ? 6 : 5])).joined(separator: "\n"))
    }
}
