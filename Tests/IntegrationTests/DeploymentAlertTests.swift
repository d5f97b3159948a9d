import AimonCore
import Foundation
import Testing

/// One deployment of a model fails while another serves it: the deployment's alerts fire (journal
/// with AIMON_DEPLOYMENT, table with its column), the model's own do not (its success rate stays
/// above the threshold, and its failures are never in a row).
@Suite struct DeploymentAlertTests {
    @Test func aFailingDeploymentBehindAHealthyModelIsSeen() throws {
        let ws = Workspace()
        let model = "dep-\(ws.prefix)"
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: """
        rules:
          consecutive_failures: {deployments: true}
          low_success_rate: {deployments: true}
          high_hourly_failures: {enabled: false}
        alerts:
          database: sqlite://\(ws.path("alerts.db"))
          evaluate_interval: 5m   # the batch's own evaluation must judge the pairs
        """)
        ws.writeLog("gw.jsonl", [])
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let now = Date().timeIntervalSince1970
        // 630 calls: every 21st goes to eu-west and fails; the others to us-east and succeed.
        let lines = (0..<630).map { i -> String in
            let failing = i % 21 == 20
            return "{\"timestamp\":\"\(AlertRow.timestamp(now - 60 + Double(i) * 0.05))\",\"model_name\":\"\(model)\",\"success\":\(!failing),"
                + "\"status_code\":\(failing ? 503 : 200),\"response_time\":0.4,\"deployment\":\"\(failing ? "eu-west" : "us-east")\"}\n"
        }
        // A second model: one deployment fails every other call (never 5 in a row), 50 % success.
        let other = "dep2-\(ws.prefix)"
        let more = (0..<640).map { i -> String in
            let flaky = i % 16 == 0
            let ok = !flaky || (i / 16) % 2 == 0
            return "{\"timestamp\":\"\(AlertRow.timestamp(now - 60 + Double(i) * 0.05))\",\"model_name\":\"\(other)\",\"success\":\(ok),"
                + "\"status_code\":\(ok ? 200 : 503),\"response_time\":0.4,\"deployment\":\"\(flaky ? "ap-south" : "us-east")\"}\n"
        }
        AlertIntegrationTests.publish(ws, "traffic", lines + more)
        var rows: [[String: Any]] = []
        #expect(eventually(timeout: 30) {
            let r = (try? runAimon(["alerts", "--config", config, "--active", "--json"]))?.stdout ?? "[]"
            rows = (try? JSONSerialization.jsonObject(with: Data(r.utf8)) as? [[String: Any]]) ?? []
            // The deployment's low success rate (0 %) is held back while its consecutive failures
            // fire: they describe the same outage.
            let mine = rows.filter { $0["model"] as? String == model }.compactMap { $0["alert_type"] as? String }
            let theirs = rows.filter { $0["model"] as? String == other }.compactMap { $0["alert_type"] as? String }
            return mine == ["consecutive_failures"] && theirs == ["low_success_rate"]
        }, "\(rows)")
        for row in rows {
            let deployment = row["model"] as? String == model ? "eu-west" : "ap-south"
            #expect(row["deployment"] as? String == deployment, "\(row)")
        }
        // The model's own alerts never fired (its rows would have no deployment).
        let all = try runAimon(["alerts", "--config", config, "--json"]).stdout
        let everything = (try JSONSerialization.jsonObject(with: Data(all.utf8)) as? [[String: Any]]) ?? []
        #expect(everything.allSatisfy { ($0["deployment"] as? String) != nil }, "\(everything)")
        #expect(eventually(timeout: 10) {
            ((try? Journal.entries("AIMON_DEPLOYMENT=eu-west")) ?? []).contains {
                $0["AIMON_MODEL"] == model && $0["AIMON_ALERT_TYPE"] == "consecutive_failures" && $0["AIMON_STATE"] == "firing"
            }
        })
        let table = try runAimon(["alerts", "--config", config, "--active"])
        #expect(table.stdout.contains("\(model) @ eu-west"), "\(table.stdout)")
    }
}
