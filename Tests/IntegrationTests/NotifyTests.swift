import AimonCore
import Foundation
import Testing

/// aimon under a notify socket the test owns, as systemd would give it (NOTIFY_SOCKET, WATCHDOG_USEC).
@Suite(.serialized) struct NotifyTests {
    /// A datagram socket standing in for systemd's notify socket.
    final class NotifySocket {
        let path: String
        let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { throw RedisServer.Failure(description: "cannot bind \(path): \(String(cString: strerror(errno)))") }
        }

        deinit { close(fd); unlink(path) }

        /// The next datagram, or nil after `timeout` seconds.
        func receive(timeout: Double) -> String? {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buf, buf.count, 0)
            return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
        }

        /// Messages until one satisfies `done` (included), or until `timeout`.
        func collect(timeout: Double, until done: (String) -> Bool) -> [String] {
            var out: [String] = []
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline, let m = receive(timeout: deadline.timeIntervalSinceNow) {
                out.append(m)
                if done(m) { break }
            }
            return out
        }
    }

    @Test func readyStatusWatchdogReloadingReadyStoppingInThatOrder() throws {
        let ws = Workspace()
        let socket = try NotifySocket(path: ws.path("notify.sock"))
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: none")
        ws.writeLog("gateway.jsonl", [])
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"),
                                     environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }

        let start = socket.collect(timeout: 30) { $0.contains("WATCHDOG=1") }
        #expect(start.first?.contains("READY=1") == true, "\(start)")
        #expect(start.first?.contains("STATUS=tailing 1 files") == true, "\(start)")
        #expect(start.first?.contains("Redis ok") == true, "\(start)")
        #expect(start.last == "WATCHDOG=1")
        // The watchdog keeps coming from the loop, about every 0.2 s.
        let more = socket.collect(timeout: 5) { $0 == "WATCHDOG=1" }
        #expect(more.last == "WATCHDOG=1")

        // SIGHUP: RELOADING=1, then READY=1 again.
        kill(daemon.processIdentifier, SIGHUP)
        let reload = socket.collect(timeout: 30) { $0.contains("READY=1") }.filter { $0 != "WATCHDOG=1" }
        #expect(reload.count == 2 && reload[0].contains("RELOADING=1") && reload[1].contains("READY=1"), "\(reload)")

        daemon.terminate()
        let end = socket.collect(timeout: 10) { $0.contains("STOPPING=1") }
        #expect(end.last?.contains("STOPPING=1") == true, "\(end)")
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect((start + more + end).filter { $0.contains("READY=1") }.count == 1)
    }

    /// Under systemd, stderr is a journal stream named by JOURNAL_STREAM: each log line reaches the
    /// journal with its own priority. `systemd-cat` sets up such a stream; the wrapper names it.
    @Test func logLinesReachTheJournalWithTheirPriorities() throws {
        try Journal.requirePresent()
        let ws = Workspace()
        let tag = "aimon-log-" + ws.prefix
        // Nothing listens on this port: aimon logs an error and keeps retrying.
        let config = ws.writeConfig(redis: "redis://127.0.0.1:\(RedisServer.freePort())/0", extra: "alerts:\n  database: none")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-cat")
        p.arguments = ["-t", tag, "/bin/sh", "-c",
                       "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$0\" run --config \"$1\"", aimonBinary, config]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate() }; p.waitUntilExit() }
        var entries: [[String: String]] = []
        #expect(try eventually(timeout: 30) {
            entries = try Journal.entries("SYSLOG_IDENTIFIER=\(tag)", identifier: nil)
            return entries.contains { $0["MESSAGE"]?.contains("Redis unreachable") == true }
        })
        let error = entries.first { $0["MESSAGE"]?.contains("Redis unreachable") == true }
        #expect(error?["PRIORITY"] == "3", "\(entries)")
        #expect(error?["MESSAGE"]?.hasPrefix("Redis unreachable") == true, "no timestamp or level text: \(error ?? [:])")
    }

    /// SIGHUP: RELOADING=1 then READY=1; a new source and a new threshold take effect; an invalid file is
    /// refused and the old configuration keeps working; no line is lost or counted twice.
    @Test func reloadAppliesANewConfigurationAndRefusesAnInvalidOne() throws {
        try Journal.requirePresent()
        let ws = Workspace()
        try FileManager.default.createDirectory(atPath: ws.path("b"), withIntermediateDirectories: true)
        let socket = try NotifySocket(path: ws.path("notify.sock"))
        func config(threshold: Int, sourceB: Bool) -> String {
            """
            host_id: \(ws.host)
            sources:
              - path: \(ws.dir)/*.jsonl
                start_at: beginning
            \(sourceB ? "  - path: \(ws.path("b"))/*.jsonl\n    start_at: beginning" : "")
            redis:
              url: \(RedisServer.shared.url)
              key_prefix: \(ws.prefix)
            ingest:
              sweep_interval: 200ms
            thresholds:
              consecutive_failures_max: \(threshold)
            rules:
              consecutive_failures: {keep_firing_for: 0s}
            alerts:
              database: none
            log_level: notice
            """
        }
        let path = ws.path("aimon.yaml")
        try config(threshold: 5, sourceB: false).write(toFile: path, atomically: true, encoding: .utf8)
        let now = Date().timeIntervalSince1970
        func lines(_ n: Int, model: String = "m1", ok: Bool = true) -> [String] {
            (0..<n).map { AlertIntegrationTests.line(model, ok: ok, at: now + Double($0) * 0.001) }
        }
        ws.writeLog("a.jsonl", lines(100))
        let daemon = try startDaemon(config: path, log: ws.path("aimon.log"), environment: ["NOTIFY_SOCKET": socket.path])
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        let redis = try RedisServer.shared.connection()
        func committed() -> Int64 { committedLines(redis, prefix: ws.prefix, host: ws.host) }
        #expect(eventually(timeout: 30) { committed() == 100 })

        // Lines in flight while the new configuration (a second source, a lower threshold) is loaded.
        let a = FileHandle(forWritingAtPath: ws.path("a.jsonl"))!
        a.seekToEndOfFile()
        a.write(Data(lines(50).joined().utf8))
        try config(threshold: 3, sourceB: true).write(toFile: path, atomically: true, encoding: .utf8)
        kill(daemon.processIdentifier, SIGHUP)
        let reload = socket.collect(timeout: 30) { $0.contains("READY=1") }
        #expect(reload.contains { $0.contains("RELOADING=1") && $0.contains("MONOTONIC_USEC=") }, "\(reload)")
        #expect(reload.last?.contains("READY=1") == true && reload.last?.contains("STATUS=tailing 1 files") == true, "\(reload)")
        ws.writeLog("b/b.jsonl", lines(40) + lines(3, model: "after-reload", ok: false))
        #expect(eventually(timeout: 30) { committed() == 193 }, "\(committed())")
        // Three failures fire now: the new threshold is in force.
        #expect(try eventually(timeout: 30) {
            try Journal.entries("AIMON_HOST=\(ws.host)").contains { $0["AIMON_MODEL"] == "after-reload" && $0["AIMON_THRESHOLD"] == "3" }
        })

        // An invalid file is refused; the old configuration keeps reading both sources.
        try "sources: [".write(toFile: path, atomically: true, encoding: .utf8)
        kill(daemon.processIdentifier, SIGHUP)
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        let b = FileHandle(forWritingAtPath: ws.path("b/b.jsonl"))!
        b.seekToEndOfFile()
        b.write(Data(lines(7).joined().utf8))
        #expect(eventually(timeout: 30) { committed() == 200 }, "\(committed())")
        let log = (try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("refusing the new configuration, the old one stays in force"), "\(log)")
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(committed() == 200)
    }
}
