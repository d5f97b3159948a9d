import AimonCore
import AimonSamples
import ArgumentParser
import Foundation

@main
struct BenchTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aimon-bench",
        abstract: "Developer tools for aimon: the benchmark, and a generator of sample gateway logs.",
        subcommands: [Bench.self, SpeedTable.self, FormatBench.self, Generate.self, AlertLatency.self, ReportLatency.self, ScrapeCost.self, FleetCapacity.self, IdleCost.self],
        defaultSubcommand: Bench.self)
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Measure aimon: parse speed, end-to-end ingest speed, peak memory, and mtail on the same log.",
        discussion: """
        Build and run in release mode:  swift run -c release aimon-bench [--lines N]
        A realistic log is generated (5 models, ~3% failures, a long-tailed latency spread, 600 users). \
        A private redis-server is started on a free port unless --redis-url is given. \
        For the 1 GB figure: --lines 4200000.
        """,
        subcommands: [])

    @Option(help: "Lines in the generated log.")
    var lines = 1_000_000

    @Option(help: "Use this Redis instead of starting a private one (keys go under a fresh prefix).")
    var redisURL: String?

    @Option(help: "Where to write the generated log (reused when it exists with the same line count).")
    var workDir = "/tmp/aimon-bench"

    @Flag(help: "Skip the mtail comparison.")
    var noMtail = false

    @Flag(help: "Only the parse benchmark (no Redis, no mtail).")
    var parseOnly = false

    func run() throws {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let logPath = "\(workDir)/gateway-\(lines).jsonl"
        let bytes = try BenchLog.ensure(path: logPath, lines: lines)
        print("log: \(logPath), \(lines) lines, \(bytes / 1_000_000) MB (\(bytes / Int64(max(lines, 1))) bytes/line)")

        let parse = try ParseBenchmark.run(path: logPath)
        print(String(format: "parse only (one core, best of 3 passes in memory): %10.0f lines/s   (%d records, %d bad)", parse.linesPerSecond, parse.records, parse.bad))
        if parseOnly { return }

        let server = redisURL == nil ? try PrivateRedis() : nil
        defer { server?.stop() }
        let url = redisURL ?? server!.url
        let e2e = try EndToEndBenchmark.run(logPath: logPath, lines: lines, redisURL: url, workDir: workDir)
        print(String(format: "end to end (aimon replay, file -> committed Redis windows): %10.0f lines/s   %.2f s", e2e.linesPerSecond, e2e.seconds))
        print(String(format: "peak RSS of aimon replay: %.1f MiB", e2e.peakRSSMiB))

        if !noMtail {
            if let m = try MtailBenchmark.run(logPath: logPath, lines: lines, workDir: workDir) {
                print(String(format: "mtail --one_shot (same log, in-memory counters): %10.0f lines/s   %.2f s", m.linesPerSecond, m.seconds))
                print(String(format: "aimon end-to-end / mtail: %.1fx", e2e.linesPerSecond / m.linesPerSecond))
            } else {
                print("mtail: not installed (apt-get install mtail); comparison skipped")
            }
        }
    }
}
