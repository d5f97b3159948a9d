import AimonCore
import AimonSamples
import Foundation
import Testing

/// Each preset through the real binary and a real Redis: the failure classes reach the windows and
/// `aimon stats`, a source's policy decides what counts, and client errors raise no alert.
@Suite(.serialized) struct FormatIntegrationTests {
    static func int(_ v: Any?) -> Int64 { (v as? NSNumber)?.int64Value ?? -1 }

    @Test(arguments: LogFormat.allCases)
    func everyPresetReachesStatsWithItsFailureClasses(format: LogFormat) throws {
        let ws = Workspace()
        var log = GatewayLog(format: format, seed: 11)
        let now = Date().timeIntervalSince1970
        let lines = (0..<3000).map { log.line(at: now - 3000 + Double($0)) }
        ws.writeLog("gw.jsonl", lines)
        let config = ws.writeConfig(redis: RedisServer.shared.url, source: "    format: \(format.rawValue)")
        // replay takes the format of the configured source the file matches.
        let replay = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("3000 lines, \(3000 - log.notCalls) records, 0 bad"), "\(replay.stdout)")
        if log.notCalls > 0 { #expect(replay.stdout.contains("\(log.notCalls) not calls")) }

        let stats = try statsJSON(config: config, hours: 2)
        #expect(stats.count == log.truth.count)
        for s in stats {
            let model = s["model_name"] as? String ?? ""
            let truth = try #require(log.truth[model])
            let n = { (o: CallOutcome) in truth.byOutcome[o] ?? 0 }
            let classes = s["failure_classes"] as? [String: Any]
            #expect(Self.int(s["total_calls"]) == truth.calls, "\(format) \(model)")
            #expect(Self.int(s["successful_calls"]) == n(.success))
            #expect(Self.int(s["failed_calls"]) == truth.calls - n(.success))
            #expect(Self.int(classes?["client_error"]) == n(.clientError))
            #expect(Self.int(classes?["rate_limited"]) == n(.rateLimited))
            #expect(Self.int(classes?["provider_error"]) == n(.providerError))
            #expect(Self.int(s["counted_failures"]) == n(.rateLimited) + n(.providerError))
            let rate = Double(n(.success)) / Double(n(.success) + n(.rateLimited) + n(.providerError))
            #expect(abs(((s["success_rate"] as? NSNumber)?.doubleValue ?? -1) - rate) < 1e-6, "\(format) \(model)")
        }
        // The human table shows the classes too.
        let table = try runAimon(["stats", "--config", config, "--hours", "2"])
        #expect(table.status == 0 && table.stdout.contains("PROVIDER") && table.stdout.contains("RATE LTD") && table.stdout.contains("CLIENT"))
    }

    /// A LiteLLM log as the proxy writes it (failures with 0 tokens and 0 cost, an unpriced model at
    /// cost 0, streamed calls whose completionStartTime comes before endTime): per model, the token
    /// sums, the cost and the time to first token in `aimon stats --json` equal the truth exactly,
    /// and `system` has their totals.
    @Test func liteLLMTokensCostAndTimeToFirstTokenAreExact() throws {
        let ws = Workspace()
        var log = GatewayLog(format: .litellm, seed: 23)
        let now = Date().timeIntervalSince1970
        let lines = (0..<4000).map { log.line(at: now - 4000 + Double($0) * 0.9) }
        ws.writeLog("gw.jsonl", lines)
        let config = ws.writeConfig(redis: RedisServer.shared.url, source: "    format: litellm")
        let replay = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(replay.status == 0 && replay.stdout.contains("4000 lines, 4000 records, 0 bad"), "\(replay.stdout) \(replay.stderr)")
        let stats = try statsJSON(config: config, hours: 2)
        #expect(stats.count == log.truth.count)
        var total = GatewayLog.Truth()
        for s in stats {
            let model = s["model_name"] as? String ?? ""
            let truth = try #require(log.truth[model])
            let tokens = s["tokens"] as? [String: Any]
            #expect(Self.int(tokens?["input"]) == truth.inputTokens, "\(model)")
            #expect(Self.int(tokens?["output"]) == truth.outputTokens, "\(model)")
            #expect(Self.int(tokens?["calls"]) == truth.tokenCalls, "\(model)")
            let cost = (s["cost_usd"] as? NSNumber)?.doubleValue ?? -1
            #expect(BucketCounts.nanos(cost) == truth.costNanos, "\(model): \(cost)")
            if GatewayLog.prices[model] == nil { #expect(cost == 0, "\(model) has no price") }
            let ttft = s["ttft"] as? [String: Any]
            #expect(Self.int(ttft?["calls"]) == truth.ttftCount, "\(model)")
            let avg = (ttft?["avg"] as? NSNumber)?.doubleValue ?? -1
            #expect(abs(avg - Double(truth.ttftMicros) / Double(truth.ttftCount) / 1e6) < 1e-6, "\(model)")
            #expect(truth.ttftCount > 0 && truth.ttftCount < truth.calls)  // some streamed, not all
            total.inputTokens += truth.inputTokens
            total.costNanos += truth.costNanos
        }
        let r = try runAimon(["system", "--config", config, "--hours", "2", "--json"])
        let system = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(Self.int((system["tokens"] as? [String: Any])?["input"]) == total.inputTokens)
        #expect(BucketCounts.nanos((system["cost_usd"] as? NSNumber)?.doubleValue ?? -1) == total.costNanos)
        let table = try runAimon(["stats", "--config", config, "--hours", "2"])
        #expect(table.stdout.contains("IN TOKENS") && table.stdout.contains("TTFT P95"), "\(table.stdout)")
    }

    /// otlp-json through replay: lines of several GenAI spans with other spans mixed in; every
    /// call is counted once, by model and class, and a line without a GenAI span is no call.
    @Test func otlpTracesWithSeveralCallsALineCountExactly() throws {
        let ws = Workspace()
        let now = Date().timeIntervalSince1970
        let models = ["gpt-4o", "claude-3-5-sonnet", "llama-3.1-70b"]
        var truth: [String: (calls: Int64, failed: Int64, input: Int64)] = [:]
        var lines: [String] = []
        var records = 0
        for i in 0..<600 {
            let start = Int64((now - 1200 + Double(i)) * 1000) * 1_000_000
            var spans = [#"{"name":"POST /v1/chat/completions","kind":2,"startTimeUnixNano":"\#(start)","endTimeUnixNano":"\#(start + 900_000_000)","attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}}],"status":{}}"#]
            for k in 0..<(i % 4) {  // 0 to 3 calls a line
                let model = models[(i + k) % models.count]
                let failed = (i + k) % 7 == 0
                let input = 100 + i + k
                let error = failed ? #",{"key":"error.type","value":{"stringValue":"500"}}"# : ""
                spans.append(#"{"name":"chat \#(model)","kind":3,"startTimeUnixNano":"\#(start + Int64(k))","endTimeUnixNano":"\#(start + 500_000_000)","attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"\#(model)"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"\#(input)"}}\#(error)],"status":\#(failed ? #"{"code":2}"# : "{}")}"#)
                var t = truth[model, default: (0, 0, 0)]
                t.calls += 1
                t.failed += failed ? 1 : 0
                t.input += Int64(input)
                truth[model] = t
                records += 1
            }
            lines.append(#"{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"gw"},"spans":[\#(spans.joined(separator: ","))]}]}]}"# + "\n")
        }
        ws.writeLog("traces.jsonl", lines)
        let config = ws.writeConfig(redis: RedisServer.shared.url, source: "    format: otlp-json")
        let replay = try runAimon(["replay", "--config", config, ws.path("traces.jsonl")])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("600 lines, \(records) records, 0 bad, 150 not calls"), "\(replay.stdout)")
        let stats = try statsJSON(config: config, hours: 2)
        #expect(stats.count == models.count)
        for s in stats {
            let model = s["model_name"] as? String ?? ""
            let t = try #require(truth[model])
            #expect(Self.int(s["total_calls"]) == t.calls, "\(model)")
            #expect(Self.int((s["failure_classes"] as? [String: Any])?["provider_error"]) == t.failed, "\(model)")
            #expect(Self.int((s["tokens"] as? [String: Any])?["input"]) == t.input, "\(model)")
        }
    }

    /// `check-config --sample` tries each source's format on its log: a fitting one reports its
    /// records by class and the first record; one that fits no line fails the check (78).
    @Test func checkConfigSamplesTheLogWithEachSourcesFormat() throws {
        let ws = Workspace()
        var log = GatewayLog(format: .kong, seed: 5)
        ws.writeLog("gw.jsonl", (0..<200).map { log.line(at: 1_795_773_600 + Double($0)) })
        let good = ws.writeConfig(redis: RedisServer.shared.url, source: "    format: kong")
        let r = try runAimon(["check-config", "--config", good, "--sample", "50"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("sample of \(ws.path("gw.jsonl")): 50 lines: 50 records ("), "\(r.stdout)")
        #expect(r.stdout.contains("first record: model "), "\(r.stdout)")

        let wrong = ws.writeConfig(redis: RedisServer.shared.url, source: "    fields:\n      model_name: ai.model\n      status_code: response.status")
        let w = try runAimon(["check-config", "--config", wrong, "--sample", "50"])
        #expect(w.status == 78)
        #expect(w.stdout.contains("50 lines: 0 records, 50 bad (missing_model x50, first at line 1)"), "\(w.stdout)")
        #expect(w.stderr.contains("became a record: the source's format or fields do not fit that log"), "\(w.stderr)")
    }

    /// Two models through a Kong source: one refused with 400s (the callers' fault), one rate limited.
    /// Only the second is the model's failure: it alone raises alerts.
    @Test func clientErrorsRaiseNoAlertButRateLimitingDoes() throws {
        let ws = Workspace()
        let db = ws.path("alerts.db")
        let now = Date().timeIntervalSince1970
        var kong = GatewayLog(format: .kong, seed: 3)
        var lines: [String] = []
        for i in 0..<60 {
            let t = now - 60 + Double(i)
            lines.append(kong.line(at: t, model: "refused", outcome: i % 3 == 0 ? .success : .clientError))
            lines.append(kong.line(at: t, model: "limited", outcome: i % 3 == 0 ? .success : .rateLimited))
        }
        let config = ws.writeConfig(redis: RedisServer.shared.url, source: "    format: kong", extra: """
        alerts:
          database: sqlite://\(db)
          evaluate_interval: 1s
        """)
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        ws.writeLog("gw.jsonl", lines)
        // Both models are evaluated after the same commit: once "limited" fires, "refused" was judged.
        var rows: [AlertRow] = []
        let fired = try eventually(timeout: 30) {
            rows = (try? SQLiteAlertTable(path: db).list(AlertFilter())) ?? []
            return rows.contains { $0.model == "limited" && $0.alertType == "low_success_rate" }
        }
        #expect(fired, "alerts: \(rows.map { "\($0.alertType) \($0.model)" }); log: \((try? String(contentsOfFile: ws.path("aimon.log"), encoding: .utf8)) ?? "")")
        #expect(!rows.contains { $0.model == "refused" }, "\(rows.map { "\($0.alertType) \($0.model)" })")
        let stats = try statsJSON(config: config, hours: 1)
        let refused = try #require(stats.first { $0["model_name"] as? String == "refused" })
        #expect(Self.int(refused["counted_failures"]) == 0 && (refused["success_rate"] as? NSNumber)?.doubleValue == 1)
    }
}

/// `stats --by deployment`: each (model, deployment) pair of a log, exactly; the per-model and
/// all-models figures are those without deployments.
@Suite struct DeploymentReportTests {
    @Test func statsByDeploymentEqualsTheTruth() throws {
        let ws = Workspace()
        let now = Date().timeIntervalSince1970
        let deployments = ["azure-eastus", "azure-westeu", "openai"]
        var truth: [String: (calls: Int64, failed: Int64)] = [:]
        var lines: [String] = []
        for i in 0..<900 {
            let model = i % 2 == 0 ? "gpt-4o" : "gpt-4o-mini"
            let deployment = deployments[i % 3]
            let ok = !(deployment == "azure-westeu" && model == "gpt-4o")  // one deployment of one model fails
            lines.append("{\"timestamp\":\"\(AlertRow.timestamp(now - 900 + Double(i)))\",\"model_name\":\"\(model)\",\"success\":\(ok),\"response_time\":0.5,\"deployment\":\"\(deployment)\"}\n")
            var t = truth["\(model)|\(deployment)", default: (0, 0)]
            t.calls += 1
            t.failed += ok ? 0 : 1
            truth["\(model)|\(deployment)"] = t
        }
        ws.writeLog("gw.jsonl", lines)
        let config = ws.writeConfig(redis: RedisServer.shared.url)
        let replay = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(replay.status == 0, "\(replay.stderr)")
        let r = try runAimon(["stats", "--config", config, "--by", "deployment", "--json", "--hours", "2"])
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == truth.count, "\(r.stdout) \(r.stderr)")
        for row in rows {
            let key = "\(row["model_name"] as? String ?? "")|\(row["deployment"] as? String ?? "")"
            let t = try #require(truth[key], "\(key)")
            #expect(FormatIntegrationTests.int(row["total_calls"]) == t.calls, "\(key)")
            #expect(FormatIntegrationTests.int(row["failed_calls"]) == t.failed, "\(key)")
        }
        // Models and all models are counted once, as without deployments.
        let byModel = try statsJSON(config: config, hours: 2)
        #expect(Set(byModel.compactMap { $0["model_name"] as? String }) == ["gpt-4o", "gpt-4o-mini"])
        #expect(byModel.map { FormatIntegrationTests.int($0["total_calls"]) }.reduce(0, +) == 900)
        let system = try runAimon(["system", "--config", config, "--hours", "2", "--json"])
        let s = try JSONSerialization.jsonObject(with: Data(system.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(FormatIntegrationTests.int(s["total_calls"]) == 900)
        // One model's pairs, and the table.
        let one = try runAimon(["stats", "--config", config, "--by", "deployment", "--model", "gpt-4o", "--hours", "2"])
        #expect(one.stdout.contains("gpt-4o @ azure-westeu") && !one.stdout.contains("gpt-4o-mini"), "\(one.stdout)")
    }
}
