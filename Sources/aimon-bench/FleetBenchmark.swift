import AimonCore
import ArgumentParser
import Foundation

/// Capacity of one Redis for a fleet: K `aimon replay` processes at once (each its own log and
/// host_id, all into one Redis), as K gateway hosts catching up would. Prints, per K, the lines/s of
/// all of them together, the commits/s Redis served, and the Redis CPU seconds per million lines:
/// the figure that says how many hosts one Redis core serves (Docs/capacity.md).
struct FleetCapacity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "K aimon processes into one Redis: total lines/s, commits/s, Redis CPU per million lines.",
        discussion: """
        Build in release mode, then:  .build/release/aimon-bench fleet --lines 400000 --daemons 1,2,4,8,16
        Each process replays its own copy of a generated log (--lines each) under its own host_id; a \
        private redis-server is started. On a machine with few cores the processes and Redis share \
        them: the lines/s show where the machine saturates, the Redis CPU per million lines what one \
        Redis core can serve.
        """)

    @Option(help: "Lines in each process's log.")
    var lines = 400_000

    @Option(help: "Numbers of processes to run at once, comma-separated.")
    var daemons = "1,2,4,8,16"

    @Option(help: "Redis replicas each commit waits for (redis.min_replicas; a replica is started).")
    var minReplicas = 0

    @Option(help: "ingest.batch_bytes: bytes per commit (small: as a live daemon commits lines as they come).")
    var batchBytes = "1MiB"

    @Option(help: "Where the logs go (reused when present).")
    var workDir = "/tmp/aimon-bench"

    func run() throws {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let counts = daemons.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard let most = counts.max() else { throw ValidationErrorText("--daemons: give numbers, e.g. 1,2,4") }
        var logs: [String] = []
        for i in 0..<most {
            let path = "\(workDir)/fleet-\(lines)-\(i).jsonl"
            _ = try BenchLog.ensure(path: path, lines: lines)
            logs.append(path)
        }
        let server = try PrivateRedis()
        defer { server.stop() }
        var replica: PrivateRedis?
        if minReplicas > 0 {
            replica = try PrivateRedis(offset: 1, arguments: ["--replicaof", "127.0.0.1", String(server.port)])
        }
        defer { replica?.stop() }
        let redis = try RedisConnection(url: try RedisURL(parsing: server.url))
        print("Redis \(server.url)\(minReplicas > 0 ? ", \(minReplicas) replica(s) waited for" : ""); \(lines) lines per process; "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("batch_bytes \(batchBytes)")
        print("processes  lines/s (total)  per process  commits/s  Redis CPU s per 1M lines  Redis CPU ms per commit  Redis CPU %")
        for k in counts {
            let prefix = "fleet\(UInt32.random(in: 0...UInt32.max))"
            let configs = (0..<k).map { i -> String in
                let path = "\(workDir)/fleet-\(i).yaml"
                let yaml = """
                host_id: fleet-\(i)
                sources:
                  - path: \(workDir)/unused-*.jsonl
                redis:
                  url: \(server.url)
                  key_prefix: \(prefix)
                  min_replicas: \(minReplicas)
                ingest:
                  batch_bytes: \(batchBytes)
                log_level: warning
                """
                FileManager.default.createFile(atPath: path, contents: Data(yaml.utf8))
                return path
            }
            let before = try Self.redisFigures(redis)
            let start = DispatchTime.now().uptimeNanoseconds
            let aimon = siblingExecutable("aimon")
            let pids = try (0..<k).map { i in try spawn(aimon, ["replay", "--config", configs[i], logs[i]], stdout: "/dev/null") }
            for pid in pids {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                guard status == 0 else { throw ValidationErrorText("aimon replay exited with status \(status)") }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let after = try Self.redisFigures(redis)
            // The figure is real only if every line was committed, once.
            var committed: Int64 = 0
            for i in 0..<k {
                committed += try redis.command(["HGET", KeySchema(prefix: prefix).ingestCounters(host: "fleet-\(i)"), "lines"]).integer ?? 0
            }
            guard committed == Int64(k * lines) else { throw ValidationErrorText("Redis holds \(committed) lines, expected \(k * lines)") }
            let total = Double(k * lines)
            let cpu = after.cpu - before.cpu
            let commits = Double(after.commits - before.commits)
            print(String(format: "%9d  %15.0f  %11.0f  %9.0f  %24.2f  %23.3f  %11.0f", k, total / seconds, total / seconds / Double(k),
                         commits / seconds, cpu / total * 1e6, cpu / max(commits, 1) * 1000, cpu / seconds * 100))
        }
    }

    /// Redis's CPU seconds (user + system) and the scripts it ran (the commits, and the alert swaps).
    static func redisFigures(_ redis: RedisConnection) throws -> (cpu: Double, commits: Int64) {
        let cpu = try redis.command(["INFO", "cpu"]).text ?? ""
        let stats = try redis.command(["INFO", "commandstats"]).text ?? ""
        func field(_ text: String, _ name: String) -> Substring? {
            text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name + ":") }?.dropFirst(name.count + 1)
        }
        let seconds = ["used_cpu_user", "used_cpu_sys"].compactMap { field(cpu, $0).flatMap { Double($0) } }.reduce(0, +)
        let calls = field(stats, "cmdstat_evalsha").flatMap { $0.split(separator: ",").first?.split(separator: "=").last }.flatMap { Int64($0) } ?? 0
        return (seconds, calls)
    }
}
