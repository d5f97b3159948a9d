import AimonCore
import AimonSamples
import Foundation
import Testing

/// The reports against a real Redis, through the real binary: a generated history with known truth
/// gives exact counts and rates, percentiles within their histogram bucket, unique users within
/// HyperLogLog's error, and the right answers at the edges.
@Suite(.serialized) struct ReportIntegrationTests {
    static let odd = "mod èl \"x\": {y}"

    struct Call {
        var time: Double, model: String, ok: Bool, latency: Double, user: String
        var line: String {
            let obj: [String: Any] = ["timestamp": AlertRow.timestamp(time), "model_name": model, "success": ok,
                                      "response_time": latency, "status_code": ok ? 200 : 503, "user_id": user,
                                      "error_message": ok ? NSNull() : "boom"]
            return String(decoding: try! JSONSerialization.data(withJSONObject: obj), as: UTF8.self) + "\n"
        }
    }

    /// Four days of calls ending a minute ago: three models (one with an awkward name), 3,000 users.
    static func history(now: Double) -> [Call] {
        var rng = SplitMix64(seed: 7)
        var calls: [Call] = []
        let start = now - 4 * 86400
        for i in 0..<40_000 {
            let t = start + Double(i) * (4 * 86400 - 120) / 40_000
            let model = ["gpt-4o", "claude", odd][Int(rng.next() % 3)]
            let ok = rng.next() % 100 >= (model == "claude" ? 20 : 3)
            let latency = Double(rng.next() % 20_000 + 50) / 1000 * (model == odd ? 3 : 1)
            calls.append(Call(time: t, model: model, ok: ok, latency: latency, user: "u\(rng.next() % 3000)"))
        }
        return calls
    }

    /// Runs an aimon report with --json and parses it.
    func report(_ args: [String], config: String) throws -> Any {
        let r = try runAimon(args + ["--config", config, "--json"])
        guard r.status == 0 else { throw RedisServer.Failure(description: "aimon \(args) failed (\(r.status)): \(r.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }

    static func number(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }

    /// The nearest-rank quantile of exact values, and the check that an estimate shares its bucket.
    static func withinBucket(_ estimate: Double?, of values: [Double], _ q: Double) -> Bool {
        let sorted = values.sorted()
        let exact = sorted[max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
        let b = LatencyBuckets.bucket(of: exact)
        guard let estimate else { return false }
        return estimate >= b.lower - 1e-9 && estimate <= (b.upper ?? b.lower) + 1e-9
    }

    @Test func everyReportAgreesWithTheTruth() throws {
        let ws = Workspace()
        let now = Date().timeIntervalSince1970
        let calls = Self.history(now: now)
        ws.writeLog("history.jsonl", calls.map(\.line))
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        let replay = try runAimon(["replay", "--config", config, ws.path("history.jsonl")])
        #expect(replay.status == 0, "\(replay.stderr)")

        // stats over 6 hours: exact counts and rates, percentiles within their bucket. The truth is taken
        // over the window the report says it covered (a minute may have passed since `now`).
        let stats = try #require(try report(["stats", "--hours", "6"], config: config) as? [[String: Any]])
        #expect(stats.count == 3)
        for s in stats {
            let model = s["model_name"] as? String ?? ""
            let from = Int64(Self.number((s["window"] as? [String: Any])?["from"]) ?? 0)
            #expect(Double(from) > now - 6 * 3600 - 120 && Double(from) <= now - 6 * 3600 + 120)
            let mine = calls.filter { Int64($0.time) >= from && $0.model == model }
            #expect((s["total_calls"] as? NSNumber)?.intValue == mine.count, "\(model)")
            #expect((s["failed_calls"] as? NSNumber)?.intValue == mine.filter { !$0.ok }.count, "\(model)")
            let rate = Double(mine.filter(\.ok).count) / Double(mine.count)
            #expect(abs((Self.number(s["success_rate"]) ?? -1) - rate) < 1e-6, "\(model)")
            let avg = mine.map(\.latency).reduce(0, +) / Double(mine.count)
            #expect(abs((Self.number(s["avg_response_time"]) ?? -1) - avg) < 1e-5, "\(model)")
            for (key, q) in [("p50_response_time", 0.5), ("p95_response_time", 0.95), ("p99_response_time", 0.99)] {
                #expect(Self.withinBucket(Self.number(s[key]), of: mine.map(\.latency), q), "\(model) \(key) \(s[key] ?? "nil")")
            }
            #expect(abs((Self.number(s["calls_per_minute"]) ?? -1) - Double(mine.count) / 360) < 0.01)
            #expect((s["performance_reason"] as? String)?.isEmpty == false)
        }
        #expect(stats.contains { $0["model_name"] as? String == Self.odd })

        // system over 24 hours.
        let system = try #require(try report(["system", "--hours", "24"], config: config) as? [String: Any])
        let dayFrom = Int64(Self.number((system["window"] as? [String: Any])?["from"]) ?? 0)
        let day = calls.filter { Int64($0.time) >= dayFrom }
        #expect((system["total_calls"] as? NSNumber)?.intValue == day.count)
        #expect((system["successful_calls"] as? NSNumber)?.intValue == day.filter(\.ok).count)
        #expect(abs((Self.number(system["success_rate"]) ?? -1) - Double(day.filter(\.ok).count) / Double(day.count)) < 1e-6)
        let distribution = system["model_distribution"] as? [String: Any] ?? [:]
        for m in ["gpt-4o", "claude", Self.odd] {
            #expect((distribution[m] as? NSNumber)?.intValue == day.filter { $0.model == m }.count, "\(m)")
        }
        var perHour: [String: Int] = [:]
        for c in day { perHour[SystemPerformance.hourName(Int64(c.time) - Int64(c.time) % 3600), default: 0] += 1 }
        let hourly = system["hourly_distribution"] as? [String: Any] ?? [:]
        #expect(hourly.count == 25 || hourly.count == 24)
        for (hour, n) in perHour { #expect((hourly[hour] as? NSNumber)?.intValue == n, "\(hour)") }
        // Users over the whole hours the window touches; HyperLogLog's standard error is 0.81%.
        let hourStart = dayFrom - dayFrom % 3600
        let users = Set(calls.filter { Int64($0.time) >= hourStart }.map(\.user)).count
        let estimated = Double((system["unique_users"] as? NSNumber)?.intValue ?? 0)
        #expect(abs(estimated - Double(users)) <= Double(users) * 0.03, "\(estimated) vs \(users)")

        // trend over 5 days: one row per UTC day, oldest first; the day before the history has no data.
        let trend = try #require(try report(["trend", "--days", "5"], config: config) as? [[String: Any]])
        #expect(trend.count == 5)
        let today = Int64(now) - Int64(now) % 86400
        for (i, row) in trend.enumerated() {
            let dayStart = today - Int64(4 - i) * 86400
            let mine = calls.filter { Int64($0.time) >= dayStart && Int64($0.time) < dayStart + 86400 }
            #expect(row["date"] as? String == String(AlertRow.timestamp(Double(dayStart)).prefix(10)))
            #expect((row["total_calls"] as? NSNumber)?.intValue == mine.count)
            if mine.isEmpty {
                #expect(row["success_rate"] is NSNull && row["avg_response_time"] is NSNull)
            } else {
                #expect(abs((Self.number(row["success_rate"]) ?? -1) - Double(mine.filter(\.ok).count) / Double(mine.count)) < 1e-6)
                #expect(Self.withinBucket(Self.number(row["p95_response_time"]), of: mine.map(\.latency), 0.95))
            }
        }
        let odd = try #require(try report(["trend", "--days", "1", "--model", Self.odd], config: config) as? [[String: Any]])
        #expect((odd.first?["total_calls"] as? NSNumber)?.intValue == calls.filter { $0.model == Self.odd && Int64($0.time) >= today }.count)

        // Human output: units on the figures, no colour when stdout is not a terminal.
        let human = try runAimon(["system", "--config", config, "--hours", "24"])
        #expect(human.status == 0 && human.stdout.contains("success rate") && human.stdout.contains(" s,") && !human.stdout.contains("\u{1B}["))
    }

    @Test func theEdgesOfAWindow() throws {
        let ws = Workspace()
        let now = Date().timeIntervalSince1970
        // Inside the last hour by 3 minutes, outside by 3 minutes; yesterday; nothing else.
        let calls = [Call(time: now - 3420, model: "m", ok: true, latency: 1, user: "a"),
                     Call(time: now - 3780, model: "m", ok: false, latency: 2, user: "b"),
                     Call(time: now - 86400 - 60, model: "m", ok: true, latency: 3, user: "c")]
        ws.writeLog("edges.jsonl", calls.map(\.line))
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        #expect(try runAimon(["replay", "--config", config, ws.path("edges.jsonl")]).status == 0)
        let one = try #require(try report(["system", "--hours", "1"], config: config) as? [String: Any])
        #expect((one["total_calls"] as? NSNumber)?.intValue == 1 && Self.number(one["success_rate"]) == 1)
        let two = try #require(try report(["system", "--hours", "2"], config: config) as? [String: Any])
        #expect((two["total_calls"] as? NSNumber)?.intValue == 2 && Self.number(two["success_rate"]) == 0.5)
        let today = try #require(try report(["trend", "--days", "1"], config: config) as? [[String: Any]])
        #expect(today.count == 1)
        let todays = calls.filter { Int64($0.time) >= Int64(now) - Int64(now) % 86400 }.count
        #expect((today[0]["total_calls"] as? NSNumber)?.intValue == todays)

        // A single model, and a model with no calls in the window: zero calls and null rates, never 0% or 100%.
        let none = try #require(try report(["stats", "--hours", "1", "--model", "nobody"], config: config) as? [String: Any])
        #expect((none["total_calls"] as? NSNumber)?.intValue == 0 && none["success_rate"] is NSNull && none["p95_response_time"] is NSNull)
        let empty = Workspace()
        let emptyConfig = empty.writeConfig(redis: RedisServer.shared.url)
        let nothing = try #require(try report(["system", "--hours", "1"], config: emptyConfig) as? [String: Any])
        #expect((nothing["total_calls"] as? NSNumber)?.intValue == 0 && nothing["success_rate"] is NSNull)
        #expect((nothing["unique_users"] as? NSNumber)?.intValue == 0 && (nothing["model_distribution"] as? [String: Any])?.isEmpty == true)
        let human = try runAimon(["system", "--config", emptyConfig, "--hours", "1"])
        #expect(human.stdout.contains("no data"))
    }

    @Test func cleanupRemovesOldBucketsWithScanAndSaysHowMany() throws {
        let ws = Workspace()
        let now = Date().timeIntervalSince1970
        let calls = [Call(time: now - 10 * 86400, model: "old", ok: true, latency: 1, user: "a"),
                     Call(time: now - 60, model: "new", ok: true, latency: 1, user: "b")]
        ws.writeLog("c.jsonl", calls.map(\.line))
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        #expect(try runAimon(["replay", "--config", config, ws.path("c.jsonl")]).status == 0)
        let redis = try RedisServer.shared.connection()
        let keys = KeySchema(prefix: ws.prefix)
        func count() throws -> Int { try redis.command(["KEYS", ws.prefix + ":*"]).array?.count ?? 0 }
        let before = try count()
        let dry = try runAimon(["cleanup", "--config", config, "--days", "5", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.hasPrefix("would remove 5 keys"))
        let dryJSON = try #require(try report(["cleanup", "--days", "5", "--dry-run"], config: config) as? [String: Any])
        #expect((dryJSON["removed_keys"] as? NSNumber)?.intValue == 5 && dryJSON["dry_run"] as? Bool == true)
        #expect(try count() == before)
        let r = try runAimon(["cleanup", "--config", config, "--days", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        // The old call's hour: its model's and the all-models' hour buckets and user counts, and the
        // hour's model set: 5 keys (it is too old for minute buckets).
        #expect(r.stdout.hasPrefix("removed 5 keys older than 5 days"), "\(r.stdout)")
        #expect(try count() == before - 5)
        let oldHour = Int64(now - 10 * 86400) - Int64(now - 10 * 86400) % 3600
        #expect(try redis.command(["EXISTS", keys.bucket("old", .hour, start: oldHour)]).integer == 0)
        #expect(try redis.command(["EXISTS", keys.checkpoints(host: ws.host)]).integer == 1)
        #expect(WindowCleanup(keys: keys).bucketEnd(keys.bucket(Self.odd, .minute, start: 120)) == 180)
        #expect(WindowCleanup(keys: keys).bucketEnd(keys.failureRun("m")) == nil)
        #expect(WindowCleanup(keys: keys).bucketEnd(keys.deployments(hour: 7200)) == 10800)
        #expect(WindowCleanup(keys: keys).bucketEnd(keys.spendAnnounced(start: 7200)) == nil)
    }
}
