import AimonCore
import ArgumentParser
import Foundation

/// How fast the reports answer, as whole processes, with a large history in Redis: a log of
/// `--lines` calls over 7 days is generated, ingested with `aimon replay`, and each of `stats`,
/// `system` and `trend` is run `--runs` times; the median wall time is printed. Then the same reports
/// are asked of a running daemon's HTTP API (`/api/v1/...`, and the status page `/`), timed from
/// request to last byte. Run it with 1M and 10M lines: the times should not grow with the history,
/// since reports read buckets, not calls.
struct ReportLatency: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports",
        abstract: "Measure stats, system and trend as whole processes over a large history (median of runs).",
        discussion: "Build in release mode first: swift build -c release")

    @Option(help: "Calls in the history (spread over 7 days, 5 models).")
    var lines = 10_000_000

    @Option(help: "Runs of each report.")
    var runs = 9

    @Option(help: "Use this Redis instead of starting a private one.")
    var redisURL: String?

    @Option(help: "Where to write the generated log (reused when it exists).")
    var workDir = "/tmp/aimon-bench"

    func run() throws {
        let (server, config, httpPort) = try prepareHistory()
        defer { server?.stop() }
        let aimon = siblingExecutable("aimon")
        let reports: [(String, [String])] = [
            ("stats --hours 24", ["stats", "--hours", "24"]),
            ("stats --hours 168", ["stats", "--hours", "168"]),
            ("system --hours 24", ["system", "--hours", "24"]),
            ("trend --days 7", ["trend", "--days", "7"]),
            ("stats --json --model gpt-4o", ["stats", "--json", "--model", "gpt-4o"]),
        ]
        for (name, args) in reports {
            let times = try Self.times(aimon: aimon, args: args, config: config, runs: runs)
            print(String(format: "aimon %-28@ median %6.1f ms   (min %.1f, max %.1f, %d runs)", name as NSString, times[times.count / 2], times[0], times[times.count - 1], runs))
        }
        try measureAPI(aimon: aimon, config: config, port: httpPort)
    }

    /// Wall times of `aimon ARGS --config CONFIG` as whole processes, in ms, sorted.
    static func times(aimon: String, args: [String], config: String, runs: Int) throws -> [Double] {
        var times: [Double] = []
        for _ in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (rc, _) = try spawnAndWait(aimon, args + ["--config", config], stdout: "/dev/null")
            guard rc == 0 else { throw ValidationErrorText("aimon \(args.joined(separator: " ")) exited with \(rc)") }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        return times.sorted()
    }

    /// The history generated (or reused) and ingested with `aimon replay`: the Redis started for it
    /// (none with --redis-url), a configuration naming it, and a free port for the HTTP API.
    func prepareHistory() throws -> (PrivateRedis?, String, Int) {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let log = "\(workDir)/history-7d-\(lines).jsonl"
        let bytes = try BenchLog.ensure(path: log, lines: lines, hours: 7 * 24)
        print("history: \(log), \(lines) calls over 7 days, \(bytes / 1_000_000) MB")
        let server = redisURL == nil ? try PrivateRedis() : nil
        let prefix = "rep\(UInt32.random(in: 0...UInt32.max))"
        let httpPort = 30000 + Int(getpid() % 20000)
        let config = "\(workDir)/reports.yaml"
        let yaml = """
        host_id: bench
        sources:
          - path: \(workDir)/unused-*.jsonl
        redis:
          url: \(redisURL ?? server!.url)
          key_prefix: \(prefix)
        alerts:
          database: none
        http:
          listen: 127.0.0.1:\(httpPort)
        log_level: warning
        """
        FileManager.default.createFile(atPath: config, contents: Data(yaml.utf8))
        let aimon = siblingExecutable("aimon")
        let start = DispatchTime.now().uptimeNanoseconds
        let (status, _) = try spawnAndWait(aimon, ["replay", "--config", config, log], stdout: "/dev/null")
        guard status == 0 else { throw ValidationErrorText("aimon replay exited with \(status)") }
        print(String(format: "ingested with aimon replay in %.1f s", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL ?? server!.url))
        let memory = try redis.command(["INFO", "memory"]).text ?? ""
        let used = memory.split(separator: "\r\n").first { $0.hasPrefix("used_memory_human:") }?.split(separator: ":").last ?? "?"
        print("Redis memory for the history: \(used)")
        return (server, config, httpPort)
    }

    /// The same reports from the daemon's HTTP API: one client, requests one after another.
    func measureAPI(aimon: String, config: String, port: Int) throws {
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: aimon)
        daemon.arguments = ["run", "--config", config]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        defer { daemon.terminate(); daemon.waitUntilExit() }
        let client = HTTPClient(timeout: 10)
        let base = "http://127.0.0.1:\(port)"
        var up = false
        for _ in 0..<500 where !up {
            up = (try? client.get(base + "/healthz")) != nil
            if !up { usleep(10_000) }
        }
        guard up else { throw ValidationErrorText("aimon run did not answer on \(base)/healthz") }
        let paths = ["/api/v1/stats?hours=24", "/api/v1/stats?hours=168", "/api/v1/system?hours=24", "/api/v1/trend?days=7",
                     "/api/v1/stats?model=gpt-4o", "/ (status page)"]
        for path in paths {
            let url = base + (path.hasPrefix("/ ") ? "/" : path)
            _ = try client.get(url)  // a warm connection in the daemon's pool
            var times: [Double] = []
            for _ in 0..<max(runs, 21) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try client.get(url)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            times.sort()
            print(String(format: "GET %-30@ median %6.2f ms   (min %.2f, max %.2f, %d requests)", path as NSString, times[times.count / 2], times[0], times[times.count - 1], times.count))
        }
    }
}
