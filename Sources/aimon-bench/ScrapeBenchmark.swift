import AimonCore
import ArgumentParser
import Foundation

/// What a Prometheus scraping `/metrics` every second costs ingest: `aimon run` reads the same log
/// from its beginning with `http.listen` set, alone and then while a real Prometheus (Debian's
/// `prometheus`) scrapes it every second (and a client asks for the status page every second);
/// each run is timed from the daemon's start to the moment Redis holds every line.
struct ScrapeCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrape",
        abstract: "Measure end-to-end ingest by `aimon run` with and without a Prometheus scraping /metrics every second.",
        discussion: "Build in release mode first: swift build -c release. Needs /usr/bin/prometheus (apt-get install prometheus).")

    @Option(help: "Lines in the generated log.")
    var lines = 4_000_000

    @Option(help: "Runs of each kind, alternated (the median is printed).")
    var runs = 3

    @Option(help: "Where to write the generated log (reused when it exists).")
    var workDir = "/tmp/aimon-bench"

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw ValidationErrorText("/usr/bin/prometheus is missing: apt-get install prometheus")
        }
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let log = "\(workDir)/gateway-\(lines).jsonl"
        let bytes = try BenchLog.ensure(path: log, lines: lines)
        print("log: \(log), \(lines) lines, \(bytes / 1_000_000) MB")
        let server = try PrivateRedis()
        defer { server.stop() }
        var alone: [Double] = []
        var scraped: [Double] = []
        var scrapes = 0
        for _ in 0..<runs {
            alone.append(try ingest(log: log, redis: server.url, scrape: false).seconds)
            let s = try ingest(log: log, redis: server.url, scrape: true)
            scraped.append(s.seconds)
            scrapes += s.scrapes
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let a = median(alone), s = median(scraped)
        print(String(format: "aimon run, no scraper:                    %6.2f s  %8.0f lines/s  (runs: %@)", a, Double(lines) / a,
                     alone.map { String(format: "%.2f", $0) }.joined(separator: " ")))
        print(String(format: "aimon run, Prometheus every 1 s + page:   %6.2f s  %8.0f lines/s  (runs: %@; %d scrapes seen)", s, Double(lines) / s,
                     scraped.map { String(format: "%.2f", $0) }.joined(separator: " "), scrapes))
        print(String(format: "difference: %+.1f %%", (s - a) / a * 100))
    }

    func ingest(log: String, redis: String, scrape: Bool) throws -> (seconds: Double, scrapes: Int) {
        let dir = "\(workDir)/scrape-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        symlink(log, "\(dir)/gateway.jsonl")
        let port = 30000 + Int(UInt16.random(in: 0...20000))
        let prefix = "scrape\(UInt32.random(in: 0...UInt32.max))"
        let yaml = """
        host_id: bench
        sources:
          - path: \(dir)/gateway.jsonl
            start_at: beginning
        redis:
          url: \(redis)
          key_prefix: \(prefix)
        alerts:
          database: none
        http:
          listen: 127.0.0.1:\(port)
        log_level: warning
        """
        FileManager.default.createFile(atPath: "\(dir)/aimon.yaml", contents: Data(yaml.utf8))
        var prometheus: Process?
        if scrape {
            let config = """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: aimon
                static_configs:
                  - targets: ['127.0.0.1:\(port)']
            """
            FileManager.default.createFile(atPath: "\(dir)/prometheus.yml", contents: Data(config.utf8))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
            p.arguments = ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                           "--web.listen-address=127.0.0.1:\(port + 1)", "--log.level=error"]
            p.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            prometheus = p
            usleep(1_500_000)  // started and waiting for its target, before the clock starts
        }
        defer { prometheus?.terminate(); prometheus?.waitUntilExit() }
        let connection = try RedisConnection(url: try RedisURL(parsing: redis))
        let counters = KeySchema(prefix: prefix).ingestCounters(host: "bench")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: siblingExecutable("aimon"))
        daemon.arguments = ["run", "--config", "\(dir)/aimon.yaml"]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let start = DispatchTime.now().uptimeNanoseconds
        try daemon.run()
        defer { daemon.terminate(); daemon.waitUntilExit() }
        let client = HTTPClient(timeout: 5)
        var lastPage = 0.0
        while (try connection.command(["HGET", counters, "lines"]).integer ?? 0) < Int64(lines) {
            let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if scrape && t - lastPage >= 1 {
                _ = try? client.get("http://127.0.0.1:\(port)/")
                lastPage = t
            }
            usleep(5_000)
            guard t < 600 else { throw ValidationErrorText("not every line committed within 600 s") }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var scrapes = 0
        if scrape {
            // Prometheus' own count of its scrapes of this target.
            let q = "http://127.0.0.1:\(port + 1)/api/v1/query?query=count_over_time(up%5B10m%5D)"
            if let text = try? client.get(q), let range = text.range(of: "\"value\":[") {
                let tail = text[range.upperBound...].split(separator: ",").dropFirst().first ?? ""
                scrapes = Int(tail.trimmingCharacters(in: CharacterSet(charactersIn: "\"]}"))) ?? 0
            }
        }
        return (seconds, scrapes)
    }
}
