/// Why a log line was not turned into a record. Each reason is counted on its own.
public enum ParseFailure: String, Error, CaseIterable, Sendable {
    /// Not valid JSON (bad syntax, a raw control character in a string, trailing garbage).
    case invalidJSON = "invalid_json"
    /// The line ends inside the object: a cut-off write.
    case truncated
    /// Valid JSON, but not an object (an array, a string, a number...).
    case notAnObject = "not_an_object"
    /// Bytes that are not UTF-8.
    case invalidUTF8 = "invalid_utf8"
    /// A NUL byte in the line (often a sparse file after truncation, or a corrupt write).
    case nulByte = "nul_byte"
    /// No model name (absent, null or empty).
    case missingModel = "missing_model"
    /// A known field holds a value of the wrong type or out of range.
    case wrongType = "wrong_type"
    /// The timestamp is neither RFC 3339 nor epoch seconds or milliseconds (or is negative).
    case badTimestamp = "bad_timestamp"
    /// The timestamp is later than now plus `ingest.max_clock_skew`: a unit error (microseconds read
    /// as milliseconds), a client's clock, or junk. Believed, it would keep a failure run "recent"
    /// forever and give its buckets a TTL that never runs out.
    case futureTimestamp = "future_timestamp"
    /// The latency is negative, not a number, or over `ingest.max_latency`.
    case badLatency = "bad_latency"
    /// A token or length count that is negative, fractional or over 2^31 - 1.
    case badCount = "bad_count"
    /// A cost that is negative, not a number, or over 10,000 USD for one call.
    case badCost = "bad_cost"
    /// An HTTP status outside 0...999.
    case badStatus = "bad_status"
    /// A model name over 256 bytes (RecordLimits.maxModelBytes).
    case modelTooLong = "model_too_long"
    /// A line that is empty or only whitespace.
    case emptyLine = "empty_line"
    /// A valid record that is not an API call (one-api's top-ups and management rows): skipped, and
    /// counted apart from bad lines.
    case notACall = "not_a_call"
}
