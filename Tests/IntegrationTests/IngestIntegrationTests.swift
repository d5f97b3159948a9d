import AimonCore
import AimonSamples
import Foundation
import Testing

/// The whole data path against a real Redis and the real `aimon` binary.
@Suite(.serialized) struct IngestIntegrationTests {
    let now = Date().timeIntervalSince1970

    @Test func statsEqualTheTruthExactly() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        var log = SampleLog(seed: 11)
        var lines = log.lines(20_000, from: now - 7200, to: now - 60)
        lines.insert("this is not json\n", at: 100)
        lines.insert("{\"model_name\": 42}\n", at: 200)
        ws.writeLog("gw.jsonl", lines)

        let replay = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("20002 lines, 20000 records, 2 bad"))

        let stats = try statsJSON(config: config)
        #expect(reportedCounts(stats) == expectedStats(log.truth))
        for s in stats {
            let m = s["model_name"] as! String
            let t = log.truth[m]!
            let rate = (s["success_rate"] as! NSNumber).doubleValue
            #expect(abs(rate - Double(t.successes) / Double(t.calls)) < 5e-7)
            let avg = (s["avg_response_time"] as! NSNumber).doubleValue
            #expect(abs(avg - Double(t.latencySumMicros) / Double(t.latencyCount) / 1e6) < 5e-7)
            // Top errors: the most frequent first, with their exact counts.
            let top = s["top_errors"] as! [String: Any]
            let expectedTop = t.errors.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(5)
            #expect(top.count == expectedTop.count)
            for (msg, n) in expectedTop { #expect((top[msg] as? NSNumber)?.int64Value == n) }
        }

        // A replay run again counts nothing twice.
        let again = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(again.status == 0)
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
    }

    @Test func emptyWindowReportsZeroCallsAndNullRates() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        let r = try runAimon(["stats", "--config", config, "--json", "--model", "never-seen"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect((obj["total_calls"] as? NSNumber)?.intValue == 0)
        #expect(obj["success_rate"] is NSNull)
        #expect(obj["avg_response_time"] is NSNull)
        #expect(obj["error_rate"] is NSNull)
        #expect(obj["performance_level"] as? String == "unknown")
        let human = try runAimon(["stats", "--config", config, "--model", "never-seen"])
        #expect(human.stdout.contains("no data"))
    }

    @Test func modelNamesWithAwkwardCharactersRoundTrip() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        let names = ["vendor/model: \"quoted\" {tag}", "模型-中文", "a b*c"]
        var log = SampleLog(seed: 5, models: names)
        ws.writeLog("gw.jsonl", (0..<300).map { i in
            log.line(at: now - 600 + Double(i)).replacingOccurrences(of: "\"vendor/model: \"quoted\" {tag}\"", with: "\"vendor/model: \\\"quoted\\\" {tag}\"")
        })
        #expect(try runAimon(["replay", "--config", config, ws.path("gw.jsonl")]).status == 0)
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
    }

    @Test func killNineAtRandomMomentsThenRestartCountsEveryLineOnce() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        var log = SampleLog(seed: 21)
        let total = 150_000
        ws.writeLog("gw.jsonl", log.lines(total, from: now - 3 * 3600, to: now - 60))
        let redis = try RedisServer.shared.connection()
        var rng = SplitMix64(seed: 9)
        var kills = 0
        var killsMidIngest = 0
        for _ in 0..<6 {
            let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
            // A random moment in the run: 50-600 ms after start.
            usleep(useconds_t(50_000 + rng.next() % 550_000))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            kills += 1
            let done = committedLines(redis, prefix: ws.prefix, host: ws.host)
            if done < total { killsMidIngest += 1 } else { break }
        }
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        #expect(eventually(timeout: 120) { committedLines(redis, prefix: ws.prefix, host: ws.host) >= Int64(total) })
        #expect(eventually(timeout: 30) { daemonIsUp(redis, prefix: ws.prefix, host: ws.host, pid: daemon.processIdentifier) })
        daemon.terminate()  // SIGTERM: commit and exit 0
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(killsMidIngest >= 1, "no kill landed while lines were still being ingested (\(kills) kills)")
        #expect(committedLines(redis, prefix: ws.prefix, host: ws.host) == Int64(total))
        #expect(reportedCounts(try statsJSON(config: config, hours: 6)) == expectedStats(log.truth))
    }

    @Test func redisStoppedDuringIngestThenBackLosesNothing() throws {
        let ws = Workspace()
        let server = try RedisServer(persistent: true)
        let config = ws.writeConfig(redis: server.url)
        var log = SampleLog(seed: 33)
        let first = log.lines(30_000, from: now - 3600, to: now - 1800)
        ws.writeLog("gw.jsonl", first)
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        var redis = try server.connection()
        #expect(eventually(timeout: 60) { committedLines(redis, prefix: ws.prefix, host: ws.host) >= 30_000 })
        server.stop()
        // Lines written while Redis is away wait in the file; aimon retries and reads nothing more.
        let handle = FileHandle(forWritingAtPath: ws.path("gw.jsonl"))!
        handle.seekToEndOfFile()
        handle.write(Data(log.lines(20_000, from: now - 1800, to: now - 60).joined().utf8))
        handle.closeFile()
        #expect(eventually(timeout: 30) { (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8))?.contains("Redis") == true })
        try server.start()
        redis = try server.connection()
        #expect(eventually(timeout: 60) { committedLines(redis, prefix: ws.prefix, host: ws.host) >= 50_000 })
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(committedLines(redis, prefix: ws.prefix, host: ws.host) == 50_000)
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
    }

    @Test func everyKeyHasATTL() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        var log = SampleLog(seed: 2)
        ws.writeLog("gw.jsonl", log.lines(500, from: now - 600, to: now))
        #expect(try runAimon(["replay", "--config", config, ws.path("gw.jsonl")]).status == 0)
        let redis = try RedisServer.shared.connection()
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let r = try redis.command(["SCAN", cursor, "MATCH", ws.prefix + ":*", "COUNT", "1000"]).array!
            cursor = r[0].text!
            keys += r[1].array!.compactMap(\.text)
        } while cursor != "0"
        #expect(keys.count > 10)
        for k in keys {
            let ttl = try redis.command(["TTL", k]).integer ?? -3
            #expect(ttl > 0, "\(k) has no TTL")
        }
    }

    /// A source that reads nothing is named (check-config, and the daemon at start), not left to a
    /// silent files=0; the daemon says when its first file appears.
    @Test func sourcesThatMatchNoFileAreNamed() throws {
        let ws = Workspace()
        let missing = ws.path("missing")
        let config = ws.writeConfig(redis: RedisServer.shared.url, source: "  - path: \(missing)/*.jsonl",
                                    extra: "alerts:\n  database: none")
        let r = try runAimon(["check-config", "--config", config])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("warning: matches no file yet") && r.stdout.contains("warning: its folder \(missing) does not exist"),
                "\(r.stdout)")
        let strict = try runAimon(["check-config", "--config", config, "--strict"])
        #expect(strict.status == 78 && strict.stderr.contains("2 sources read nothing"), "\(strict.stderr)")
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        func log() -> String { (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? "" }
        #expect(eventually(timeout: 30) { log().contains("its folder \(missing) does not exist") }, "\(log())")
        #expect(log().contains("matches no file yet"))
        var sample = SampleLog(seed: 2)
        ws.writeLog("gw.jsonl", sample.lines(10, from: Date().timeIntervalSince1970 - 60, to: Date().timeIntervalSince1970 - 30))
        #expect(eventually(timeout: 30) { log().contains("first file appeared") && log().contains(ws.path("gw.jsonl")) }, "\(log())")
        try FileManager.default.createDirectory(atPath: missing, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: missing + "/a.jsonl", contents: Data())
        #expect(try runAimon(["check-config", "--config", config, "--strict"]).status == 0)
    }

    @Test func checkConfigNamesProblemsAndExitsWith78() throws {
        let ws = Workspace()
        FileManager.default.createFile(atPath: ws.path("bad.yaml"), contents: Data("sources:\n  - path: logs/*.jsonl\n    format: nope\n".utf8))
        let r = try runAimon(["check-config", "--config", ws.path("bad.yaml")])
        #expect(r.status == 78)
        #expect(r.stderr.contains("line 2: sources[0].path"))
        #expect(r.stderr.contains("line 3: sources[0].format: unknown format 'nope'"))
        // Other commands check the same way before doing anything.
        #expect(try runAimon(["stats", "--config", ws.path("bad.yaml")]).status == 78)
        // AIMON_CONFIG is honoured.
        #expect(try runAimon(["check-config"], environment: ["AIMON_CONFIG": ws.path("bad.yaml")]).status == 78)
        let good = ws.writeConfig(redis: "redis://127.0.0.1:1/0")
        #expect(try runAimon(["check-config", "--config", good]).status == 0)
        // Redis unreachable: exit 69 with a message that says what to check.
        let down = try runAimon(["stats", "--config", good])
        #expect(down.status == 69)
        #expect(down.stderr.contains("cannot connect to Redis"))
    }
}
