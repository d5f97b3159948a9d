import AimonCore
import ArgumentParser
import Foundation

/// Time from a line appended to a tailed log until its alert is in the journal, through the real
/// daemon: `aimon run` tails a file; each cycle appends 5 failures of a fresh model (the
/// consecutive-failure alert fires) and then one success (it resolves). The latency is journald's
/// receive time of the entry (__REALTIME_TIMESTAMP) minus the time of the write.
struct AlertLatency: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert-latency",
        abstract: "Measure the time from an appended log line to its alert in the journal (p50, p99).",
        discussion: """
        Needs a journal (/run/systemd/journal/socket; scripts/start-journal.sh starts one) and \
        redis-server. Build in release mode first: swift build -c release
        """)

    @Option(help: "Alert cycles (each fires and resolves one alert: two journal entries).")
    var cycles = 100

    @Option(help: "Milliseconds between two writes (more than the alert latency being measured).")
    var gap = 150

    @Option(help: "Lines per second written meanwhile to another tailed file (successes of other models): the latency under load.")
    var load = 0

    @Option(help: "Models the load's lines name, in turn (every batch then touches all of them).")
    var loadModels = 5

    @Option(help: "alerts.min_gap for the daemon (e.g. 5ms; default: aimon's own).")
    var minGap: String?

    @Option(help: "Use this Redis instead of starting a private one.")
    var redisURL: String?

    @Option(help: "Working folder (log, config, alert table).")
    var workDir = "/tmp/aimon-bench-alerts"

    struct Figures {
        var alerts: Int, p50: Double, p99: Double, max: Double
        /// Lines per second the load kept; CPU of aimon and of Redis meanwhile (fractions of a core).
        var loaded: Double, cpu: Double, redisCPU: Double, span: Double
    }

    func run() throws {
        let f = try measure()
        print(String(format: "alert latency, line appended -> entry in the journal (%d alerts): p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                     f.alerts, f.p50, f.p99, f.max)
              + (load > 0 ? String(format: ", while %.0f lines/s of %d models were written to another file", f.loaded, loadModels) : ""))
        print(String(format: "CPU meanwhile (%.1f s): aimon %.1f %% of a core, Redis %.1f %%", f.span, f.cpu * 100, f.redisCPU * 100))
    }

    func measure() throws -> Figures {
        guard FileManager.default.fileExists(atPath: JournalSink.socketPath) else {
            throw ValidationErrorText("no journal at \(JournalSink.socketPath): run scripts/start-journal.sh (as root) first")
        }
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let server = redisURL == nil ? try PrivateRedis() : nil
        defer { server?.stop() }
        let host = "bench-alerts-\(UInt32.random(in: 0...UInt32.max))"
        let log = "\(workDir)/gateway.jsonl"
        FileManager.default.createFile(atPath: log, contents: nil)
        let loadLog = "\(workDir)/load.jsonl"
        FileManager.default.createFile(atPath: loadLog, contents: nil)
        let yaml = """
        host_id: \(host)
        sources:
          - path: \(log)
          - path: \(loadLog)
        redis:
          url: \(redisURL ?? server!.url)
          key_prefix: \(host)
        ingest:
          max_models: \(loadModels + cycles + 100)
        rules:
          consecutive_failures: {keep_firing_for: 0s}   # resolve at the success, so both transitions are timed
        alerts:
          database: sqlite://\(workDir)/alerts.db
        \(minGap.map { "  min_gap: \($0)" } ?? "")
        log_level: warning
        """
        FileManager.default.createFile(atPath: "\(workDir)/aimon.yaml", contents: Data(yaml.utf8))
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: siblingExecutable("aimon"))
        daemon.arguments = ["run", "--config", "\(workDir)/aimon.yaml"]
        daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try daemon.run()
        defer { daemon.terminate(); daemon.waitUntilExit() }
        usleep(500_000)  // let it open the file and do its first evaluation
        let loader = load > 0 ? Loader(path: loadLog, linesPerSecond: load, models: loadModels) : nil
        defer { loader?.stop() }
        // What the measured span costs: the daemon's CPU and Redis's.
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL ?? server!.url))
        let cpuBefore = try IdleCost.cpuSeconds(daemon.processIdentifier)
        let redisBefore = try FleetCapacity.redisFigures(redis).cpu
        let spanStart = wallClock()

        let handle = FileHandle(forWritingAtPath: log)!
        var writes: [String: Double] = [:]  // "state model" -> write time (µs since the epoch)
        for i in 0..<cycles {
            let model = "bench-\(i)"
            for (state, ok, count) in [("firing", false, 5), ("resolved", true, 1)] {
                let now = wallClock()
                let line = "{\"timestamp\":\"\(AlertRow.timestamp(now))\",\"model_name\":\"\(model)\",\"success\":\(ok),\"response_time\":0.3,\"status_code\":\(ok ? 200 : 503)}\n"
                let data = Data(String(repeating: line, count: count).utf8)
                let t = wallClock()
                handle.write(data)
                writes["\(state) \(model)"] = t * 1e6
                usleep(UInt32(gap) * 1000)
            }
        }
        let loaded = loader?.stop() ?? 0
        let span = wallClock() - spanStart
        let cpu = try IdleCost.cpuSeconds(daemon.processIdentifier) - cpuBefore
        let redisCPU = try FleetCapacity.redisFigures(redis).cpu - redisBefore
        usleep(500_000)
        var latencies: [Double] = []
        for entry in try journalEntries(host: host) {
            guard let state = entry["AIMON_STATE"], let model = entry["AIMON_MODEL"], entry["AIMON_ALERT_TYPE"] == "consecutive_failures",
                  let received = entry["__REALTIME_TIMESTAMP"].flatMap(Double.init), let written = writes["\(state) \(model)"] else { continue }
            latencies.append((received - written) / 1000)
        }
        latencies.sort()
        guard latencies.count == 2 * cycles else {
            throw ValidationErrorText("expected \(2 * cycles) alerts in the journal, found \(latencies.count)")
        }
        func pct(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int((p * Double(latencies.count)).rounded(.up)) - 1)] }
        return Figures(alerts: latencies.count, p50: pct(0.5), p99: pct(0.99), max: latencies.last!,
                       loaded: loaded, cpu: cpu / span, redisCPU: redisCPU / span, span: span)
    }

    func journalEntries(host: String) throws -> [[String: String]] {
        let out = "\(workDir)/journal.json"
        let (status, _) = try spawnAndWait("/bin/journalctl", ["-o", "json", "--no-pager", "AIMON_HOST=\(host)"], stdout: out)
        guard status == 0 else { throw ValidationErrorText("journalctl failed (\(status))") }
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?.compactMapValues { $0 as? String }
        }
    }
}

/// Appends successes of other models to a file at a steady rate, every 10 ms, on its own thread.
final class Loader: @unchecked Sendable {
    private let path: String
    private let linesPerSecond: Int
    private let models: Int
    private let running = NSLock()
    private var stopped = false
    private var written = 0
    private let done = DispatchSemaphore(value: 0)
    private let started = wallClock()
    private var finished = 0.0

    init(path: String, linesPerSecond: Int, models: Int) {
        self.path = path
        self.linesPerSecond = linesPerSecond
        self.models = max(1, models)
        Thread.detachNewThread { [self] in loop() }
    }

    private func loop() {
        let handle = FileHandle(forWritingAtPath: path)!
        var second = -1.0
        var lines: [String] = []  // one per model, this second's timestamp
        var next = 0
        while true {
            running.lock()
            let stop = stopped
            running.unlock()
            if stop { break }
            let now = wallClock()
            if now.rounded(.down) != second {
                second = now.rounded(.down)
                let stamp = AlertRow.timestamp(now)
                lines = (0..<models).map {
                    "{\"timestamp\":\"\(stamp)\",\"model_name\":\"load-\($0)\",\"success\":true,\"response_time\":0.3,\"status_code\":200}\n"
                }
            }
            // Keep to the rate since the start (at most 100 ms worth of lines a write).
            let due = Int((now - started) * Double(linesPerSecond)) - written
            if due > 0 {
                let n = min(due, max(1, linesPerSecond / 10))
                var text = ""
                text.reserveCapacity(n * lines[0].utf8.count)
                for _ in 0..<n {
                    text += lines[next]
                    next = (next + 1) % models
                }
                handle.write(Data(text.utf8))
                written += n
            }
            usleep(10_000)
        }
        finished = wallClock()
        done.signal()
    }

    /// Stops the writer; the rate it kept (lines per second). Idempotent.
    @discardableResult
    func stop() -> Double {
        running.lock()
        let first = !stopped
        stopped = true
        running.unlock()
        if first { done.wait() }
        return Double(written) / max(0.001, finished - started)
    }
}
