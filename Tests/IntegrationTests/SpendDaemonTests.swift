import AimonCore
import Foundation
import Testing

/// `spend` end to end: two `aimon run` processes (two hosts, two logs, one Redis) share a model's
/// cost; each of its thresholds reaches the journal once, whichever host saw it first, and a restart
/// of one announces nothing again. (The period's rollover, with injected time: SpendAlertTests.)
@Suite struct SpendDaemonTests {
    /// A fixed offset that puts local time near midday, so the test's day cannot roll over under it.
    static func middayZone(now: Double) -> String {
        let utcHour = Int(now.truncatingRemainder(dividingBy: 86400) / 3600)
        var offset = 12 - utcHour
        if offset > 14 { offset -= 24 }
        if offset < -12 { offset += 24 }
        return SpendRule.zoneText(offset * 3600)
    }

    static func config(_ ws: Workspace, side: String, port: Int, zone: String) -> String {
        try? FileManager.default.createDirectory(atPath: ws.path(side), withIntermediateDirectories: true)
        let text = """
        host_id: \(ws.host)-\(side)
        sources:
          - path: \(ws.dir)/\(side)/*.jsonl
            start_at: beginning
        redis:
          url: \(RedisServer.shared.url)
          key_prefix: \(ws.prefix)
        ingest:
          sweep_interval: 200ms
        rules:
          spend:
            period: 1d
            zone: "\(zone)"
            thresholds: [1, 2]
            scope: model
        alerts:
          database: none
          evaluate_interval: 1s
        http:
          listen: 127.0.0.1:\(port)
        log_level: notice
        """
        try! text.write(toFile: ws.path("\(side).yaml"), atomically: true, encoding: .utf8)
        return ws.path("\(side).yaml")
    }

    static func calls(_ model: String, cost: Double, count: Int, at t: Double) -> [String] {
        (0..<count).map { i in
            "{\"timestamp\":\"\(AlertRow.timestamp(t + Double(i) * 0.01))\",\"model_name\":\"\(model)\",\"success\":true,"
                + "\"status_code\":200,\"response_time\":0.5,\"cost\":\(cost)}\n"
        }
    }

    /// Whether a process's `/metrics` shows the model's spend alert at `threshold` firing (it
    /// evaluated after the threshold was crossed).
    static func sees(_ port: Int, _ model: String, _ threshold: String) -> Bool {
        let text = (try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/metrics")) ?? ""
        return text.split(separator: "\n").contains { l in
            l.hasPrefix("aimon_alert_firing{") && l.contains("alert_type=\"spend\"") && l.contains("model=\"\(model)\"")
                && l.contains("threshold=\"\(threshold)\"")
        }
    }

    @Test func twoHostsAndARestartAnnounceEachThresholdOnce() throws {
        let ws = Workspace()
        let model = "spend-\(ws.prefix)"
        let now = Date().timeIntervalSince1970
        let zone = Self.middayZone(now: now)
        let portA = RedisServer.freePort(), portB = RedisServer.freePort()
        let configA = Self.config(ws, side: "a", port: portA, zone: zone)
        let configB = Self.config(ws, side: "b", port: portB, zone: zone)
        var a = try startDaemon(config: configA, log: ws.path("a.log"))
        let b = try startDaemon(config: configB, log: ws.path("b.log"))
        defer {
            for p in [a, b] where p.isRunning { p.terminate() }
            a.waitUntilExit(); b.waitUntilExit()
        }
        func announced() -> [[String: String]] {
            ((try? Journal.entries("AIMON_MODEL=\(model)")) ?? []).filter { $0["AIMON_ALERT_TYPE"] == "spend" }
        }

        // Host A's calls: $1.20. Both hosts must see the $1 alert firing (each evaluated after it).
        ws.writeLog("a/gw.jsonl", Self.calls(model, cost: 0.3, count: 4, at: now - 30))
        #expect(eventually(timeout: 30) { Self.sees(portA, model, "1") && Self.sees(portB, model, "1") })
        // Host B's calls: $1.00 more, $2.20 in all.
        ws.writeLog("b/gw.jsonl", Self.calls(model, cost: 0.5, count: 2, at: now - 20))
        #expect(eventually(timeout: 30) { Self.sees(portA, model, "2") && Self.sees(portB, model, "2") })

        // A restarts, and evaluates again (its alerts show on its new /metrics).
        a.terminate()
        a.waitUntilExit()
        #expect(a.terminationStatus == 0)
        a = try startDaemon(config: configA, log: ws.path("a.log"))
        #expect(eventually(timeout: 30) { Self.sees(portA, model, "1") && Self.sees(portA, model, "2") })

        // Each threshold reached the journal once, from whichever host won it.
        var entries: [[String: String]] = []
        #expect(eventually(timeout: 10) { entries = announced(); return entries.count >= 2 })
        #expect(entries.map { "\($0["AIMON_STATE"] ?? "") \($0["AIMON_THRESHOLD"] ?? "")" }.sorted() == ["firing 1", "firing 2"], "\(entries)")
        #expect(entries.allSatisfy { [ws.host + "-a", ws.host + "-b"].contains($0["AIMON_HOST"] ?? "") && $0["AIMON_WINDOW"] == "1d" })
        #expect(entries.contains { $0["MESSAGE"]?.contains("spent in the day from") == true && $0["MESSAGE"]?.contains(zone) == true })
    }
}
