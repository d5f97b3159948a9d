import AimonCore

/// A deterministic generator of gateway logs in each preset's format (the shapes of the fixture logs
/// under Tests/AimonCoreTests/Fixtures/formats), with the truth per model: for the format benchmark
/// and the end-to-end format tests.
public struct GatewayLog {
    public struct Truth: Equatable {
        public var calls: Int64 = 0
        public var byOutcome: [CallOutcome: Int64] = [:]
        /// LiteLLM only: tokens, cost (nano-USD, as stored) and time to first token (µs, as stored)
        /// of the calls that carried them.
        public var tokenCalls: Int64 = 0
        public var inputTokens: Int64 = 0
        public var outputTokens: Int64 = 0
        public var costCalls: Int64 = 0
        public var costNanos: Int64 = 0
        public var ttftCount: Int64 = 0
        public var ttftMicros: Int64 = 0
        public init() {}
    }

    /// USD per token (input, output) as LiteLLM's price map gives them; a model without a price
    /// (self-hosted) costs 0, as LiteLLM logs it.
    public static let prices: [String: (Double, Double)] = [
        "gpt-4o": (2.5e-6, 10e-6), "gpt-4o-mini": (0.15e-6, 0.6e-6), "claude-3-5-sonnet": (3e-6, 15e-6), "mistral-large": (2e-6, 6e-6),
    ]

    public let format: LogFormat
    public var models: [String]
    private var rng: SplitMix64
    public private(set) var truth: [String: Truth] = [:]
    /// Lines that are not calls (one-api top-ups): every 50th line of that format.
    public private(set) var notCalls = 0
    private var count = 0

    public init(format: LogFormat, seed: UInt64 = 7, models: [String] = SampleLog.defaultModels) {
        self.format = format
        self.models = models
        rng = SplitMix64(seed: seed)
    }

    /// The mix of outcomes: 94% success, 2% each of the failure classes... (per 100 calls).
    private mutating func nextOutcome() -> (CallOutcome, Int) {
        switch rng.next() % 100 {
        case 0, 1: return (.clientError, [400, 401, 404, 422][Int(rng.next() % 4)])
        case 2, 3: return (.rateLimited, 429)
        case 4, 5: return (.providerError, [500, 502, 503, 504][Int(rng.next() % 4)])
        default: return (.success, 200)
        }
    }

    /// One line (with its newline) for a call at `time`.
    public mutating func line(at time: Double, model forced: String? = nil, outcome forcedOutcome: CallOutcome? = nil) -> String {
        count += 1
        if format == .openaiGateway && count % 50 == 0 {
            notCalls += 1
            return "{\"id\":\(count),\"user_id\":1,\"created_at\":\(Int64(time)),\"type\":1,\"content\":\"top-up of $10.00\",\"username\":\"root\",\"token_name\":\"\",\"model_name\":\"\",\"quota\":500000,\"prompt_tokens\":0,\"completion_tokens\":0,\"use_time\":0}\n"
        }
        let model = forced ?? models[Int(rng.next() % UInt64(models.count))]
        var (outcome, status) = nextOutcome()
        if let forcedOutcome {
            outcome = forcedOutcome
            status = [.success: 200, .clientError: 400, .rateLimited: 429, .providerError: 503][forcedOutcome]!
        }
        let u = rng.nextDouble()
        let latency = ((0.2 + 2.8 * u * u) * 1000).rounded() / 1000
        let user = "user-\(rng.next() % 600)"
        let input = rng.next() % 4000, output = outcome == .success ? rng.next() % 2000 : 0
        var t = truth[model, default: Truth()]
        t.calls += 1
        t.byOutcome[outcome, default: 0] += 1
        truth[model] = t
        let ok = outcome == .success
        let ms = Int64((latency * 1000).rounded())
        switch format {
        case .native:
            return "{\"timestamp\":\"\(SampleLog.rfc3339(time))\",\"user_id\":\"\(user)\",\"model_name\":\"\(model)\",\"endpoint\":\"/v1/chat/completions\",\"success\":\(ok),\"response_time\":\(latency),\"status_code\":\(status),\"error_message\":\(ok ? "null" : "\"HTTP \(status) from provider\""),\"input_length\":\(input),\"output_length\":\(output)}\n"
        case .litellm:
            // As the proxy logs them: a failure has 0 tokens and costs 0; an unpriced model costs 0;
            // a streamed call's completionStartTime is its first chunk, the others' is endTime.
            let (prompt, completion) = ok ? (input, output) : (0, 0)
            let price = Self.prices[model]
            let cost = price.map { Double(prompt) * $0.0 + Double(completion) * $0.1 } ?? 0
            let streamed = rng.next() % 3 == 0
            let end = time + latency
            let firstChunk = streamed ? time + ((latency * (0.1 + 0.5 * rng.nextDouble())) * 1000).rounded() / 1000 : end
            var tr = truth[model]!
            tr.tokenCalls += 1
            tr.inputTokens += Int64(prompt)
            tr.outputTokens += Int64(completion)
            tr.costCalls += 1
            tr.costNanos += BucketCounts.nanos(cost)
            if firstChunk < end {
                tr.ttftCount += 1
                tr.ttftMicros += Int64(clamping: ((firstChunk - time) * 1_000_000).rounded())
            }
            truth[model] = tr
            let error = ok ? "\"error_str\":null,\"error_information\":null"
                : "\"error_str\":\"litellm.APIError: provider returned \(status)\",\"error_information\":{\"error_code\":\"\(status)\",\"error_class\":\"APIError\",\"llm_provider\":\"openai\"}"
            return "{\"id\":\"chatcmpl-\(count)\",\"trace_id\":\"\(rng.next() % 1_000_000_000)\",\"call_type\":\"acompletion\",\"stream\":\(streamed),\"response_cost\":\(cost),\"status\":\"\(ok ? "success" : "failure")\",\"status_fields\":{\"llm_api_status\":\"\(ok ? "success" : "failure")\",\"guardrail_status\":\"not_run\"},\"total_tokens\":\(prompt + completion),\"prompt_tokens\":\(prompt),\"completion_tokens\":\(completion),\"startTime\":\(time),\"endTime\":\(end),\"completionStartTime\":\(firstChunk),\"response_time\":\(latency),\"model_map_information\":{\"model_map_key\":\"\(model)\",\"model_map_value\":null},\"model\":\"openai/\(model)\",\"model_id\":\"deployment-\(model)\",\"model_group\":\"\(model)\",\"custom_llm_provider\":\"openai\",\"api_base\":\"https://api.openai.com/v1\",\"metadata\":{\"user_api_key_hash\":\"88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b\",\"user_api_key_alias\":null,\"user_api_key_team_id\":\"team-1\",\"user_api_key_org_id\":null,\"user_api_key_user_id\":\"\(user)\",\"user_api_key_team_alias\":\"platform\",\"spend_logs_metadata\":null,\"requester_ip_address\":\"10.0.0.12\",\"requester_metadata\":{}},\"cache_hit\":false,\"cache_key\":null,\"saved_cache_cost\":0.0,\"request_tags\":[\"prod\"],\"end_user\":null,\"requester_ip_address\":\"10.0.0.12\",\"messages\":\"redacted-by-litellm\",\"response\":\"redacted-by-litellm\",\(error),\"model_parameters\":{\"temperature\":0.2,\"max_tokens\":1024},\"hidden_params\":{\"model_id\":\"deployment-\(model)\",\"cache_key\":null,\"api_base\":\"https://api.openai.com/v1\",\"response_cost\":\"\(cost)\",\"additional_headers\":{\"x_ratelimit_remaining_requests\":4999,\"x_ratelimit_remaining_tokens\":799000}}}\n"
        case .nginx:
            let upstream = outcome == .providerError ? "\"504, \(status)\"" : "\"\(status)\""
            return "{\"time\":\"\(SampleLog.rfc3339(time))\",\"request_id\":\"\(rng.next() % 1_000_000_000)\",\"status\":\(status),\"request_time\":\(latency),\"upstream_status\":\(upstream),\"upstream_response_time\":\"\(latency)\",\"uri\":\"/v1/chat/completions\",\"model\":\"\(model)\",\"user\":\"\(user)\",\"work_order\":\"-\",\"input_tokens\":\"\(input)\",\"output_tokens\":\"\(output)\"}\n"
        case .kong:
            return "{\"workspace\":\"b4a1e9a2\",\"upstream_uri\":\"/v1/chat/completions\",\"client_ip\":\"10.0.0.7\",\"started_at\":\(Int64(time * 1000)),\"tries\":[{\"ip\":\"162.159.140.245\",\"port\":443,\"balancer_latency\":0}],\"request\":{\"id\":\"\(rng.next() % 1_000_000_000)\",\"uri\":\"/openai/chat\",\"method\":\"POST\",\"size\":323,\"querystring\":{},\"headers\":{\"content-type\":\"application/json\",\"user-agent\":\"openai-python/1.40\"}},\"response\":{\"status\":\(status),\"size\":1109,\"headers\":{\"content-type\":\"application/json\"}},\"latencies\":{\"request\":\(ms),\"kong\":3,\"proxy\":\(max(ms - 3, 0))},\"consumer\":{\"username\":\"\(user)\",\"id\":\"c-1\"},\"route\":{\"name\":\"openai-chat\",\"paths\":[\"/openai/chat\"]},\"service\":{\"name\":\"openai\"},\"ai\":{\"proxy\":{\"meta\":{\"request_model\":\"\(model)\",\"response_model\":\"\(model)\",\"provider_name\":\"openai\",\"plugin_id\":\"p-1\",\"llm_latency\":\(ms)},\"usage\":{\"prompt_tokens\":\(input),\"completion_tokens\":\(output),\"total_tokens\":\(input + output),\"cost\":0.0038}}}}\n"
        case .envoy:
            let flags = outcome == .providerError ? (status == 504 ? "UT" : "UF,URX") : outcome == .rateLimited ? "RL" : "-"
            let tokens = ok ? "\"genai_tokens_input\":\(input),\"genai_tokens_output\":\(output)" : "\"genai_tokens_input\":null,\"genai_tokens_output\":null"
            return "{\"start_time\":\"\(SampleLog.rfc3339(time))\",\"method\":\"POST\",\"x-envoy-origin-path\":\"/v1/chat/completions\",\"protocol\":\"HTTP/1.1\",\"response_code\":\(status),\"response_flags\":\"\(flags)\",\"response_code_details\":\"via_upstream\",\"upstream_transport_failure_reason\":\"-\",\"bytes_received\":159,\"bytes_sent\":334,\"duration\":\(ms),\"x-forwarded-for\":\"10.0.0.1\",\"user-agent\":\"openai-python/1.40\",\"x-request-id\":\"\(rng.next() % 1_000_000_000)\",\"upstream_host\":\"10.1.2.3:443\",\"upstream_cluster\":\"httproute/default/aigw/rule/0\",\"genai_model_name\":\"\(model)\",\"genai_backend_name\":\"default/openai/route/aigw/rule/0/ref/0\",\(tokens)}\n"
        case .otlpJSON:
            // A trace as the Collector's file exporter writes it: the gateway's HTTP server span (not a
            // call) and the GenAI client span (a call), 64-bit integers as strings.
            let startNano = Int64(time * 1000) * 1_000_000
            let endNano = startNano + Int64((latency * 1000).rounded()) * 1_000_000
            let trace = String(rng.next(), radix: 16)
            let errorAttr = ok ? "" : ",{\"key\":\"error.type\",\"value\":{\"stringValue\":\"\(status)\"}}"
            let statusObj = ok ? "{}" : "{\"code\":2,\"message\":\"HTTP \(status) from provider\"}"
            let server = "{\"traceId\":\"\(trace)\",\"spanId\":\"a1\",\"name\":\"POST /v1/chat/completions\",\"kind\":2,\"startTimeUnixNano\":\"\(startNano)\",\"endTimeUnixNano\":\"\(endNano)\",\"attributes\":[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"POST\"}},{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"\(status)\"}}],\"status\":{}}"
            let client = "{\"traceId\":\"\(trace)\",\"spanId\":\"b2\",\"parentSpanId\":\"a1\",\"name\":\"chat \(model)\",\"kind\":3,\"startTimeUnixNano\":\"\(startNano)\",\"endTimeUnixNano\":\"\(endNano)\",\"attributes\":[{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"\(model)\"}},{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"\(input)\"}},{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":\"\(output)\"}},{\"key\":\"server.address\",\"value\":{\"stringValue\":\"api.openai.com\"}}\(errorAttr)],\"status\":\(statusObj)}"
            return "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"llm-gateway\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"opentelemetry.instrumentation.openai\"},\"spans\":[\(server),\(client)]}]}]}\n"
        case .openaiGateway:
            // These gateways log successful calls; new-api also logs failures as type 5.
            let type = ok ? 2 : 5
            // Their error rows carry only a message: its words tell the class.
            let content = ok ? "model ratio 2.50, completion ratio 4.00"
                : outcome == .rateLimited ? "rate limit reached for requests (status 429)"
                : outcome == .clientError ? "invalid_request_error: bad request (status \(status))"
                : "upstream error: do request failed (status \(status))"
            return "{\"id\":\(count),\"user_id\":\(rng.next() % 600),\"created_at\":\(Int64(time)),\"type\":\(type),\"content\":\"\(content)\",\"username\":\"\(user)\",\"token_name\":\"default\",\"model_name\":\"\(model)\",\"quota\":\(input + output),\"prompt_tokens\":\(input),\"completion_tokens\":\(output),\"use_time\":\(Int(latency.rounded(.up))),\"is_stream\":false,\"channel\":2,\"group\":\"default\"}\n"
        }
    }
}
