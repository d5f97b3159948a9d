import AimonCore
import AimonSamples
import Foundation

/// A test's own folder, config file and key prefix.
final class Workspace: Sendable {
    let dir: String
    let prefix: String
    let host = "test-host-" + UUID().uuidString.prefix(8).lowercased()

    init() {
        dir = NSTemporaryDirectory() + "aimon-it-" + UUID().uuidString
        prefix = "t" + UUID().uuidString.prefix(8).lowercased()
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit { if ProcessInfo.processInfo.environment["AIMON_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(atPath: dir) } }

    func path(_ name: String) -> String { dir + "/" + name }

    /// Writes a config tailing `dir/*.jsonl` from the beginning; returns its path. `source` adds keys
    /// to the source (each line indented by four spaces), e.g. "    format: kong"; `ingest` to the
    /// ingest section (two spaces).
    @discardableResult
    func writeConfig(redis: String, source: String = "", ingest: String = "", extra: String = "") -> String {
        let text = """
        host_id: \(host)
        sources:
          - path: \(dir)/*.jsonl
            start_at: beginning
        \(source)
        redis:
          url: \(redis)
          key_prefix: \(prefix)
          timeout: 2s
        ingest:
          sweep_interval: 200ms
          batch_bytes: 256KiB
        \(ingest)
        log_level: warning
        \(extra)
        """
        FileManager.default.createFile(atPath: path("aimon.yaml"), contents: Data(text.utf8))
        return path("aimon.yaml")
    }

    /// Writes `lines` to a log file.
    func writeLog(_ name: String, _ lines: [String]) {
        FileManager.default.createFile(atPath: path(name), contents: Data(lines.joined().utf8))
    }
}

/// The built `aimon` binary, beside the test bundle (or $AIMON_BINARY: to run a test against another
/// build, e.g. an older one, to see a fixed fault fail there).
let aimonBinary: String = {
    if let other = ProcessInfo.processInfo.environment["AIMON_BINARY"], !other.isEmpty { return other }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("aimon").path
}()

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `aimon ARGS` to completion; `openFileLimit` runs it under `ulimit -n` (soft and hard).
func runAimon(_ args: [String], environment: [String: String] = [:], openFileLimit: Int? = nil) throws -> CommandResult {
    let p = Process()
    if let openFileLimit {
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -n \(openFileLimit) && exec \"$0\" \"$@\"", aimonBinary] + args
    } else {
        p.executableURL = URL(fileURLWithPath: aimonBinary)
        p.arguments = args
    }
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Both pipes are drained at once: a command that fills one while the other is read would block.
    nonisolated(unsafe) var e = Data()
    let stderrDone = DispatchSemaphore(value: 0)
    let drain = Thread {
        e = err.fileHandleForReading.readDataToEndOfFile()
        stderrDone.signal()
    }
    drain.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    stderrDone.wait()
    p.waitUntilExit()
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Starts `aimon run` in the background, its stderr sent to a file.
/// `openFileLimit` runs it under `ulimit -n` (soft and hard; `exec`, so the pid is aimon's).
func startDaemon(config: String, log: String, environment: [String: String] = [:], openFileLimit: Int? = nil) throws -> Process {
    let p = Process()
    if let openFileLimit {
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -n \(openFileLimit) && exec \"$0\" \"$@\"", aimonBinary, "run", "--config", config]
    } else {
        p.executableURL = URL(fileURLWithPath: aimonBinary)
        p.arguments = ["run", "--config", config]
    }
    if !environment.isEmpty {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
    }
    if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
    let h = FileHandle(forWritingAtPath: log)!
    h.seekToEndOfFile()
    p.standardError = h
    p.standardOutput = h
    try p.run()
    return p
}

/// Polls `condition` until it holds or `timeout` passes: waiting for an outcome, not for a guessed time.
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// Lines committed so far by this host (the ingest counter written in the same transaction).
func committedLines(_ redis: RedisConnection, prefix: String, host: String) -> Int64 {
    (try? redis.command(["HGET", KeySchema(prefix: prefix).ingestCounters(host: host), "lines"]))?.integer ?? 0
}

/// Per-model totals as `aimon stats --json` reports them.
func statsJSON(config: String, hours: Double = 24) throws -> [[String: Any]] {
    let r = try runAimon(["stats", "--config", config, "--json", "--hours", String(hours)])
    guard r.status == 0 else { throw RedisServer.Failure(description: "aimon stats failed (\(r.status)): \(r.stderr)") }
    return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
}

/// The truth, in the form stats reports it.
func expectedStats(_ truth: [String: SampleLog.Truth]) -> [String: [String: Int64]] {
    truth.mapValues { ["total_calls": $0.calls, "successful_calls": $0.successes, "failed_calls": $0.failures] }
}

func reportedCounts(_ stats: [[String: Any]]) -> [String: [String: Int64]] {
    var out: [String: [String: Int64]] = [:]
    for s in stats {
        guard let m = s["model_name"] as? String else { continue }
        out[m] = ["total_calls": (s["total_calls"] as? NSNumber)?.int64Value ?? -1,
                  "successful_calls": (s["successful_calls"] as? NSNumber)?.int64Value ?? -1,
                  "failed_calls": (s["failed_calls"] as? NSNumber)?.int64Value ?? -1]
    }
    return out
}

/// Whether the daemon of `pid` holds its host's lease: it is past start-up (its signal handlers are
/// installed, its checkpoints loaded), so a SIGTERM now is a clean stop.
func daemonIsUp(_ redis: RedisConnection, prefix: String, host: String, pid: Int32) -> Bool {
    let text = (try? redis.command(["HGET", KeySchema(prefix: prefix).checkpoints(host: host), DaemonLease.field]))?.text ?? ""
    return text.hasSuffix(" \(pid)@\(Config.hostname())")
}
