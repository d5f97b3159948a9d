import AimonCore
import AimonSamples
import Foundation
import Testing

/// A log with every hostile value the hardening issue lists, read by the real binary: nothing
/// crashes, valid lines are counted exactly, and each bad line is counted under its own reason.
@Suite(.serialized) struct HostileInputTests {
    let now = Date().timeIntervalSince1970

    /// Bad lines and the reason each must be counted under.
    static func hostileLines(now: Double) -> [(line: String, reason: String)] {
        let huge = String(repeating: "x", count: 1 << 20)
        return [
            (#"{"model_name":"m","timestamp":1e22,"success":true,"response_time":1}"#, "future_timestamp"),
            (#"{"model_name":"m","timestamp":1e19,"success":false,"response_time":1}"#, "future_timestamp"),
            (#"{"model_name":"m","timestamp":"2100-01-01T00:00:00Z","success":true}"#, "future_timestamp"),
            (#"{"model_name":"m","timestamp":-1,"success":true}"#, "bad_timestamp"),
            (#"{"model_name":"m","success":true,"response_time":1e13}"#, "bad_latency"),
            (#"{"model_name":"m","success":true,"response_time":5e12}"#, "bad_latency"),
            (#"{"model_name":"m","success":true,"response_time":-1}"#, "bad_latency"),
            (#"{"model_name":"m","success":true,"response_time":"NaN"}"#, "wrong_type"),
            (#"{"model_name":"m","success":true,"input_length":-1}"#, "bad_count"),
            (#"{"model_name":"m","success":true,"output_length":1e300}"#, "bad_count"),
            (#"{"model_name":"m","success":false,"status_code":99999}"#, "bad_status"),
            ("{\"model_name\":\"\(huge)\",\"success\":true}", "model_too_long"),
        ]
    }

    /// The log: `valid` generated lines (their truth in `log`), the hostile ones in between, and
    /// 10,000 failures whose messages differ only by a request id.
    func writeLog(_ ws: Workspace, _ log: inout SampleLog) -> (lines: Int, bad: [String: Int64]) {
        var lines = log.lines(2000, from: now - 3000, to: now - 60)
        var bad: [String: Int64] = [:]
        for (i, h) in Self.hostileLines(now: now).enumerated() {
            lines.insert(h.line + "\n", at: 100 * (i + 1))
            bad[h.reason, default: 0] += 1
        }
        var rng = SplitMix64(seed: 5)
        for i in 0..<10_000 {
            let id = String(rng.next(), radix: 16)
            lines.append(#"{"model_name":"ids","timestamp":\#(Int(now) - 600 + i % 500),"success":false,"status_code":502,"error_message":"upstream error, request id req-\#(id)"}"# + "\n")
        }
        ws.writeLog("gw.jsonl", lines)
        return (lines.count, bad)
    }

    func expectCounted(_ ws: Workspace, config: String, log: SampleLog, bad: [String: Int64], lines: Int) throws {
        var truth = expectedStats(log.truth)
        truth["ids"] = ["total_calls": 10_000, "successful_calls": 0, "failed_calls": 10_000]
        let stats = try statsJSON(config: config)
        #expect(reportedCounts(stats) == truth)
        let ids = stats.first { $0["model_name"] as? String == "ids" }
        #expect((ids?["top_errors"] as? [String: Any])?.keys.sorted() == ["upstream error, request id req-#"])
        // What an operator reads: every bad line under its reason.
        let status = try runAimon(["status", "--config", config, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let hosts = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]] ?? []
        let host = hosts.first { $0["host"] as? String == ws.host }
        let reported = (host?["bad_lines"] as? [String: Any] ?? [:]).mapValues { ($0 as? NSNumber)?.int64Value ?? -1 }
        #expect(reported == bad)
        let counters = host?["counters"] as? [String: Any] ?? [:]
        #expect((counters["lines"] as? NSNumber)?.intValue == lines)
        // Each reason is its counter's name in Redis, as it is in the log ("bad_latency", not "bad_bad_latency").
        let redis = try RedisServer.shared.connection()
        let fields = try redis.command(["HKEYS", KeySchema(prefix: ws.prefix).ingestCounters(host: ws.host)]).array?.compactMap(\.text) ?? []
        #expect(Set(bad.keys).isSubset(of: Set(fields)), "\(fields)")
        #expect(!fields.contains { $0.hasPrefix("bad_bad_") }, "\(fields)")
        let human = try runAimon(["status", "--config", config])
        #expect(human.stdout.contains("bad lines: bad_latency 3, future_timestamp 3, bad_count 2"), "\(human.stdout)")
    }

    @Test func replayCountsValidLinesExactlyAndBadOnesByReason() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url, ingest: "  max_line_bytes: 4MiB")
        var log = SampleLog(seed: 77)
        let (lines, bad) = writeLog(ws, &log)
        let r = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(r.status == 0, "\(r.stderr)")
        try expectCounted(ws, config: config, log: log, bad: bad, lines: lines)
    }

    @Test func theDaemonSurvivesThemAndCountsTheSame() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url, ingest: "  max_line_bytes: 4MiB", extra: "alerts:\n  database: none")
        var log = SampleLog(seed: 78)
        let (lines, bad) = writeLog(ws, &log)
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let redis = try RedisServer.shared.connection()
        #expect(eventually(timeout: 60) { committedLines(redis, prefix: ws.prefix, host: ws.host) >= Int64(lines) })
        #expect(daemon.isRunning)
        try expectCounted(ws, config: config, log: log, bad: bad, lines: lines)
        #expect(eventually(timeout: 30) { daemonIsUp(redis, prefix: ws.prefix, host: ws.host, pid: daemon.processIdentifier) })
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        // Each kind of bad line was shown to the operator, sampled.
        let text = (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? ""
        for reason in bad.keys { #expect(text.contains("skipping a bad line (\(reason))"), "\(reason)") }
    }
}
