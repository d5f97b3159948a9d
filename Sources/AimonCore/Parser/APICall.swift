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

    public var success: Bool { outcome == .success }

    /// `outcome` wins over `success`; `success: false` alone means a provider error (cause unknown).
    public init(
        timestamp: Double? = nil, userID: String? = nil, workOrderID: String? = nil, model: String,
        endpoint: String? = nil, success: Bool = true, outcome: CallOutcome? = nil, responseTime: Double? = nil,
        statusCode: Int? = nil, errorMessage: String? = nil, inputLength: Int = 0, outputLength: Int = 0
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
    }
}
