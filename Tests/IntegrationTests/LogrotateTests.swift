import AimonCore
import Foundation
import Synchronization
import Testing

/// The real logrotate (Debian's) rotating a file that aimon tails while a writer appends to it.
@Suite(.serialized) struct LogrotateTests {
    static let total = 3000

    /// Writes `total` lines; `reopen`: by path each time (a gateway that reopens its log after
    /// rotation), else through one descriptor kept open (what copytruncate is for). Calls `midway`
    /// once, halfway through, from the writing thread's point of view.
    static func write(_ path: String, reopen: Bool, midway: @escaping @Sendable () -> Void) -> Thread {
        let t = Thread {
            var fd: Int32 = reopen ? -1 : open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            for i in 0..<total {
                if reopen { fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644) }
                let line = AlertIntegrationTests.line("rot", ok: true, at: Date().timeIntervalSince1970 + Double(i) / 1e6)
                _ = line.withCString { Foundation.write(fd, $0, strlen($0)) }
                if reopen { close(fd) }
                if i == total / 2 { midway() }
                usleep(200)  // pacing the workload: about 5,000 lines/s
            }
            if !reopen { close(fd) }
        }
        t.start()
        return t
    }

    static func logrotate(_ ws: Workspace, _ directive: String) throws {
        let conf = ws.path("logrotate.conf")
        try "\(ws.path("gateway.jsonl")) {\n  rotate 3\n  missingok\n  \(directive)\n}\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/logrotate")
        p.arguments = ["-f", "-s", ws.path("logrotate.state"), conf]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw RedisServer.Failure(description: "logrotate failed (\(p.terminationStatus))") }
    }

    func run(_ directive: String, sources: String, reopen: Bool) throws -> (written: Int, committed: Int64) {
        let ws = Workspace()
        FileManager.default.createFile(atPath: ws.path("gateway.jsonl"), contents: nil)
        let config = ws.path("aimon.yaml")
        try """
        host_id: \(ws.host)
        sources:
        \(sources.replacingOccurrences(of: "DIR", with: ws.dir))
        redis:
          url: \(RedisServer.shared.url)
          key_prefix: \(ws.prefix)
        ingest:
          sweep_interval: 200ms
        alerts:
          database: none
        log_level: warning
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let redis = try RedisServer.shared.connection()
        let rotated = Mutex<String?>(nil)
        let writer = Self.write(ws.path("gateway.jsonl"), reopen: reopen) {
            do { try Self.logrotate(ws, directive) } catch { rotated.withLock { $0 = "\(error)" } }
        }
        // The writer thread ends by itself after its last line.
        #expect(eventually(timeout: 60) { writer.isFinished })
        if let e = rotated.withLock({ $0 }) { throw RedisServer.Failure(description: e) }
        // Settled: aimon has read every file it has to its end (checkpoint offsets equal file sizes).
        #expect(eventually(timeout: 30) { Self.caughtUp(ws, redis) })
        return (Self.total, committedLines(redis, prefix: ws.prefix, host: ws.host))
    }

    static func caughtUp(_ ws: Workspace, _ redis: RedisConnection) -> Bool {
        guard let cps = try? redis.command(["HVALS", KeySchema(prefix: ws.prefix).checkpoints(host: ws.host)]).array else { return false }
        let live = (try? FileManager.default.attributesOfItem(atPath: ws.path("gateway.jsonl"))[.size] as? Int64) ?? -1
        return cps.compactMap(\.text).contains { $0.hasSuffix("/gateway.jsonl") && $0.split(separator: " ").first.flatMap { Int64($0) } == live }
    }

    @Test func createModeLosesNothing() throws {
        // The rotated file keeps its inode: aimon reads it to its end, then the new file from its start.
        let r = try run("create", sources: "  - path: DIR/*.jsonl\n    start_at: beginning\n  - path: DIR/*.jsonl.1\n    start_at: beginning", reopen: true)
        #expect(r.committed == Int64(r.written))
    }

    @Test func copytruncateCountsNothingTwiceAndLosesOnlyTheLastMoments() throws {
        // copytruncate copies the file to .1 and truncates it in place: lines aimon had not read yet
        // are gone from the file it follows (and the copy must not be read, or everything before
        // would count twice). How many are lost depends on how far behind aimon was at that instant.
        let r = try run("copytruncate", sources: "  - path: DIR/*.jsonl\n    start_at: beginning", reopen: false)
        #expect(r.committed <= Int64(r.written))
        #expect(r.committed >= Int64(r.written) * 9 / 10, "lost \(Int64(r.written) - r.committed) of \(r.written)")
        print("copytruncate: \(Int64(r.written) - r.committed) of \(r.written) lines lost")
    }
}
