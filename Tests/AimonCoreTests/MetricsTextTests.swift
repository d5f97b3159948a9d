import Testing
@testable import AimonCore

@Suite struct MetricsTextTests {
    @Test func countersHistogramsAndEscapedLabels() {
        var f = Telemetry.Figures()
        var c = BucketCounts()
        c.calls = 4
        c.successes = 2
        c.rateLimited = 1
        c.providerErrors = 1
        c.latencyCount = 3
        c.latencySumMicros = 1_500_000
        c.histogram[0] = 1  // <= 10 ms
        c.histogram[5] = 2  // <= 320 ms
        f.calls["we\"ird\\name\n"] = c
        var llm = BucketCounts()
        llm.add(APICall(model: "l", responseTime: 2, inputTokens: 100, outputTokens: 20, cachedInputTokens: 60, cost: 0.0125, ttft: 0.3))
        llm.add(APICall(model: "l", responseTime: 1, inputTokens: 10, cost: 0.0005))
        f.calls["l"] = llm
        f.ingest.lines = 10
        let text = MetricsText.render(f, version: "9.9")
        #expect(text.contains(#"aimon_calls_total{class="success",model="we\"ird\\name\n"} 2"#))
        #expect(text.contains(#"aimon_calls_total{class="rate_limited",model="we\"ird\\name\n"} 1"#))
        #expect(!text.contains(#"class="client_error""#))  // nothing to say: no series
        #expect(text.contains(#"aimon_call_duration_seconds_bucket{le="0.01",model="we\"ird\\name\n"} 1"#))
        #expect(text.contains(#"aimon_call_duration_seconds_bucket{le="0.32",model="we\"ird\\name\n"} 3"#))  // cumulative
        #expect(text.contains(#"aimon_call_duration_seconds_bucket{le="+Inf",model="we\"ird\\name\n"} 3"#))
        #expect(text.contains(#"aimon_call_duration_seconds_sum{model="we\"ird\\name\n"} 1.5"#))
        #expect(text.contains("aimon_log_lines_total 10\n"))
        #expect(text.contains("# TYPE aimon_call_duration_seconds histogram\n"))
        #expect(text.contains(#"aimon_build_info{version="9.9"} 1"#))
        #expect(text.contains(#"aimon_tokens_total{kind="input",model="l"} 110"#))
        #expect(text.contains(#"aimon_tokens_total{kind="cached_input",model="l"} 60"#))
        #expect(text.contains(#"aimon_cost_usd_total{model="l"} 0.013"#))
        #expect(text.contains(#"aimon_time_to_first_token_seconds_bucket{le="0.32",model="l"} 1"#))
        #expect(text.contains(#"aimon_time_to_first_token_seconds_bucket{le="0.16",model="l"} 0"#))
        #expect(text.contains(#"aimon_time_to_first_token_seconds_count{model="l"} 1"#))
        #expect(!text.contains(#"aimon_tokens_total{kind="input",model="we"#))  // no tokens: no series
    }

    @Test func healthSaysWhyNot() {
        let t = Telemetry()
        let s = HTTPService(config: .defaults(), telemetry: t, logger: quietLogger, staleAfter: { 4 })
        #expect(s.health(t.figures, now: 100) == (false, "Redis unreachable; starting"))
        t.update { $0.ingest.redisConnected = true; $0.ingestReady = true }
        t.beat("ingest", now: 99)
        t.beat("evaluation", now: 90)
        #expect(s.health(t.figures, now: 100) == (false, "the evaluation service has shown no progress for 10 s"))
        t.beat("evaluation", now: 99)
        #expect(s.health(t.figures, now: 100) == (true, "ok"))
        #expect(s.route(path: "/metrics", method: "POST").status == 405)
        #expect(s.route(path: "/x", method: "GET").status == 404)
    }
}
