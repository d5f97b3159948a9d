import AimonCore
import Foundation
import Testing

/// Alerts reach a real Alertmanager, and through it a webhook: once per episode, with a resolved
/// state, whatever the number of aimon processes, and whether or not Alertmanager was up.
@Suite struct AlertmanagerTests {
    static func config(_ ws: Workspace, am: AlertmanagerServer, prefix: String? = nil, extra: String = "") -> String {
        """
        host_id: \(ws.host)
        sources:
          - path: \(ws.dir)/*.jsonl
            start_at: beginning
        redis:
          url: \(RedisServer.shared.url)
          key_prefix: \(prefix ?? ws.prefix)
          timeout: 2s
        ingest:
          sweep_interval: 200ms
        rules:
          consecutive_failures: {keep_firing_for: 0s}
          high_hourly_failures: {enabled: false}
          low_success_rate: {enabled: false}
          slow_response: {enabled: false}
          high_error_rate: {enabled: false}
        alerts:
          database: none
          evaluate_interval: 1s
          alertmanager:
            urls: [\(am.url)]
            resend_interval: 1s
            timeout: 2s
            extra_labels: {team: llm}
        log_level: notice
        \(extra)
        """
    }

    static func write(_ ws: Workspace, _ text: String) -> String {
        try! text.write(toFile: ws.path("aimon.yaml"), atomically: true, encoding: .utf8)
        return ws.path("aimon.yaml")
    }

    static func outage(_ ws: Workspace, _ model: String, name: String) {
        let now = Date().timeIntervalSince1970
        AlertIntegrationTests.publish(ws, name, (0..<6).map { ServicesTests.line(model, ok: false, at: now + Double($0) * 0.001) })
    }

    static func recovery(_ ws: Workspace, _ model: String, name: String) {
        AlertIntegrationTests.publish(ws, name, [ServicesTests.line(model, ok: true, at: Date().timeIntervalSince1970)])
    }

    @Test func anOutageGivesOneFiringAndOneResolvedNotification() throws {
        let am = try AlertmanagerServer()
        let ws = Workspace()
        let model = "am-" + ws.prefix
        let daemon = try startDaemon(config: Self.write(ws, Self.config(ws, am: am)), log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        Self.outage(ws, model, name: "outage")
        #expect(eventually(timeout: 30) { am.alerts(model: model).contains { $0.status == "firing" } })
        // Resent every second meanwhile: still one notification (Alertmanager's repeat_interval is 1h).
        Thread.sleep(forTimeInterval: 3)
        Self.recovery(ws, model, name: "recovery")
        #expect(eventually(timeout: 30) { am.alerts(model: model).contains { $0.status == "resolved" } })
        let alerts = am.alerts(model: model)
        #expect(alerts.map(\.status) == ["firing", "resolved"], "\(alerts)")
        let firing = try #require(alerts.first)
        #expect(firing.labels == ["alertname": "consecutive_failures", "model": model, "severity": "critical", "team": "llm"])
        #expect(firing.annotations["summary"]?.hasPrefix("Firing consecutive_failures for model \(model)") == true, "\(firing.annotations)")
        #expect(firing.annotations["threshold"] == "5" && firing.annotations["window"] == "10m")
        #expect(firing.annotations["fingerprint"]?.count == 16)
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    @Test func checkConfigConnectReachesAlertmanager() throws {
        let am = try AlertmanagerServer()
        let ws = Workspace()
        let config = Self.write(ws, Self.config(ws, am: am))
        let up = try runAimon(["check-config", "--config", config, "--connect"])
        #expect(up.stdout.contains("ok     alertmanager: \(am.url) is ready"), "\(up.stdout)")
        am.stop()
        let down = try runAimon(["check-config", "--config", config, "--connect"])
        #expect(down.status == 69 && down.stdout.contains("FAILED alertmanager: \(am.url)/-/ready"), "\(down.stdout)")
    }

    /// Two hosts on one Redis both resend the active alert: Alertmanager sees one alert.
    @Test func twoProcessesOnOneRedisGiveOneNotificationEach() throws {
        let am = try AlertmanagerServer()
        let a = Workspace(), b = Workspace()
        let model = "am2-" + a.prefix
        let da = try startDaemon(config: Self.write(a, Self.config(a, am: am)), log: a.path("aimon.log"))
        let db = try startDaemon(config: Self.write(b, Self.config(b, am: am, prefix: a.prefix)), log: b.path("aimon.log"))
        defer { for d in [da, db] { if d.isRunning { d.terminate() }; d.waitUntilExit() } }
        for ws in [a, b] { Self.outage(ws, model, name: "outage") }
        #expect(eventually(timeout: 30) { am.alerts(model: model).contains { $0.status == "firing" } })
        Thread.sleep(forTimeInterval: 3)  // both resend it, every second
        for ws in [a, b] { Self.recovery(ws, model, name: "recovery") }
        #expect(eventually(timeout: 30) { am.alerts(model: model).contains { $0.status == "resolved" } })
        Thread.sleep(forTimeInterval: 2)
        #expect(am.alerts(model: model).map(\.status) == ["firing", "resolved"], "\(am.alerts(model: model))")
    }

    /// Alertmanager down during the outage: ingest goes on, and the alert arrives once it is back.
    @Test func alertmanagerDownDuringAnOutageGetsTheAlertWhenBack() throws {
        let am = try AlertmanagerServer()
        am.stop()
        let ws = Workspace()
        let model = "am3-" + ws.prefix
        let daemon = try startDaemon(config: Self.write(ws, Self.config(ws, am: am)), log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        Self.outage(ws, model, name: "outage")
        let redis = try RedisServer.shared.connection()
        #expect(eventually(timeout: 30) { committedLines(redis, prefix: ws.prefix, host: ws.host) == 6 })
        #expect(try eventually(timeout: 30) { try Journal.entries("AIMON_MODEL=\(model)").count == 1 })
        #expect(eventually(timeout: 30) {
            ((try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? "").contains("cannot push alerts to Alertmanager")
        })
        // Ingest is not held up.
        let now = Date().timeIntervalSince1970
        AlertIntegrationTests.publish(ws, "more", (0..<10).map { ServicesTests.line("other", ok: true, at: now + Double($0) * 0.001) })
        #expect(eventually(timeout: 30) { committedLines(redis, prefix: ws.prefix, host: ws.host) == 16 })
        try am.start()
        #expect(eventually(timeout: 60) { am.alerts(model: model).contains { $0.status == "firing" } })
        let log = (try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("Alertmanager takes alerts again"), "\(log)")
    }
}
