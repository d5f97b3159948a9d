/// The domain of every value a record takes from a log (Docs/design.md, "Value domains").
///
/// A log is written by others: a client-supplied timestamp, milliseconds written as microseconds, a
/// proxy writing junk. A value outside its domain makes the line a bad line with its own reason
/// (`ParseFailure`), counted and sampled like any other; it never reaches arithmetic that can trap,
/// and never lands in a bucket no window reads. The parsers check what needs no clock (latency,
/// counts, status, model name); `WindowBatch.add` checks the time against now.
public struct RecordLimits: Equatable, Sendable {
    /// Latencies above this (seconds) are refused as `bad_latency` (`ingest.max_latency`).
    public var maxLatency: Double
    /// Timestamps later than now plus this (seconds) are refused as `future_timestamp`
    /// (`ingest.max_clock_skew`). Earlier than the hour-bucket retention is `late` (counted, dropped).
    public var maxClockSkew: Double

    public init(maxLatency: Double = 3600, maxClockSkew: Double = 300) {
        self.maxLatency = maxLatency
        self.maxClockSkew = maxClockSkew
    }

    public static let `default` = RecordLimits()

    /// The largest `ingest.max_latency` a configuration may set: one day. With it, the latency of one
    /// call is at most 8.64e10 µs, and an Int64 sum of them holds 1e8 calls before it saturates.
    public static let latencyCeiling: Double = 86_400
    /// The largest `ingest.max_clock_skew`: one day.
    public static let clockSkewCeiling: Double = 86_400
    /// Longer model names are refused as `model_too_long`: a name is a key part and a report row.
    public static let maxModelBytes = 256
    /// Token and length counts are at most 2^31 - 1 (`bad_count` beyond).
    public static let maxCount = Int(Int32.max)
    /// The cost of one call is at most 10,000 USD (`bad_cost` beyond): stored in nano-USD, an Int64
    /// sum holds 900,000 such calls before it saturates, and a billion of a dollar each.
    public static let maxCost = 10_000.0
    /// HTTP statuses are 0...999 (`bad_status` beyond); 0 is Envoy's "no response".
    public static let maxStatus = 999

    /// The latency, in seconds, if it lies in the domain.
    @inline(__always) func latency(_ seconds: Double) throws(ParseFailure) -> Double {
        guard seconds >= 0, seconds <= maxLatency else { throw .badLatency }  // NaN fails both
        return seconds
    }

    /// A cost in USD, if it lies in the domain.
    @inline(__always) static func cost(_ usd: Double) throws(ParseFailure) -> Double {
        guard usd >= 0, usd <= maxCost else { throw .badCost }  // NaN fails both
        return usd
    }

    /// The record's event time (`now` when it has none), if it is not later than now plus
    /// `maxClockSkew`.
    @inline(__always) public func eventTime(_ call: APICall, now: Double) throws(ParseFailure) -> Double {
        let time = call.timestamp ?? now
        guard time >= 0, time.isFinite else { throw .badTimestamp }
        guard time <= now + maxClockSkew else { throw .futureTimestamp }
        return time
    }

    @inline(__always) static func model(_ name: String) throws(ParseFailure) -> String {
        guard name.utf8.count <= maxModelBytes else { throw .modelTooLong }
        // U+001F separates a model from its deployment in stored names (`Deployment`).
        guard !name.utf8.contains(0x1F) else { throw .wrongType }
        return name
    }
}

extension Int64 {
    /// `value` rounded toward zero, clamped to Int64's range; NaN is 0. For values that come from
    /// outside (a log, Redis), where `Int64(_:)` would trap.
    @inline(__always) public init(clamping value: Double) {
        if value.isNaN { self = 0 }
        else if value >= 0x1p63 { self = .max }  // 2^63: the first Double past Int64.max
        else if value < -0x1p63 { self = .min }
        else { self = Int64(value) }
    }

    /// `self + other`, held at `.max` / `.min` instead of trapping: sums of figures read from Redis,
    /// which another writer (or an older aimon) may have pushed to the edge.
    @inline(__always) public func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, held at `.max` / `.min` instead of trapping.
    @inline(__always) public func subtractingSaturated(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
