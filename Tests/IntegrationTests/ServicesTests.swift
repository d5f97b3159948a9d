import AimonCore
import Foundation
import Testing

/// The daemon as services: reloads that keep what did not change, evaluation that does not wait
/// for ingest, and a watchdog that sees a stuck service. Real Redis, journal and PostgreSQL.
@Suite struct ServicesTests {
    static func config(_ ws: Workspace, database: String = "none", threshold: Int = 5, extra: String = "") -> String {
        """
        host_id: \(ws.host)
        sources:
          - path: \(ws.dir)/*.jsonl
            start_at: beginning
        redis:
          url: \(RedisServer.shared.url)
          key_prefix: \(ws.prefix)
          timeout: 500ms
        ingest:
          sweep_interval: 200ms
        thresholds:
          consecutive_failures_max: \(threshold)
        rules:
          consecutive_failures: {keep_firing_for: 0s}
          high_hourly_failures: {enabled: false}
          low_success_rate: {enabled: false}
          slow_response: {enabled: false}
          high_error_rate: {enabled: false}
        alerts:
          database: \(database)
        log_level: notice
        \(extra)
        """
    }

    static func write(_ text: String, _ path: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }

    static func append(_ path: String, _ lines: [String]) {
        let h = FileHandle(forWritingAtPath: path)!
        h.seekToEndOfFile()
        h.write(Data(lines.joined().utf8))
        h.closeFile()
    }

    /// A short native line (a big backlog is written fast).
    static func line(_ model: String, ok: Bool, at time: Double) -> String {
        #"{"timestamp":"\#(AlertRow.timestamp(time))","model_name":"\#(model)","success":\#(ok),"response_time":0.4,"status_code":\#(ok ? 200 : 503)}"# + "\n"
    }

    /// A file renamed outside the globs just before a reload is read to its end: nothing lost or
    /// doubled (the reload used to start a new tailer that rescanned the globs only).
    /// A write to a Redis connection its server reset raises SIGPIPE, which ends a process silently:
    /// the daemon ignores it (the write then fails with EPIPE, and the connection is made again).
    @Test func theDaemonIgnoresSIGPIPE() throws {
        let ws = Workspace()
        let socket = try NotifyTests.NotifySocket(path: ws.path("notify.sock"))
        let path = ws.path("aimon.yaml")
        try Self.write(Self.config(ws), path)
        ws.writeLog("gw.jsonl", [Self.line("m1", ok: true, at: Date().timeIntervalSince1970)])
        let daemon = try startDaemon(config: path, log: ws.path("aimon.log"), environment: ["NOTIFY_SOCKET": socket.path])
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        let status = try String(contentsOfFile: "/proc/\(daemon.processIdentifier)/status", encoding: .utf8)
        let ignored = status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }.flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
        #expect(ignored & (1 << (UInt64(SIGPIPE) - 1)) != 0, "SigIgn: \(String(ignored, radix: 16))")
    }

    @Test func aReloadDuringARotationLosesAndDoublesNothing() throws {
        let ws = Workspace()
        let socket = try NotifyTests.NotifySocket(path: ws.path("notify.sock"))
        let path = ws.path("aimon.yaml")
        try Self.write(Self.config(ws), path)
        let now = Date().timeIntervalSince1970
        ws.writeLog("gw.jsonl", (0..<100).map { Self.line("m1", ok: true, at: now + Double($0) * 0.001) })
        let daemon = try startDaemon(config: path, log: ws.path("aimon.log"), environment: ["NOTIFY_SOCKET": socket.path])
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        let redis = try RedisServer.shared.connection()
        func committed() -> Int64 { committedLines(redis, prefix: ws.prefix, host: ws.host) }
        #expect(eventually(timeout: 30) { committed() == 100 })

        // A tail too long to be read before the rename and the reload that follow at once.
        let chunk = (0..<1000).map { Self.line("m1", ok: true, at: now + Double($0) * 0.001) }.joined()
        let h = FileHandle(forWritingAtPath: ws.path("gw.jsonl"))!
        h.seekToEndOfFile()
        for _ in 0..<200 { h.write(Data(chunk.utf8)) }
        h.closeFile()
        #expect(rename(ws.path("gw.jsonl"), ws.path("gw.jsonl.1")) == 0)
        try Self.write(Self.config(ws, threshold: 4), path)
        kill(daemon.processIdentifier, SIGHUP)
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        ws.writeLog("gw.jsonl", (0..<50).map { Self.line("m1", ok: true, at: now + Double($0) * 0.001) })
        #expect(eventually(timeout: 60) { committed() >= 200_150 }, "\(committed())")
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(committed() == 200_150)
    }

    /// Alert-table writes queued while PostgreSQL is down survive a reload, and land once it is back.
    @Test func aReloadWhilePostgresIsDownKeepsEveryQueuedRow() throws {
        try Journal.requirePresent()
        let pg = try PostgresServer()
        let ws = Workspace()
        let socket = try NotifyTests.NotifySocket(path: ws.path("notify.sock"))
        let path = ws.path("aimon.yaml")
        try Self.write(Self.config(ws, database: pg.uri), path)
        let daemon = try startDaemon(config: path, log: ws.path("aimon.log"), environment: ["NOTIFY_SOCKET": socket.path])
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        func rows() -> [[String]] { (try? pg.query("SELECT model, is_active FROM aimon_alerts ORDER BY model")) ?? [] }
        var now = Date().timeIntervalSince1970
        AlertIntegrationTests.publish(ws, "a", (0..<6).map { Self.line("model-a", ok: false, at: now + Double($0) * 0.001) })
        #expect(eventually(timeout: 30) { rows() == [["model-a", "t"]] }, "\(rows())")

        try pg.stop()
        // While it is down: model-a recovers (its row is to be closed), model-b fails (a new row).
        now = Date().timeIntervalSince1970
        AlertIntegrationTests.publish(ws, "b", [Self.line("model-a", ok: true, at: now)]
            + (0..<6).map { Self.line("model-b", ok: false, at: now + Double($0) * 0.001) })
        #expect(try eventually(timeout: 30) {
            try Journal.entries("AIMON_HOST=\(ws.host)").count == 3
        })
        #expect(eventually(timeout: 30) {
            ((try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? "").contains("cannot write to the alert table")
        })
        try Self.write(Self.config(ws, database: pg.uri, threshold: 4), path)
        kill(daemon.processIdentifier, SIGHUP)
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        // Longer than the old reload waited for the table (5 s) before dropping its queue.
        Thread.sleep(forTimeInterval: 6)
        try pg.start()
        #expect(eventually(timeout: 60) { rows() == [["model-a", "f"], ["model-b", "t"]] }, "\(rows())")
        let fingerprints = (try? pg.query("SELECT fingerprint FROM aimon_alerts")) ?? []
        #expect(Set(fingerprints.map { $0[0] }).count == 2 && fingerprints.count == 2)
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        let log = (try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? ""
        #expect(!log.contains("unwritten"), "\(log)")
    }

    /// An outage appended to one file while a 2-million-line backlog of another is being read is in
    /// the journal within a second, not after the backlog.
    @Test func anOutageIsAlertedWithinASecondWhileABacklogIsRead() throws {
        try Journal.requirePresent()
        let ws = Workspace()
        let path = ws.path("aimon.yaml")
        try Self.write(Self.config(ws), path)
        let now = Date().timeIntervalSince1970
        let chunk = (0..<10_000).map { Self.line("bulk", ok: true, at: now - 60 + Double($0) * 0.001) }.joined()
        let h = FileHandle(forWritingAtPath: { ws.writeLog("backlog.jsonl", []); return ws.path("backlog.jsonl") }())!
        for _ in 0..<200 { h.write(Data(chunk.utf8)) }
        h.closeFile()
        ws.writeLog("outage.jsonl", [])
        let daemon = try startDaemon(config: path, log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let redis = try RedisServer.shared.connection()
        func committed() -> Int64 { committedLines(redis, prefix: ws.prefix, host: ws.host) }
        #expect(eventually(timeout: 30) { committed() > 0 })

        let model = "outage-" + ws.prefix
        let written = Date().timeIntervalSince1970
        Self.append(ws.path("outage.jsonl"), (0..<6).map { Self.line(model, ok: false, at: written + Double($0) * 0.001) })
        var entry: [String: String]?
        #expect(try eventually(timeout: 30) {
            entry = try Journal.entries("AIMON_MODEL=\(model)").first
            return entry != nil
        })
        let backlogLeft = 2_000_000 - committed()
        let received = Double(entry?["__REALTIME_TIMESTAMP"] ?? "0").map { $0 / 1e6 } ?? 0
        print("outage alert in the journal \(Int((received - written) * 1000)) ms after its lines, \(backlogLeft) backlog lines still unread")
        #expect(received - written < 1.0, "alert \(received - written) s after the outage lines")
        #expect(backlogLeft > 0, "the backlog was read first")
    }

    /// The watchdog needs proof of life from ingest and from evaluation: a stuck one withholds the
    /// pings, so systemd restarts the unit (`AIMON_TEST_STALL` makes one stop making progress).
    @Test(arguments: ["ingest", "evaluation"])
    func aStuckServiceWithholdsTheWatchdog(service: String) throws {
        let ws = Workspace()
        let socket = try NotifyTests.NotifySocket(path: ws.path("notify.sock"))
        let path = ws.path("aimon.yaml")
        try Self.write(Self.config(ws), path)
        ws.writeLog("gw.jsonl", [Self.line("m1", ok: true, at: Date().timeIntervalSince1970)])
        let daemon = try startDaemon(config: path, log: ws.path("aimon.log"),
                                     environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000", "AIMON_TEST_STALL": service])
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let start = socket.collect(timeout: 30) { $0.contains("READY=1") }
        #expect(start.last?.contains("READY=1") == true)
        // Stuck right after READY: pings for at most 4 s (the staleness allowed with a 0.5 s
        // redis.timeout), then none.
        let early = socket.collect(timeout: 6) { _ in false }
        let late = socket.collect(timeout: 3) { _ in false }
        #expect(!late.contains("WATCHDOG=1"), "\(late)")
        _ = early
        daemon.terminate()
        daemon.waitUntilExit()
        let log = (try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("the \(service) service has shown no progress"), "\(log)")
    }

    /// The control for the one above: nothing stuck, the pings keep coming.
    @Test func theWatchdogIsFedWhileEveryServiceMakesProgress() throws {
        let ws = Workspace()
        let socket = try NotifyTests.NotifySocket(path: ws.path("notify.sock"))
        let path = ws.path("aimon.yaml")
        try Self.write(Self.config(ws), path)
        ws.writeLog("gw.jsonl", [])
        let daemon = try startDaemon(config: path, log: ws.path("aimon.log"),
                                     environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000"])
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(socket.collect(timeout: 30) { $0.contains("READY=1") }.last?.contains("READY=1") == true)
        _ = socket.collect(timeout: 4) { _ in false }
        let late = socket.collect(timeout: 3) { _ in false }
        #expect(late.filter { $0 == "WATCHDOG=1" }.count >= 4, "\(late)")
    }
}
