import AimonCore
import AimonSamples
import Foundation
import Testing

/// Several gateway hosts, one Redis, one PostgreSQL alert table: four `aimon run` daemons, each with
/// its own log and `host_id`. The totals are the union of the four logs, and an outage whose failures
/// are spread over all four logs is one row in the table and one announcement in the journal.
@Suite struct FleetTests {
    @Test func fourHostsOneRedisOnePostgres() throws {
        try Journal.requirePresent()
        let pg = try PostgresServer()
        let ws = Workspace()
        let outage = "fleet-\(ws.prefix)"
        let hosts = (1...4).map { "\(ws.host)-\($0)" }
        let ports = hosts.map { _ in RedisServer.freePort() }
        let configs = try hosts.enumerated().map { i, host -> String in
            try FileManager.default.createDirectory(atPath: ws.path("h\(i)"), withIntermediateDirectories: true)
            let path = ws.path("h\(i).yaml")
            try """
            host_id: \(host)
            sources:
              - path: \(ws.dir)/h\(i)/*.jsonl
                start_at: beginning
            redis:
              url: \(RedisServer.shared.url)
              key_prefix: \(ws.prefix)
            ingest:
              sweep_interval: 200ms
            rules:
              high_hourly_failures: {enabled: false}
            alerts:
              database: \(pg.uri)
              evaluate_interval: 1s
            http:
              listen: 127.0.0.1:\(ports[i])
            log_level: notice
            """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let daemons = try configs.enumerated().map { i, c in try startDaemon(config: c, log: ws.path("h\(i).log")) }
        defer { for d in daemons { if d.isRunning { d.terminate() }; d.waitUntilExit() } }

        // Each host's own traffic, from its own generator; the truth is their union.
        let now = Date().timeIntervalSince1970
        var truth: [String: SampleLog.Truth] = [:]
        var total = 0
        for i in 0..<4 {
            var log = SampleLog(seed: UInt64(40 + i))
            let lines = (0..<2500).map { log.line(at: now - 900 + Double($0) * 0.2) }
            ws.writeLog("h\(i)/gw.jsonl", lines)
            total += lines.count
            for (m, t) in log.truth {
                var u = truth[m] ?? SampleLog.Truth()
                u.calls += t.calls; u.successes += t.successes; u.failures += t.failures
                truth[m] = u
            }
        }
        let redis = try RedisServer.shared.connection()
        #expect(eventually(timeout: 60) { hosts.reduce(Int64(0)) { $0 + committedLines(redis, prefix: ws.prefix, host: $1) } == Int64(total) })
        #expect(reportedCounts(try statsJSON(config: configs[0])) == expectedStats(truth))

        // One model fails on every host: 3 failures in each log, none of them 5 in a row on one host.
        for i in 0..<4 {
            AlertIntegrationTests.publish(ws, "h\(i)/outage", (0..<3).map { ServicesTests.line(outage, ok: false, at: now - 10 + Double(i * 3 + $0) * 0.1) })
        }
        var rows: [[String]] = []
        #expect(eventually(timeout: 30) {
            rows = (try? pg.query("SELECT alert_type, host FROM aimon_alerts WHERE model = '\(outage)'")) ?? []
            return !rows.isEmpty
        })
        // Every host has evaluated the model since (its /metrics shows the alert firing): none of
        // them announced it again.
        #expect(eventually(timeout: 30) {
            ports.allSatisfy { port in
                ((try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/metrics")) ?? "").split(separator: "\n").contains {
                    $0.hasPrefix("aimon_alert_firing{") && $0.contains("model=\"\(outage)\"")
                }
            }
        })
        rows = try pg.query("SELECT alert_type, host FROM aimon_alerts WHERE model = '\(outage)'")
        #expect(rows.map { $0[0] } == ["consecutive_failures"], "\(rows)")
        #expect(hosts.contains(rows.first?[1] ?? ""))
        let announced = try Journal.entries("AIMON_MODEL=\(outage)").filter { $0["AIMON_STATE"] == "firing" }
        #expect(announced.count == 1, "\(announced)")
        #expect(announced.first?["AIMON_HOST"] == rows.first?[1])
        #expect(reportedCounts(try statsJSON(config: configs[3]))[outage] == ["total_calls": 12, "successful_calls": 0, "failed_calls": 12])
    }
}

/// The alert table on a PostgreSQL primary/standby pair, through a libpq multi-host URI with
/// `target_session_attrs=read-write`: the primary stops, the standby is promoted, and the alerts of
/// the switch are written to the new primary from the writer's queue: no row is lost.
@Suite struct AlertTableFailoverTests {
    @Test func aPromotedStandbyGetsTheQueuedRows() throws {
        let primary = try PostgresServer()
        let standby = try PostgresServer(standbyOf: primary)
        let ws = Workspace()
        let uri = "postgresql://postgres@127.0.0.1:\(primary.port),127.0.0.1:\(standby.port)/aimon?target_session_attrs=read-write&connect_timeout=2"
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: """
        rules:
          high_hourly_failures: {enabled: false}
        alerts:
          database: "\(uri)"
          evaluate_interval: 1s
        """)
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        func models(_ pg: PostgresServer) -> [String] {
            ((try? pg.query("SELECT model FROM aimon_alerts ORDER BY model")) ?? []).map { $0[0] }
        }
        let first = "pgfo-a-\(ws.prefix)", second = "pgfo-b-\(ws.prefix)"
        AlertIntegrationTests.publish(ws, "a", (0..<6).map { ServicesTests.line(first, ok: false, at: Date().timeIntervalSince1970 - 5 + Double($0) * 0.1) })
        #expect(eventually(timeout: 30) { models(primary) == [first] })
        #expect(eventually(timeout: 30) { models(standby) == [first] })  // replicated
        try primary.stop()
        // An outage while the table has no primary: its row waits in the queue.
        AlertIntegrationTests.publish(ws, "b", (0..<6).map { ServicesTests.line(second, ok: false, at: Date().timeIntervalSince1970 - 5 + Double($0) * 0.1) })
        #expect(eventually(timeout: 30) {
            ((try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? "").contains("cannot write to the alert table")
        })
        try standby.promote()
        #expect(eventually(timeout: 60) { models(standby) == [first, second] }, "\(models(standby))")
    }
}
