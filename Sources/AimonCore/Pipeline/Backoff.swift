/// Capped exponential backoff with full jitter (the AWS architecture blog's variant): spreads the
/// retries of many daemons that lost the same Redis at the same moment.
public struct Backoff: Sendable {
    public var base: Double
    public var cap: Double
    public private(set) var attempt = 0

    public init(base: Double = 0.1, cap: Double = 10) {
        self.base = base
        self.cap = cap
    }

    /// The next delay in seconds, in [0, min(cap, base * 2^attempt)].
    public mutating func next(random: Double = Double.random(in: 0...1)) -> Double {
        let ceiling = min(cap, base * Double(1 << min(attempt, 30)))
        attempt += 1
        return max(0.01, ceiling * random)
    }

    public mutating func reset() { attempt = 0 }
}
