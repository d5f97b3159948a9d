import AimonCore
import Foundation

/// The real product path: `aimon replay` as its own process, from file to committed Redis windows.
enum EndToEndBenchmark {
    struct Result { var linesPerSecond: Double; var seconds: Double; var peakRSSMiB: Double }

    static func run(logPath: String, lines: Int, redisURL: String, workDir: String) throws -> Result {
        let prefix = "bench\(UInt32.random(in: 0...UInt32.max))"
        let config = "\(workDir)/bench.yaml"
        let yaml = """
        host_id: bench
        sources:
          - path: \(workDir)/unused-*.jsonl
        redis:
          url: \(redisURL)
          key_prefix: \(prefix)
        log_level: warning
        """
        FileManager.default.createFile(atPath: config, contents: Data(yaml.utf8))
        let aimon = siblingExecutable("aimon")
        let start = DispatchTime.now().uptimeNanoseconds
        let output = "\(workDir)/replay.out"
        let (status, _) = try spawnAndWait(aimon, ["replay", "--config", config, logPath], stdout: output)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard status == 0 else { throw ValidationErrorText("aimon replay exited with \(status)") }
        // aimon reports its own peak (VmHWM): wait4's ru_maxrss would include this process's
        // footprint, inherited through spawn and exec.
        let summary = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard let peakText = summary.components(separatedBy: "peak memory ").last?.split(separator: " ").first,
              let peak = Double(peakText) else { throw ValidationErrorText("no peak memory in aimon's summary: \(summary)") }
        // Check the figure is real: the counters committed with the windows must hold every line.
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        let committed = try redis.command(["HGET", KeySchema(prefix: prefix).ingestCounters(host: "bench"), "lines"]).integer ?? 0
        guard committed == Int64(lines) else { throw ValidationErrorText("Redis holds \(committed) lines, expected \(lines)") }
        return Result(linesPerSecond: Double(lines) / seconds, seconds: seconds, peakRSSMiB: peak)
    }
}

/// posix_spawn: the child's pid. `stdout` names a file for its standard output (nil: this one's).
func spawn(_ path: String, _ args: [String], stdout: String? = nil) throws -> pid_t {
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let stdout { posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw ValidationErrorText("cannot start \(path): \(String(cString: strerror(rc)))") }
    return pid
}

/// A program installed beside this one (both are built into the same folder).
func siblingExecutable(_ name: String) -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path
}

/// posix_spawn + wait4: the exit status and wait4's ru_maxrss (KiB). `stdout` names a file for the
/// child's standard output (/dev/null to silence it).
func spawnAndWait(_ path: String, _ args: [String], stdout: String? = nil) throws -> (Int32, Int) {
    let pid = try spawn(path, args, stdout: stdout)
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exit, usage.ru_maxrss)
}

/// A private redis-server for the benchmark.
final class PrivateRedis {
    let url: String
    let port: Int
    private let pid: pid_t
    private let dir: String

    /// `offset`: a second server beside the first (a replica); `arguments`: more redis-server options.
    init(offset: Int = 0, arguments: [String] = []) throws {
        dir = NSTemporaryDirectory() + "aimon-bench-redis-\(getpid())-\(offset)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        port = 20000 + Int(getpid() % 20000) + offset
        url = "redis://127.0.0.1:\(port)/0"
        var p: pid_t = 0
        let args = ["redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", dir + "/redis.log"]
            + arguments
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        guard posix_spawnp(&p, "redis-server", nil, nil, argv, environ) == 0 else {
            throw ValidationErrorText("cannot start redis-server (apt-get install redis-server), or pass --redis-url")
        }
        pid = p
        for _ in 0..<500 {
            if let c = try? RedisConnection(url: try RedisURL(parsing: url), timeout: 1), (try? c.command(["PING"])) == .status("PONG") { return }
            usleep(10_000)
        }
        throw ValidationErrorText("redis-server did not answer on \(url)")
    }

    func stop() {
        if let c = try? RedisConnection(url: try RedisURL(parsing: url)) { _ = try? c.command(["SHUTDOWN", "NOSAVE"]) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(atPath: dir)
    }
}
