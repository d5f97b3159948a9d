import AimonCore
import Foundation
import Testing

/// `slow_first_token` end to end: streamed calls whose first token comes late fire it (journal and
/// table), while the same model's whole response time and success rate stay within their limits.
@Suite struct FirstTokenAlertTests {
    static func line(_ model: String, ttft: Double?, at time: Double) -> String {
        let t = ttft.map { ",\"ttft\":\($0)" } ?? ""
        return "{\"timestamp\":\"\(AlertRow.timestamp(time))\",\"model_name\":\"\(model)\",\"success\":true,\"response_time\":6.5\(t),\"output_tokens\":300}\n"
    }

    @Test func lateFirstTokensFireTheirOwnAlert() throws {
        let ws = Workspace()
        let model = "ttft-\(ws.prefix)"
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: """
        alerts:
          database: sqlite://\(ws.path("alerts.db"))
          evaluate_interval: 1s
        """)
        ws.writeLog("gw.jsonl", [])
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let now = Date().timeIntervalSince1970
        // 30 streamed calls at 4-5 s to the first token, and 200 calls that were not streamed.
        var lines = (0..<30).map { Self.line(model, ttft: 4 + Double($0 % 10) / 10, at: now - 30 + Double($0)) }
        lines += (0..<200).map { Self.line(model, ttft: nil, at: now - 30 + Double($0) * 0.1) }
        AlertIntegrationTests.publish(ws, "slow", lines)
        var rows: [[String: Any]] = []
        #expect(eventually(timeout: 30) {
            let r = (try? runAimon(["alerts", "--config", config, "--active", "--json"]))?.stdout ?? "[]"
            rows = (try? JSONSerialization.jsonObject(with: Data(r.utf8)) as? [[String: Any]]) ?? []
            return rows.contains { $0["alert_type"] as? String == "slow_first_token" }
        }, "\(rows)")
        // Only that alert: the response time (6.5 s) is under slow_response's 10 s, every call succeeded.
        #expect(rows.map { $0["alert_type"] as? String ?? "" } == ["slow_first_token"], "\(rows)")
        #expect(eventually(timeout: 10) {
            ((try? Journal.entries("MESSAGE_ID=30a564f00c1b449cb392f6c3e7e4f469")) ?? []).contains { $0["AIMON_MODEL"] == model && $0["AIMON_STATE"] == "firing" }
        })
        // The table of stats shows the first-token figures beside the rest.
        let stats = try runAimon(["stats", "--config", config, "--model", model, "--json"])
        let s = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(FormatIntegrationTests.int((s["ttft"] as? [String: Any])?["calls"]) == 30)
        #expect(FormatIntegrationTests.int((s["tokens"] as? [String: Any])?["output"]) == 230 * 300)
    }
}
