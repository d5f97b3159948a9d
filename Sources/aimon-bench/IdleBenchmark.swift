import AimonCore
import ArgumentParser
import Foundation

/// What `aimon run` costs when nothing happens: N tailed files, no writes, CPU time of the process's
/// threads (/proc/PID/task/*/schedstat, in nanoseconds) over a fixed span, after it has settled.
struct IdleCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "CPU of an idle aimon run tailing many files (percent of one core).",
        discussion: "Build in release mode, then:  .build/release/aimon-bench idle --files 1000 --seconds 60")

    @Option(help: "Files tailed (one line each).")
    var files = 1000

    @Option(help: "Seconds measured, after 5 s to settle.")
    var seconds = 60.0

    @Option(help: "Where the files go.")
    var workDir = "/tmp/aimon-bench-idle"

    func run() throws {
        let (cpu, span) = try Self.measure(files: files, seconds: seconds, workDir: workDir)
        print(String(format: "idle aimon run, %d files, %.0f s: %.3f s of CPU = %.3f %% of one core", files, span, cpu, cpu / span * 100))
    }

    /// CPU seconds of an idle `aimon run` over about `seconds`, and the exact span.
    static func measure(files: Int, seconds: Double, workDir: String) throws -> (cpu: Double, span: Double) {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir + "/logs", withIntermediateDirectories: true)
        let line = "{\"timestamp\":\"\(AlertRow.timestamp(Date().timeIntervalSince1970))\",\"model_name\":\"m\",\"success\":true,\"response_time\":0.1}\n"
        for i in 0..<files { FileManager.default.createFile(atPath: "\(workDir)/logs/gw-\(i).jsonl", contents: Data(line.utf8)) }
        let server = try PrivateRedis()
        defer { server.stop() }
        let config = "\(workDir)/idle.yaml"
        try """
        host_id: idle
        sources:
          - path: \(workDir)/logs/*.jsonl
            start_at: beginning
        redis:
          url: \(server.url)
          key_prefix: idle
        alerts:
          database: none
        log_level: warning
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let pid = try spawn(siblingExecutable("aimon"), ["run", "--config", config], stdout: "/dev/null")
        defer { kill(pid, SIGTERM); var s: Int32 = 0; waitpid(pid, &s, 0) }
        let redis = try RedisConnection(url: try RedisURL(parsing: server.url))
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, (try redis.command(["HGET", KeySchema(prefix: "idle").ingestCounters(host: "idle"), "lines"]).integer ?? 0) < Int64(files) {
            usleep(100_000)
        }
        usleep(5_000_000)
        let start = Date()
        let cpu = try Self.cpuSeconds(pid) { usleep(useconds_t(seconds * 1_000_000)) }
        return (cpu, Date().timeIntervalSince(start))
    }

    /// Each thread's time on CPU, in nanoseconds (/proc/PID/task/*/schedstat): an idle process uses a
    /// few clock ticks a minute, too few for /proc/PID/stat's 10 ms ticks. Empty without scheduler
    /// statistics in the kernel.
    static func threadNanoseconds(_ pid: pid_t) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/schedstat", encoding: .utf8),
                  let first = text.split(separator: " ").first, let v = UInt64(first) else { continue }
            out[task] = v
        }
        return out
    }

    /// CPU seconds of a process over a span, by thread: threads born within it count whole; if one
    /// ended within it (its last figures are gone), the process's ticks from /proc/PID/stat instead.
    static func cpuSeconds(_ pid: pid_t, over span: () -> Void) throws -> Double {
        let ticksBefore = try cpuSeconds(pid)
        let before = try threadNanoseconds(pid)
        span()
        let after = try threadNanoseconds(pid)
        let ticks = try cpuSeconds(pid) - ticksBefore
        guard !before.isEmpty, before.keys.allSatisfy({ after[$0] != nil }) else { return ticks }
        return Double(after.reduce(UInt64(0)) { $0 + $1.value - (before[$1.key] ?? 0) }) / 1e9
    }

    /// utime + stime of a process, in seconds.
    static func cpuSeconds(_ pid: pid_t) throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name in parentheses: state is field 3; utime 14, stime 15.
        guard let close = text.lastIndex(of: ")") else { throw ValidationErrorText("cannot read /proc/\(pid)/stat") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { throw ValidationErrorText("bad /proc/\(pid)/stat") }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
