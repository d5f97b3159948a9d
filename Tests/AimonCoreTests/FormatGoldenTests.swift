import Testing
@testable import AimonCore

/// One golden test per preset: every line of its fixture log against the record it must give.
@Suite struct FormatGoldenTests {
    typealias R = Result<APICall, ParseFailure>
    static let t0 = 1_795_773_600.0  // 2026-11-27T10:00:00Z

    @Test func litellm() {
        let t = Self.t0
        expectGolden("litellm", .preset(.litellm), [
            .success(APICall(timestamp: t, userID: "u-1", model: "gpt-4o", endpoint: "acompletion", outcome: .success,
                             responseTime: 2.5, inputTokens: 120, outputTokens: 80, cost: 0.00123, ttft: 0.4, deployment: "https://x.openai.azure.com")),
            .success(APICall(timestamp: t + 10, userID: "u-2", model: "gpt-4o", endpoint: "acompletion", outcome: .rateLimited,
                             responseTime: 0.25, statusCode: 429,
                             errorMessage: "litellm.RateLimitError: AzureException RateLimitError - Requests to the ChatCompletions_Create Operation have exceeded call rate limit.", inputTokens: 0, outputTokens: 0)),
            .success(APICall(timestamp: t + 20, userID: "bob", model: "claude-3-5-sonnet", endpoint: "acompletion", outcome: .providerError,
                             responseTime: 1, statusCode: 503, errorMessage: "litellm.ServiceUnavailableError: AnthropicException - Overloaded")),
            .success(APICall(timestamp: t + 30, model: "gpt-4o", endpoint: "acompletion", outcome: .providerError,
                             responseTime: 600, errorMessage: "litellm.Timeout: Connection timed out after 600.0 seconds.")),
            .success(APICall(timestamp: t + 40, userID: "carol", model: "gpt-4o", endpoint: "acompletion", outcome: .clientError,
                             responseTime: 0.1, statusCode: 400,
                             errorMessage: "litellm.ContextWindowExceededError: This model's maximum context length is 128000 tokens.")),
            .success(APICall(timestamp: t + 50, userID: "dave", model: "gpt-4o", endpoint: "acompletion", outcome: .clientError,
                             responseTime: 0.05, errorMessage: "Violated guardrail policy: {'error': 'Blocked: PII detected'}")),
            .success(APICall(timestamp: t + 60, userID: "erin", model: "text-embedding-3-small", endpoint: "aembedding", outcome: .success,
                             responseTime: 0.75, inputTokens: 12)),
            .success(APICall(timestamp: t + 70.5, model: "llama3", endpoint: "acompletion", outcome: .providerError, responseTime: 5,
                             errorMessage: "litellm.APIConnectionError: OllamaException - [Errno 111] Connection refused")),
            .success(APICall(timestamp: t + 80, userID: "u-3", model: "gpt-4o-mini", endpoint: "completion", outcome: .success,
                             responseTime: 1, inputTokens: 5, outputTokens: 7)),
            .success(APICall(timestamp: t + 90, model: "gpt-4o-mini", outcome: .success, inputTokens: 5)),
            .failure(.missingModel),
            // Not streamed (completionStartTime = endTime): no TTFT; a failure costs 0; streamed: TTFT.
            .success(APICall(timestamp: t + 100, model: "gpt-4o", endpoint: "acompletion", outcome: .success, responseTime: 3,
                             inputTokens: 300, outputTokens: 150, cost: 0.0042, deployment: "https://api.openai.com")),
            .success(APICall(timestamp: t + 110, model: "gpt-4o", endpoint: "acompletion", outcome: .providerError, responseTime: 2,
                             statusCode: 500, errorMessage: "litellm.InternalServerError: boom", inputTokens: 0, outputTokens: 0, cost: 0,
                             deployment: "d3")),
            .success(APICall(timestamp: t + 120, model: "claude-3-5-sonnet", endpoint: "acompletion", outcome: .success, responseTime: 4,
                             inputTokens: 10, outputTokens: 90, cost: 0.0001, ttft: 0.25, deployment: "https://api.anthropic.com")),
        ])
    }

    @Test func nginx() {
        let t = Self.t0
        expectGolden("nginx", .preset(.nginx), [
            .success(APICall(timestamp: t, userID: "alice", workOrderID: "WO-17", model: "gpt-4o", endpoint: "/v1/chat/completions",
                             outcome: .success, responseTime: 1.234, statusCode: 200, inputTokens: 120, outputTokens: 80)),
            .success(APICall(timestamp: t + 1, model: "gpt-4o", endpoint: "/v1/chat/completions", outcome: .providerError,
                             responseTime: 30.51, statusCode: 502)),
            .success(APICall(timestamp: t + 2, userID: "bob", model: "gpt-4o-mini", endpoint: "/v1/chat/completions", outcome: .rateLimited,
                             responseTime: 0.003, statusCode: 429)),
            .success(APICall(timestamp: t + 3, model: "text-embedding-3-small", endpoint: "/v1/embeddings", outcome: .clientError,
                             responseTime: 0.001, statusCode: 401)),
            .success(APICall(timestamp: t + 4, userID: "carol", model: "claude-3-5-sonnet", endpoint: "/v1/chat/completions",
                             outcome: .clientError, responseTime: 12, statusCode: 499)),
            .success(APICall(timestamp: t + 5.123, userID: "dave", model: "gpt-4o", endpoint: "/v1/chat/completions", outcome: .success,
                             responseTime: 0.5, statusCode: 200)),
            .success(APICall(timestamp: t + 6, model: "llama3", endpoint: "/v1/chat/completions", outcome: .providerError,
                             responseTime: 60.001, statusCode: 504,
                             errorMessage: "upstream timed out (110: Connection timed out) while reading response header from upstream")),
            .failure(.missingModel),
            .success(APICall(timestamp: t + 8, userID: "xé", workOrderID: "12345", model: "gpt-4o", endpoint: "/v1/chat/completions",
                             outcome: .success, responseTime: 0.25, statusCode: 200, inputTokens: 50, outputTokens: 25)),
            // Retried: the deployment is the last upstream, which answered.
            .success(APICall(timestamp: t + 9, model: "gpt-4o", endpoint: "/v1/chat/completions", outcome: .success, responseTime: 1.5,
                             statusCode: 200, deployment: "10.0.0.2:443")),
        ])
    }

    @Test func kong() {
        let t = Self.t0
        expectGolden("kong", .preset(.kong), [
            .success(APICall(timestamp: t, userID: "team-a", model: "gpt-4o", endpoint: "/openai/chat", outcome: .success,
                             responseTime: 1.532, statusCode: 200, inputTokens: 28, outputTokens: 20, cost: 0.0038, deployment: "openai")),
            .success(APICall(timestamp: t + 1, userID: "team-b", model: "command", endpoint: "/cohere/chat", outcome: .success,
                             responseTime: 2.7, statusCode: 200, inputTokens: 89, outputTokens: 56, cost: 0.0012, deployment: "cohere")),
            .success(APICall(timestamp: t + 2, userID: "ext-7", model: "gpt-35-turbo", endpoint: "/azure/chat", outcome: .success,
                             responseTime: 4.95, statusCode: 200, inputTokens: 10, outputTokens: 5, deployment: "azure")),
            .success(APICall(timestamp: t + 3, userID: "team-a", model: "openai-chat", endpoint: "/openai/chat", outcome: .rateLimited,
                             responseTime: 0.001, statusCode: 429)),
            .success(APICall(timestamp: t + 4, model: "openai-chat", endpoint: "/openai/chat", outcome: .clientError,
                             responseTime: 0, statusCode: 401)),
            .success(APICall(timestamp: t + 5, userID: "team-a", model: "gpt-4o", endpoint: "/openai/chat", outcome: .providerError,
                             responseTime: 0.31, statusCode: 502, deployment: "openai")),
            .success(APICall(timestamp: t + 6, model: "gpt-4o", endpoint: "/openai/chat", outcome: .providerError,
                             responseTime: 60, statusCode: 504, inputTokens: 0, outputTokens: 0)),
            .success(APICall(timestamp: t + 7, userID: "team-c", model: "claude-3-5-sonnet", endpoint: "/anthropic/chat", outcome: .success,
                             responseTime: 4.2, statusCode: 200, inputTokens: 40, outputTokens: 400, cost: 0.0061, ttft: 0.35,
                             deployment: "anthropic")),
        ])
    }

    @Test func envoy() {
        let t = Self.t0
        let path = "/v1/chat/completions"
        expectGolden("envoy", .preset(.envoy), [
            .success(APICall(timestamp: t + 0.123, model: "gpt-4o-mini", endpoint: path, outcome: .success, responseTime: 1.532,
                             statusCode: 200, inputTokens: 44, outputTokens: 12, deployment: "192.168.5.2:11434")),
            .success(APICall(timestamp: t + 1, model: "gpt-4o", endpoint: path, outcome: .providerError, responseTime: 60,
                             statusCode: 504, errorMessage: "upstream_response_timeout")),
            .success(APICall(timestamp: t + 2, model: "llama3", endpoint: path, outcome: .providerError, responseTime: 0.025,
                             statusCode: 503, errorMessage: "delayed connect error: 111")),
            .success(APICall(timestamp: t + 3, model: "gpt-4o", endpoint: path, outcome: .rateLimited, responseTime: 0.001,
                             statusCode: 429, errorMessage: "request_rate_limited")),
            .success(APICall(timestamp: t + 4, model: "gpt-4o", endpoint: path, outcome: .clientError, responseTime: 0.04,
                             statusCode: 400, errorMessage: "via_upstream")),
            // A 200 whose stream the provider reset after the headers: a provider error (Docs/formats.md).
            .success(APICall(timestamp: t + 5, model: "gpt-4o", endpoint: path, outcome: .providerError, responseTime: 8,
                             statusCode: 200, errorMessage: "upstream_reset_after_response_started{remote_reset}", inputTokens: 100)),
            .success(APICall(timestamp: t + 6, model: "claude-3-5-sonnet", endpoint: path, outcome: .clientError, responseTime: 15,
                             statusCode: 0, errorMessage: "downstream_remote_disconnect")),
            .success(APICall(timestamp: t + 7, userID: "mallory", model: "gpt-4o", endpoint: path, outcome: .clientError,
                             responseTime: 0.002, statusCode: 401, errorMessage: "ext_authz_denied")),
            .success(APICall(timestamp: t + 8, model: "qwen2.5:0.5b", endpoint: path, outcome: .success, responseTime: 0.9,
                             statusCode: 200, inputTokens: 7, outputTokens: 3)),
        ])
    }

    @Test func openaiGateway() {
        let t = Self.t0
        expectGolden("openai-gateway", .preset(.openaiGateway), [
            .success(APICall(timestamp: t, userID: "1", model: "gpt-4o", endpoint: "ci-token", outcome: .success, responseTime: 3, inputTokens: 100, outputTokens: 50, deployment: "2")),
            .failure(.notACall),
            .success(APICall(timestamp: t + 2, userID: "2", model: "gpt-4o-mini", endpoint: "web", outcome: .rateLimited, responseTime: 1,
                             errorMessage: "status_code=429, rate limit reached for requests", inputTokens: 0, outputTokens: 0, deployment: "3")),
            .success(APICall(timestamp: t + 3, userID: "2", model: "claude-3-5-sonnet", endpoint: "web", outcome: .providerError,
                             responseTime: 30,
                             errorMessage: #"upstream error: do request failed: Post "https://api.example.com/v1/chat/completions": EOF"#, inputTokens: 0, outputTokens: 0, deployment: "4")),
            .success(APICall(timestamp: t + 4, userID: "3", model: "text-embedding-3-small", endpoint: "batch", outcome: .success,
                             responseTime: 0, inputTokens: 16, outputTokens: 0)),
            .success(APICall(timestamp: t + 5, userID: "dave", model: "gpt-4o", outcome: .success, responseTime: 2, inputTokens: 10, outputTokens: 20)),
            .failure(.notACall),
            .success(APICall(timestamp: t + 7, userID: "4", model: "gpt-4", outcome: .clientError, responseTime: 0,
                             errorMessage: "invalid_request_error: This model's maximum context length is 8192 tokens")),
        ])
    }

    /// otlp-json: every GenAI span of a line is a call; a line without one is not a call.
    @Test func otlpJSON() {
        let t = Self.t0
        let parser = OTLPParser()
        let got: [Result<[APICall], ParseFailure>] = FormatFixtures.lines("otlp-json").map { line in
            Array(line.utf8).withUnsafeBufferPointer { buf in
                var out: [APICall] = []
                do throws(ParseFailure) { try parser.parseAll(buf, into: &out); return .success(out) } catch { return .failure(error) }
            }
        }
        let want: [Result<[APICall], ParseFailure>] = [
            .success([
                APICall(timestamp: t, model: "gpt-4o", endpoint: "chat", outcome: .success, responseTime: 1.25, inputTokens: 120, outputTokens: 80,
                        deployment: "api.openai.com"),
                APICall(timestamp: t + 1, model: "claude-3-5-sonnet", endpoint: "chat", outcome: .providerError, responseTime: 30,
                        errorMessage: "Request timed out.", deployment: "api.anthropic.com"),
            ]),
            .failure(.notACall),
            .success([
                APICall(timestamp: t + 3, model: "gpt-4o-mini", outcome: .rateLimited, responseTime: 0.2, statusCode: 429, errorMessage: "429"),
                APICall(timestamp: t + 4, model: "text-embedding-3-small", endpoint: "embeddings", outcome: .success, responseTime: 0.05, inputTokens: 12),
            ]),
            .failure(.badTimestamp),
            .failure(.notAnObject),
            .success([
                APICall(timestamp: t + 7, userID: "alice", model: "gpt-4o", outcome: .clientError, responseTime: 0.5,
                        errorMessage: "invalid_request_error: context_length_exceeded", inputTokens: 2000, outputTokens: 0, cachedInputTokens: 1500),
            ]),
        ]
        #expect(got.count == want.count)
        for (i, (g, w)) in zip(got, want).enumerated() {
            switch (g, w) {
            case let (.success(a), .success(b)):
                #expect(a.count == b.count && zip(a, b).allSatisfy { sameRecord($0, $1) }, "line \(i + 1):\n got  \(a)\n want \(b)")
            case let (.failure(a), .failure(b)): #expect(a == b, "line \(i + 1)")
            default: Issue.record("line \(i + 1): got \(g), want \(w)")
            }
        }
    }

    static let nativeExpected: [R] = [
        .success(APICall(timestamp: t0, userID: "u1", workOrderID: "42", model: "gpt-4o", endpoint: "/v1/chat/completions",
                         outcome: .success, responseTime: 1.25, statusCode: 200, inputLength: 120, outputLength: 80)),
        .success(APICall(timestamp: t0 + 1, userID: "u2", model: "gpt-4o", outcome: .rateLimited, responseTime: 0.2, statusCode: 429,
                         errorMessage: "Rate limit exceeded", inputLength: 10)),
        .success(APICall(timestamp: t0 + 2.5, model: "gpt-4o", outcome: .providerError, statusCode: 503, errorMessage: "upstream overloaded")),
        .success(APICall(timestamp: t0 + 3, model: "claude", outcome: .clientError, statusCode: 400,
                         errorMessage: "invalid request: messages must not be empty")),
        .success(APICall(timestamp: t0 + 4, model: "claude", outcome: .providerError, errorMessage: "connection reset by peer")),
        .success(APICall(timestamp: t0 + 5, model: "claude", outcome: .clientError, errorMessage: "Request blocked by guardrail")),
        .success(APICall(model: "m", outcome: .success, statusCode: 204)),
        .success(APICall(model: "m", outcome: .success)),
        .success(APICall(timestamp: t0 + 30, model: "gpt-4o", outcome: .success, responseTime: 2, inputTokens: 1000, outputTokens: 200,
                         cachedInputTokens: 800, cost: 0.0035, ttft: 0.42, deployment: "azure-eastus")),
        .failure(.badCost),
        .failure(.badLatency),
        .failure(.badCount),
    ]

    @Test func native() {
        expectGolden("native", .preset(.native), Self.nativeExpected)
    }

    /// The native preset through the mapped parser (as `fields:` over it would run) reads the same.
    @Test func nativeThroughTheMappedParser() {
        let mapped = SourceFormat(preset: .native, custom: FieldMapping(fields: [.model: .init(paths: [JSONPath("model_name")])]))
        #expect(mapped.makeParser() is MappedParser)
        expectGolden("native", mapped, Self.nativeExpected)
    }
}
