/// `prices:` USD per million tokens by model, for logs that carry tokens and no cost (nginx,
/// one-api): the cost of such a call is its tokens times the model's prices. A cost in the log wins.
public struct Prices: Equatable, Sendable {
    public struct Price: Equatable, Sendable {
        /// USD per million input tokens, output tokens, and cached input tokens (default: input).
        public var input: Double
        public var output: Double
        public var cachedInput: Double?
        public init(input: Double, output: Double, cachedInput: Double? = nil) {
            self.input = input
            self.output = output
            self.cachedInput = cachedInput
        }
    }

    public var byModel: [String: Price] = [:]
    public init(_ byModel: [String: Price] = [:]) { self.byModel = byModel }

    public var isEmpty: Bool { byModel.isEmpty }

    /// The cost of a call that has token counts and a priced model; nil otherwise. Cached input tokens
    /// are part of the input and are charged at their own price when one is given.
    public func cost(of call: APICall) -> Double? {
        guard let price = byModel[call.model], call.inputTokens != nil || call.outputTokens != nil else { return nil }
        let input = Double(call.inputTokens ?? 0), cached = Double(min(call.cachedInputTokens ?? 0, call.inputTokens ?? 0))
        let output = Double(call.outputTokens ?? 0)
        let usd = (input - cached) * price.input + cached * (price.cachedInput ?? price.input) + output * price.output
        // Held to the domain of one call's cost (RecordLimits.maxCost), as a logged cost is.
        return min(usd / 1_000_000, RecordLimits.maxCost)
    }
}
