/// The gateways aimon reads with one line of config (`format:`): where each record field lies in
/// their logs, and how each tells success from failure. Docs/formats.md describes every preset, with
/// the sources it was learnt from.
extension LogFormat {
    /// The preset's mapping (`native` included, so that `fields:` can be laid over it).
    public var mapping: FieldMapping {
        typealias F = FieldMapping.Source
        func p(_ paths: StaticString...) -> F { F(paths: paths.map { JSONPath($0) }) }
        func p(_ unit: TimeUnit, _ paths: StaticString...) -> F { F(paths: paths.map { JSONPath($0) }, unit: unit) }
        switch self {
        case .native:
            return FieldMapping(fields: [
                .timestamp: p("timestamp"), .model: p("model_name"), .userID: p("user_id"), .workOrderID: p("work_order_id"),
                .endpoint: p("endpoint"), .statusCode: p("status_code"), .responseTime: p(.seconds, "response_time"),
                .errorMessage: p("error_message"), .inputLength: p("input_length"), .outputLength: p("output_length"),
                .inputTokens: p("input_tokens"), .outputTokens: p("output_tokens"), .cachedInputTokens: p("cached_input_tokens"),
                .cost: p("cost"), .ttft: p(.seconds, "ttft"), .deployment: p("deployment"),
            ])
        case .litellm:
            // StandardLoggingPayload. response_time is the time to first token when streaming: the
            // latency is endTime - startTime. completionStartTime is the first chunk of a streamed
            // call, and equals endTime for the others (no TTFT then). The deployment is the
            // api_base that served the call (model_id, the deployment's id, without one).
            return FieldMapping(fields: [
                .timestamp: p(.seconds, "startTime"), .model: p("model_group", "model"),
                .userID: p("end_user", "metadata.user_api_key_user_id"), .endpoint: p("call_type"),
                .statusCode: p("error_information.error_code"),
                .responseTime: F(paths: [], unit: .seconds, span: .init(start: JSONPath("startTime"), end: JSONPath("endTime"))),
                .errorMessage: p("error_str"), .inputTokens: p("prompt_tokens"), .outputTokens: p("completion_tokens"),
                .cost: p("response_cost"),
                .ttft: F(paths: [], unit: .seconds, span: .init(start: JSONPath("startTime"), end: JSONPath("completionStartTime"),
                                                                 before: JSONPath("endTime"))),
                .deployment: p("api_base", "model_id"),
            ])
        case .nginx:
            // The log_format of Docs/formats.md; `status` is what the client got, request_time the
            // whole request (upstream retries included).
            return FieldMapping(fields: [
                .timestamp: p("time", "time_iso8601", "msec"), .model: p("model", "model_name"),
                .userID: p("user", "user_id"), .workOrderID: p("work_order", "work_order_id"), .endpoint: p("uri", "request_uri"),
                .statusCode: p("status", "upstream_status"), .responseTime: p(.seconds, "request_time"),
                .errorMessage: p("error", "error_message"),
                .inputTokens: p("input_tokens", "prompt_tokens"), .outputTokens: p("output_tokens", "completion_tokens"),
                .deployment: p("upstream_addr", "upstream"),  // the last try of a list
            ])
        case .kong:
            // file-log with the AI Proxy plugin: `ai.proxy` since Kong 3.9, `ai.<plugin name>` (e.g.
            // ai-proxy, ai-proxy-advanced) in 3.6-3.8, whose token counts were prompt_token/completion_token.
            // A call refused before the AI plugin ran (rate limiting, authentication) has no `ai`
            // object: it is counted under its route's name.
            return FieldMapping(fields: [
                .timestamp: p(.milliseconds, "started_at"), .model: p("ai.*.meta.request_model", "route.name"),
                .userID: p("consumer.username", "consumer.custom_id", "consumer.id"), .endpoint: p("request.uri"),
                .statusCode: p("response.status"), .responseTime: p(.milliseconds, "latencies.request"),
                .inputTokens: p("ai.*.usage.prompt_tokens", "ai.*.usage.prompt_token"),
                .outputTokens: p("ai.*.usage.completion_tokens", "ai.*.usage.completion_token"),
                .cost: p("ai.*.usage.cost"), .ttft: p(.milliseconds, "ai.*.usage.time_to_first_token"),
                .deployment: p("ai.*.meta.provider_name"),
            ])
        case .envoy:
            // Envoy AI Gateway's JSON access log (Envoy Gateway's default fields + genai_*).
            return FieldMapping(fields: [
                .timestamp: p("start_time"), .model: p("genai_model_name", "genai_model_name_override"),
                .userID: p("x-user-id", "user_id"), .endpoint: p("x-envoy-origin-path", "path"),
                .statusCode: p("response_code"), .responseTime: p(.milliseconds, "duration"),
                .errorMessage: p("upstream_transport_failure_reason", "response_code_details"),
                .inputTokens: p("genai_tokens_input"), .outputTokens: p("genai_tokens_output"),
                .deployment: p("upstream_host", "upstream_cluster"),
            ])
        case .otlpJSON:
            // Read by OTLPParser (spans, not one object per call): no field mapping, no `fields:`.
            return FieldMapping()
        case .openaiGateway:
            // one-api / new-api request log rows (`logs` table) as JSON lines.
            return FieldMapping(fields: [
                .timestamp: p(.seconds, "created_at"), .model: p("model_name"), .userID: p("user_id", "username"),
                .endpoint: p("token_name"), .responseTime: p(.seconds, "use_time"), .errorMessage: p("content"),
                .inputTokens: p("prompt_tokens"), .outputTokens: p("completion_tokens"),
                .deployment: p("channel_name", "channel_id", "channel"),
            ])
        }
    }

    /// How the preset classifies calls.
    var outcomeRule: OutcomeRule {
        switch self {
        case .native: return .native
        case .litellm: return .litellm
        case .otlpJSON: return .httpStatus  // OTLPParser classifies spans itself
        case .nginx, .kong: return .httpStatus
        case .envoy: return .envoy
        case .openaiGateway: return .oneAPI
        }
    }
}

/// How a format tells success and the failure classes apart. Pure functions of captured values.
enum OutcomeRule: Equatable, Sendable {
    /// The seed: `success` when present, else status < 400 and no error message.
    case native
    /// LiteLLM: `status` success/failure; the class from error_information (error_code, error_class)
    /// or a guardrail's intervention.
    case litellm
    /// The HTTP status alone (nginx, Kong).
    case httpStatus
    /// Envoy: response_code and response_flags.
    case envoy
    /// one-api: `type` 2 is a call that succeeded, 5 (new-api) one that failed; other types
    /// (top-ups, management) are not calls.
    case oneAPI
    /// A custom mapping's `success:` rule.
    case custom(FieldMapping.SuccessRule)

    /// Extra paths the rule reads, beyond the record's fields.
    var auxPaths: [JSONPath] {
        switch self {
        case .native: return [JSONPath("success")]
        case .litellm: return [JSONPath("status"), JSONPath("error_information.error_class"), JSONPath("status_fields.guardrail_status")]
        case .httpStatus: return []
        case .envoy: return [JSONPath("response_flags")]
        case .oneAPI: return [JSONPath("type")]
        case let .custom(rule):
            if case let .values(path, _) = rule { return [path] }
            return []
        }
    }
}
