/// One call the gateway made to a model provider: the seed's record (DESIGN.md), with its failure class.
public struct APICall: Equatable, Sendable {
    /// Event time, seconds since the epoch; nil when the line has none (ingest time is used then).
    public var timestamp: Double?
    public var userID: String?
    public var workOrderID: String?
    public var model: String
    public var endpoint: String?
    /// Success, or which kind of failure (CallOutcome.swift).
    public var outcome: CallOutcome
    /// Seconds; nil when the line has no latency.
    public var responseTime: Double?
    public var statusCode: Int?
    public var errorMessage: String?
    public var inputLength: Int
    public var outputLength: Int
    /// Tokens of the prompt and of the answer, and the part of the prompt a provider served from
    /// its cache; nil when the line has none (an average over calls without tokens is not zero).
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var cachedInputTokens: Int?
    /// USD, as the gateway computed it (or from `prices:`); nil when unknown.
    public var cost: Double?
    /// Seconds to the first token or chunk of a streamed call; nil for other calls.
    public var ttft: Double?
    /// The upstream that served the call: a provider, an `api_base`, an upstream address.
    public var deployment: String?

    public var success: Bool { outcome == .success }

    /// `outcome` wins over `success`; `success: false` alone means a provider error (cause unknown).
    public init(
        timestamp: Double? = nil, userID: String? = nil, workOrderID: String? = nil, model: String,
        endpoint: String? = nil, success: Bool = true, outcome: CallOutcome? = nil, responseTime: Double? = nil,
        statusCode: Int? = nil, errorMessage: String? = nil, inputLength: Int = 0, outputLength: Int = 0,
        inputTokens: Int? = nil, outputTokens: Int? = nil, cachedInputTokens: Int? = nil, cost: Double? = nil,
        ttft: Double? = nil, deployment: String? = nil
    ) {
        self.timestamp = timestamp
        self.userID = userID
        self.workOrderID = workOrderID
        self.model = model
        self.endpoint = endpoint
        self.outcome = outcome ?? (success ? .success : .providerError)
        self.responseTime = responseTime
        self.statusCode = statusCode
        self.errorMessage = errorMessage
        self.inputLength = inputLength
        self.outputLength = outputLength
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cost = cost
        self.ttft = ttft
        self.deployment = deployment
    }
}
