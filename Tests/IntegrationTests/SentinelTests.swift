import AimonCore
import AimonSamples
import Foundation
import Testing

/// Exactly once across a Redis failover: a master, a replica and three sentinels (real servers), aimon
/// ingesting through `redis.sentinel`. The replica is frozen while the master takes more commits,
/// then the master is killed and the replica promoted without them: aimon sees Redis behind its
/// commit sequence, reads those lines again from Redis's checkpoints, and every model's totals
/// equal the truth.
@Suite(.serialized) struct SentinelTests {
    static func info(_ server: RedisServer, _ field: String) -> String? {
        guard let text = (try? server.connection().command(["INFO", "replication"]))?.text else { return nil }
        return text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(field + ":") }.map { String($0.dropFirst(field.count + 1)) }
    }

    static func count(_ s: SentinelServer, _ args: [String]) -> Int {
        (try? s.connection().command(args))?.array?.count ?? -1
    }

    @Test func aFailoverThatLostCommitsCountsEveryLineOnce() throws {
        let master = try RedisServer()
        let replica = try RedisServer(arguments: ["--replicaof", "127.0.0.1", "\(master.port)"])
        #expect(eventually(timeout: 20) { Self.info(replica, "master_link_status") == "up" })
        let name = "aimon-it"
        let sentinels = try (0..<3).map { _ in try SentinelServer(master: name, masterPort: master.port) }
        // Each sentinel knows the replica and the two others (a failover needs them).
        #expect(eventually(timeout: 30) {
            sentinels.allSatisfy { Self.count($0, ["SENTINEL", "replicas", name]) == 1 && Self.count($0, ["SENTINEL", "sentinels", name]) == 2 }
        })
        let sentinel = RedisSentinel(master: name, addresses: sentinels.map { ("127.0.0.1", $0.port) })

        let ws = Workspace()
        let config = ws.path("aimon.yaml")
        try """
        host_id: \(ws.host)
        sources:
          - path: \(ws.dir)/*.jsonl
            start_at: beginning
        redis:
          sentinel:
            master: \(name)
            addresses: [127.0.0.1:\(RedisServer.freePort()), \(sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ", "))]  # the first is down
          key_prefix: \(ws.prefix)
          timeout: 1s
        ingest:
          sweep_interval: 200ms
          batch_bytes: 32KiB
        alerts:
          database: none
        log_level: notice
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }

        var log = SampleLog(seed: 11)
        let now = Date().timeIntervalSince1970
        var total = 0
        func append(_ file: String, _ n: Int) {
            let path = ws.path(file)
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let h = FileHandle(forWritingAtPath: path)!
            h.seekToEndOfFile()
            h.write(Data((0..<n).map { i in log.line(at: now - 600 + Double(total + i) * 0.01) }.joined().utf8))
            h.closeFile()
            total += n
        }
        let onMaster = try master.connection()
        append("a.jsonl", 2000)
        #expect(eventually(timeout: 30) { committedLines(onMaster, prefix: ws.prefix, host: ws.host) == 2000 })
        // The replica has every commit so far.
        #expect(eventually(timeout: 10) {
            guard let offset = Self.info(master, "master_repl_offset"), let replica = Self.info(master, "slave0") else { return false }
            return replica.contains("offset=\(offset),")
        })

        // The replica freezes and its link is cut (what a frozen replica had in its socket buffer
        // would still arrive): the master takes commits it will never pass on.
        replica.signal(SIGSTOP)
        _ = try onMaster.command(["CLIENT", "KILL", "TYPE", "replica"])
        append("a.jsonl", 1000)
        append("b.jsonl", 500)
        #expect(eventually(timeout: 30) { committedLines(onMaster, prefix: ws.prefix, host: ws.host) == 3500 })
        master.signal(SIGKILL)
        replica.signal(SIGCONT)
        append("b.jsonl", 700)  // written during the failover

        // The replica is promoted, and holds every line once.
        var committed: Int64 = 0
        #expect(eventually(timeout: 90) {
            guard let redis = try? sentinel.connect(template: RedisURL(endpoint: .tcp(host: "-", port: 0)), timeout: 1) else { return false }
            committed = committedLines(redis, prefix: ws.prefix, host: ws.host)
            return committed == Int64(total)
        }, "\(committed) of \(total) lines; sentinel: \(sentinels[0].log.suffix(2000))")
        #expect(Self.info(replica, "role") == "master")
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
        let text = (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? ""
        #expect(text.contains("Redis lost the last") && text.contains("1500 lines in 2 files are read again"), "\(text.suffix(3000))")
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    /// `redis.min_replicas: 1`: each commit waits for the replica; a frozen replica makes commits
    /// short of it (counted, on /metrics), and ingest goes on: the lines are all counted.
    @Test func commitsWaitForReplicasAndCountWhenShort() throws {
        let master = try RedisServer()
        let replica = try RedisServer(arguments: ["--replicaof", "127.0.0.1", "\(master.port)"])
        #expect(eventually(timeout: 20) { Self.info(replica, "master_link_status") == "up" })
        let ws = Workspace()
        let port = RedisServer.freePort()
        let config = ws.writeConfig(redis: master.url, extra: "alerts:\n  database: none\nhttp:\n  listen: 127.0.0.1:\(port)")
        try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "  timeout: 2s", with: "  timeout: 2s\n  min_replicas: 1\n  min_replicas_timeout: 200ms")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        func short() -> Int? {
            let text = (try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/metrics")) ?? ""
            return text.split(separator: "\n").first { $0.hasPrefix("aimon_commits_short_of_replicas_total ") }
                .flatMap { Double($0.split(separator: " ").last!) }.map { Int($0) }
        }
        let onMaster = try master.connection()
        AlertIntegrationTests.publish(ws, "a", (0..<50).map { ServicesTests.line("wait", ok: true, at: Date().timeIntervalSince1970 - 60 + Double($0)) })
        #expect(eventually(timeout: 30) { committedLines(onMaster, prefix: ws.prefix, host: ws.host) == 50 })
        #expect(short() == 0)
        replica.signal(SIGSTOP)
        defer { replica.signal(SIGCONT) }
        AlertIntegrationTests.publish(ws, "b", (0..<50).map { ServicesTests.line("wait", ok: true, at: Date().timeIntervalSince1970 - 60 + Double($0)) })
        #expect(eventually(timeout: 30) { committedLines(onMaster, prefix: ws.prefix, host: ws.host) == 100 })
        #expect(eventually(timeout: 10) { (short() ?? 0) >= 1 })
    }

    /// A commit sent to a replica (a master demoted by a failover, or a replica named by mistake) is
    /// refused with READONLY: an error that needs a new connection (which asks the sentinels again),
    /// not a key to remove.
    @Test func aCommitOnAReplicaAsksForANewConnection() throws {
        let master = try RedisServer()
        let replica = try RedisServer(arguments: ["--replicaof", "127.0.0.1", "\(master.port)"])
        let store = WindowStore(keys: KeySchema(prefix: "ro"), retention: Retention(), host: "h")
        var batch = WindowBatch(retention: Retention())
        var models = ModelRegistry(capacity: 10)
        try batch.add(APICall(timestamp: Date().timeIntervalSince1970, userID: "u", model: "m", success: true), registry: &models, now: Date().timeIntervalSince1970)
        #expect {
            _ = try store.commit(.init(batch: batch, changes: [CheckpointChange(id: "f", expected: "", new: "1 1 h0 /f")]), on: try replica.connection())
        } throws: { e in
            guard let e = e as? RedisError else { return false }
            return e.kind == .reply && e.message.contains("READONLY") && e.needsNewConnection
        }
    }
}
