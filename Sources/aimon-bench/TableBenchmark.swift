import AimonCore
import ArgumentParser
import Foundation

/// The speed issue's whole table in one run: each figure measured by the benchmark that owns it,
/// with its target and whether this run met it. mtail runs on the same log as aimon.
struct SpeedTable: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "Every speed figure in one run (end to end beside mtail, parse, RSS, reports, idle, alert latency), with targets.",
        discussion: """
        Build in release mode first:  swift build -c release --product aimon && swift build -c release --product aimon-bench
        Needs redis-server, a journal (scripts/start-journal.sh) for the alert latency, and mtail for the \
        comparison (apt-get install mtail). Takes about 3 minutes with the defaults, once the logs exist \
        (they are generated on the first run and reused: about 4 GB for the defaults in --work-dir).
        """)

    @Option(help: "Lines of the end-to-end log (mtail reads the same).")
    var lines = 1_000_000

    @Option(help: "Runs of the end-to-end measure and of mtail, alternated (the median of each is shown).")
    var e2eRuns = 3

    @Option(help: "Lines of the second log, for peak RSS as the log grows.")
    var bigLines = 4_000_000

    @Option(help: "Calls of history under `aimon stats` (7 days, 5 models).")
    var history = 10_000_000

    @Option(help: "Seconds of the idle measure (1,000 files).")
    var idleSeconds = 60.0

    @Option(help: "Alert cycles of the latency measure (under 200k lines/s of load).")
    var cycles = 40

    @Option(help: "Where logs are written (reused when they exist).")
    var workDir = "/tmp/aimon-bench"

    struct Row { var measure: String, figure: String, target: String, met: Bool? }

    func validate() throws {
        guard e2eRuns >= 1 else { throw ValidationError("--e2e-runs must be at least 1") }
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        var rows: [Row] = []
        func say(_ row: Row) {
            rows.append(row)
            print("  \(row.measure): \(row.figure)", terminator: "\n")
        }
        let server = try PrivateRedis()
        defer { server.stop() }

        // End to end beside mtail, on the same log.
        let log = "\(workDir)/gateway-\(lines).jsonl"
        _ = try BenchLog.ensure(path: log, lines: lines)
        // Alternated runs, the median of each: this VM's speed moves by a third within minutes, and
        // one run each would compare a fast minute with a slow one.
        var runs: [EndToEndBenchmark.Result] = [], mtailRuns: [Double] = []
        for _ in 0..<e2eRuns {
            runs.append(try EndToEndBenchmark.run(logPath: log, lines: lines, redisURL: server.url, workDir: workDir))
            if let m = try MtailBenchmark.run(logPath: log, lines: lines, workDir: workDir) { mtailRuns.append(m.linesPerSecond) }
        }
        let e2e = runs.sorted { $0.linesPerSecond < $1.linesPerSecond }[runs.count / 2]
        let mtail = mtailRuns.isEmpty ? nil : mtailRuns.sorted()[mtailRuns.count / 2]
        let ratio = mtail.map { e2e.linesPerSecond / $0 }
        func spread(_ xs: [Double]) -> String {
            xs.count < 2 ? "" : String(format: " (%.0fk-%.0fk)", xs.min()! / 1000, xs.max()! / 1000)
        }
        let median = e2eRuns > 1 ? "median of \(e2eRuns) " : ""
        say(Row(measure: "end to end, `aimon replay` file -> committed Redis (\(lines / 1_000_000)M lines)",
                figure: median + String(format: "%.0fk lines/s", e2e.linesPerSecond / 1000) + spread(runs.map(\.linesPerSecond))
                    + (mtail.map { String(format: "; mtail %.0fk lines/s", $0 / 1000) + spread(mtailRuns) + String(format: ": %.1fx", ratio!) } ?? "; mtail not installed"),
                target: ">= 1M lines/s, >= 15x mtail", met: e2e.linesPerSecond >= 1_000_000 && (ratio ?? 0) >= 15))

        // Parse only: native, then every preset (its slowest).
        let native = try ParseBenchmark.run(path: log)
        say(Row(measure: "parse only, native format, one core", figure: String(format: "%.2fM lines/s", native.linesPerSecond / 1e6),
                target: ">= 3M lines/s", met: native.linesPerSecond >= 3_000_000))
        var slowest: (String, Double) = ("", .infinity)
        for format in LogFormat.allCases {
            let r = FormatBench.best(FormatBench.log(format, lines: 200_000), format: format, passes: 3)
            if r.linesPerSecond < slowest.1 { slowest = (format.rawValue, r.linesPerSecond) }
        }
        say(Row(measure: "parse only, slowest preset (200k lines each)", figure: String(format: "%@ %.2fM lines/s", slowest.0, slowest.1 / 1e6),
                target: ">= 2M lines/s", met: slowest.1 >= 2_000_000))

        // Peak RSS as the log grows.
        let big = "\(workDir)/gateway-\(bigLines).jsonl"
        _ = try BenchLog.ensure(path: big, lines: bigLines)
        let e2eBig = try EndToEndBenchmark.run(logPath: big, lines: bigLines, redisURL: server.url, workDir: workDir)
        let peak = runs.map(\.peakRSSMiB).max()!  // the highest of the runs
        say(Row(measure: "peak RSS of `aimon replay`, \(lines / 1_000_000)M and \(bigLines / 1_000_000)M lines",
                figure: String(format: "%.1f and %.1f MiB (%.0fk lines/s at %dM)", peak, e2eBig.peakRSSMiB, e2eBig.linesPerSecond / 1000, bigLines / 1_000_000),
                target: "<= 24 MiB", met: max(peak, e2eBig.peakRSSMiB) <= 24))

        // `aimon stats` as a process over a long history.
        var reports = try ReportLatency.parse(["--lines", "\(history)", "--work-dir", workDir])
        reports.runs = 9
        let (historyServer, config, _) = try reports.prepareHistory()
        defer { historyServer?.stop() }
        let stats = try ReportLatency.times(aimon: siblingExecutable("aimon"), args: ["stats", "--hours", "24"], config: config, runs: 9)
        say(Row(measure: "`aimon stats` over \(history / 1_000_000)M calls, as a process (median of 9)",
                figure: String(format: "%.1f ms", stats[stats.count / 2]), target: "<= 20 ms", met: stats[stats.count / 2] <= 20))

        // Idle.
        let (cpu, span) = try IdleCost.measure(files: 1000, seconds: idleSeconds, workDir: "/tmp/aimon-bench-idle")
        say(Row(measure: "idle CPU, 1,000 tailed files, no writes (\(Int(idleSeconds)) s)", figure: String(format: "%.3f %% of a core", cpu / span * 100),
                target: "< 0.05 %", met: cpu / span * 100 < 0.05))

        // Alert latency under load.
        let latency = try AlertLatency.parse(["--cycles", "\(cycles)", "--load", "200000"]).measure()
        say(Row(measure: "line appended -> alert in the journal, while 200k lines/s are ingested (\(latency.alerts) alerts)",
                figure: String(format: "p50 %.1f ms, p99 %.1f ms", latency.p50, latency.p99), target: "p99 <= 20 ms", met: latency.p99 <= 20))

        print("\n| measure | this run | target | met |\n|---|---|---|---|")
        for r in rows { print("| \(r.measure) | \(r.figure) | \(r.target) | \(r.met.map { $0 ? "yes" : "**no**" } ?? "-") |") }
    }
}
