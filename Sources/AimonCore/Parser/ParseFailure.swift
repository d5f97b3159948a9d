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
    /// The timestamp is neither RFC 3339 nor epoch seconds or milliseconds.
    case badTimestamp = "bad_timestamp"
    /// A line that is empty or only whitespace.
    case emptyLine = "empty_line"
    /// A valid record that is not an API call (one-api's top-ups and management rows): skipped, and
    /// counted apart from bad lines.
    case notACall = "not_a_call"
}
