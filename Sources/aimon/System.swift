import AimonCore
import ArgumentParser

struct SystemReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "How the whole gateway is doing over a trailing window (the seed's get_system_performance).",
        discussion: """
        Totals over all models, the success rate and average latency (over the calls that carried \
        one), latency percentiles, unique users, and the calls per model and per hour. Rates are \
        "no data" (null in JSON) for a window without calls. Unique users come from per-hour \
        HyperLogLogs (about 0.81% standard error) over the whole hours the window touches.
        """)

    @OptionGroup var options: ConfigOptions

    @OptionGroup var window: WindowOptions
    var hours: Double { window.hours }
    var json: Bool { window.json }

    func run() throws {
        let answer = try runReport(.system(hours: hours), options)
        guard case let .system(report) = answer else { return }
        print(json ? answer.json.pretty : render(report))
    }

    func render(_ r: SystemPerformance) -> String {
        let o = r.overall
        var out: [String] = []
        let rate = o.successRate.map(StatsTable.percent) ?? "no data"
        out.append("calls          \(o.counts.calls) (\(o.counts.successes) ok, \(o.counts.failedCalls) failed: \(o.counts.providerErrors) provider errors, "
                   + "\(o.counts.rateLimited) rate limited, \(o.counts.clientErrors) client errors), \(StatsTable.fixed(o.callsPerMinute, 1))/min")
        out.append("success rate   " + (o.successRate.map { $0 < 0.95 } == true ? TerminalStyle.red(rate) : rate))
        out.append("latency        avg \(o.avgResponseTime.map(StatsTable.seconds) ?? "no data"), p50 \(o.latency(quantile: 0.5).map(StatsTable.seconds) ?? "no data"), "
                   + "p95 \(o.latency(quantile: 0.95).map(StatsTable.seconds) ?? "no data"), p99 \(o.latency(quantile: 0.99).map(StatsTable.seconds) ?? "no data")")
        out.append("unique users   \(r.uniqueUsers) (estimated, ~0.8%)")
        let c = o.counts
        if c.tokenCalls > 0 {
            out.append("tokens         \(c.inputTokens) in (\(c.cachedInputTokens) cached), \(c.outputTokens) out, over \(c.tokenCalls) calls")
        }
        if let cost = c.cost { out.append("cost           \(StatsTable.usd(cost)) over \(c.costCalls) calls") }
        if let avg = c.avgTTFT {
            out.append("first token    avg \(StatsTable.seconds(avg)), p50 \(LatencyBuckets.quantile(0.5, of: c.ttftHistogram).map(StatsTable.seconds) ?? "-"), "
                       + "p95 \(LatencyBuckets.quantile(0.95, of: c.ttftHistogram).map(StatsTable.seconds) ?? "-") over \(c.ttftCount) streamed calls")
        }
        if !r.modelDistribution.isEmpty {
            out.append("")
            var table = TextTable(["MODEL", "CALLS", "SHARE"])
            for m in r.modelDistribution {
                table.add([ModelRegistry.label(m.model), String(m.calls), StatsTable.percent(Double(m.calls) / Double(max(o.counts.calls, 1)))])
            }
            out += table.render()
        }
        if !r.hourlyDistribution.isEmpty {
            out.append("")
            out.append("calls per hour (UTC), \(SystemPerformance.hourName(r.hourlyDistribution.first!.hour)) to \(SystemPerformance.hourName(r.hourlyDistribution.last!.hour)):")
            out.append("  " + Sparkline.render(r.hourlyDistribution.map { Double($0.calls) }) + "  max \(r.hourlyDistribution.map(\.calls).max() ?? 0)")
        }
        out.append("")
        out.append("window: \(AlertRow.timestamp(Double(o.from)).prefix(16))Z to \(AlertRow.timestamp(Double(o.to)).prefix(16))Z "
                   + "(last \(StatsTable.format(hours)) h, \(o.resolution == .minute ? "minute" : "hour") buckets)")
        return out.joined(separator: "\n")
    }
}

/// Eight-level bars, one character a value, scaled to the largest.
enum Sparkline {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    static func render(_ values: [Double]) -> String {
        let top = values.max() ?? 0
        return String(values.map { v in
            top <= 0 || v <= 0 ? " " : levels[min(levels.count - 1, Int((v / top * Double(levels.count - 1)).rounded()))]
        })
    }
}
