/// Where each record field comes from in a JSON-lines format: a preset's, or a source's `fields:`
/// (Docs/formats.md).
public struct FieldMapping: Equatable, Sendable {
    /// The record's fields, by their native names (the names `fields:` takes).
    public enum Field: String, CaseIterable, Sendable, Comparable {
        case timestamp, model = "model_name", userID = "user_id", workOrderID = "work_order_id", endpoint
        case statusCode = "status_code", responseTime = "response_time", errorMessage = "error_message"
        case inputLength = "input_length", outputLength = "output_length"
        case inputTokens = "input_tokens", outputTokens = "output_tokens", cachedInputTokens = "cached_input_tokens"
        case cost, ttft, deployment

        public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

        /// Fields that take a `unit`.
        public var isTime: Bool { self == .timestamp || isDuration }
        /// Durations: a number in a unit, or the span between two times.
        public var isDuration: Bool { self == .responseTime || self == .ttft }
    }

    /// One field's source: candidate paths, the first present wins; or, for a duration, the span
    /// between two times.
    public struct Source: Equatable, Sendable {
        public var paths: [JSONPath]
        /// Durations: s, ms, us (default s). Times: rfc3339, or epoch s, ms, us (default: RFC 3339
        /// text or epoch s/ms numbers, told apart by size).
        public var unit: TimeUnit?
        /// `response_time` as `end - start`, both times in `unit` (LiteLLM's startTime/endTime).
        public var span: Span?

        public struct Span: Equatable, Sendable {
            public var start: JSONPath
            public var end: JSONPath
            /// The duration exists only when `end` lies strictly before this time (LiteLLM writes a
            /// completionStartTime equal to endTime for a call that was not streamed: no TTFT).
            public var before: JSONPath?

            public init(start: JSONPath, end: JSONPath, before: JSONPath? = nil) {
                self.start = start
                self.end = end
                self.before = before
            }
        }

        public init(paths: [JSONPath], unit: TimeUnit? = nil, span: Span? = nil) {
            self.paths = paths
            self.unit = unit
            self.span = span
        }
    }

    /// How a custom mapping tells a success from a failure.
    public enum SuccessRule: Equatable, Sendable {
        /// Success when the field's value (as text: `true`, `200`, `ok`) is one of `values`.
        case values(path: JSONPath, values: [String])
        /// Success when `status_code` is in one of the ranges.
        case status([ClosedRange<Int>])
    }

    public var fields: [Field: Source]
    public var success: SuccessRule?

    public init(fields: [Field: Source] = [:], success: SuccessRule? = nil) {
        self.fields = fields
        self.success = success
    }

    /// `other`'s fields and rule replace this mapping's.
    public func overridden(by other: FieldMapping) -> FieldMapping {
        var m = self
        for (k, v) in other.fields { m.fields[k] = v }
        if let s = other.success { m.success = s }
        return m
    }

    /// Why this mapping cannot work, or nil. `classifies` says the format has its own success rule
    /// (a preset), so the mapping need not give one.
    public func problems(classifies: Bool) -> [(key: String, message: String)] {
        var out: [(String, String)] = []
        if fields[.model] == nil {
            out.append(("fields.model_name", "is missing: every record needs a model (a dotted path, e.g. body.model)"))
        }
        if !classifies && success == nil && fields[.statusCode] == nil {
            out.append(("fields", "cannot tell a failure from a success: map status_code, or give success: {field: PATH, values: [...]} or success: {status: [200-399]}"))
        }
        if case .status = success, fields[.statusCode] == nil {
            out.append(("success.status", "needs status_code in fields: the ranges are matched against it"))
        }
        if case let .values(_, values) = success, values.isEmpty {
            out.append(("success.values", "must list at least one value that means success"))
        }
        for (field, source) in fields {
            if source.unit != nil && !field.isTime {
                out.append(("fields.\(field.rawValue).unit", "only timestamp, response_time and ttft take a unit"))
            }
            if field.isDuration && source.unit == .rfc3339 && source.span == nil {
                out.append(("fields.\(field.rawValue).unit", "a duration is in s, ms or us; rfc3339 is for times (or for start and end)"))
            }
            if source.span != nil && !field.isDuration {
                out.append(("fields.\(field.rawValue)", "start and end make a duration: only response_time and ttft take them"))
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
