/// What became of one call, as far as the model's health goes (Docs/formats.md, "Failure classes").
///
/// Not every failed call is the model's fault: a bad request or a guardrail block says nothing about
/// the provider, while a 5xx or a timeout does. Each format's parser classifies its records; each
/// source decides which classes count as failures in the rules (`FailurePolicy`).
public enum CallOutcome: UInt8, CaseIterable, Sendable, Comparable {
    case success
    /// The caller's request was refused: 400, 401, 403, 404, 413, 422, other 4xx, guardrail blocks.
    case clientError
    /// 429: the provider (or the gateway) is shedding load.
    case rateLimited
    /// 408, 5xx, timeouts, connection failures, and failures of unknown cause.
    case providerError

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The name used in the configuration, JSON reports and Docs.
    public var name: String {
        switch self {
        case .success: return "success"
        case .clientError: return "client_error"
        case .rateLimited: return "rate_limited"
        case .providerError: return "provider_error"
        }
    }

    public init?(name: String) {
        guard let v = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = v
    }

    /// The class of an HTTP status: below 400 a success (1xx upgrades and 3xx included), 429 rate
    /// limited, 408 and 5xx provider errors, any other 4xx a client error (nginx's 499, the client
    /// closing the connection, included). Codes outside 100...599 (Envoy's 0: no response) are
    /// provider errors.
    @inline(__always) public static func of(status: Int) -> CallOutcome {
        switch status {
        case 100..<400: return .success
        case 429: return .rateLimited
        case 408: return .providerError
        case 400..<500: return .clientError
        default: return .providerError
        }
    }

    /// The class of a call known to have failed: by its status when that says failure, else by the
    /// words of its error message, else a provider error (a failure of unknown cause is assumed to be
    /// the provider's: the rules would rather see it).
    public static func ofFailure(status: Int?, message: UnsafeBufferPointer<UInt8>?) -> CallOutcome {
        if let status, case let c = of(status: status), c != .success { return c }
        if let message, let c = FailureWords.classify(message) { return c }
        return .providerError
    }
}

/// Which classes count as failures in the rules (success rate, error rate, failures in a row, hourly
/// failures). Calls of the other failure classes are left out of those figures altogether: neither
/// failures nor successes. Set per source with `count_as_failure:`.
public struct FailurePolicy: Equatable, Sendable {
    /// Bit per `CallOutcome` raw value.
    private var mask: UInt8

    public init(_ classes: Set<CallOutcome>) {
        mask = 0
        for c in classes where c != .success { mask |= 1 << c.rawValue }
    }

    /// Provider errors and rate limiting count; client errors are not the model's failure.
    public static let `default` = FailurePolicy([.providerError, .rateLimited])

    @inline(__always) public func counts(_ outcome: CallOutcome) -> Bool { mask & (1 << outcome.rawValue) != 0 }

    public var classes: [CallOutcome] { CallOutcome.allCases.filter(counts) }
}

/// Words in error messages that tell a failure's class when no status does (LiteLLM's error_str,
/// one-api's content...). Matched case-insensitively, without allocating.
enum FailureWords {
    static let rateLimited: [[UInt8]] = ["rate limit", "ratelimit", "rate_limit", "too many requests", "quota exceeded"].map { Array($0.utf8) }
    static let client: [[UInt8]] = [
        "guardrail", "content policy", "content_policy", "content filter", "content_filter", "contentpolicy",
        "badrequest", "bad request", "bad_request", "invalid request", "invalid_request", "unauthorized", "authentication",
        "permission denied", "permissiondenied", "forbidden", "not found", "notfound", "context length", "context_length",
        "contextwindowexceeded", "unprocessable", "budget exceeded", "budgetexceeded",
    ].map { Array($0.utf8) }

    static func classify(_ text: UnsafeBufferPointer<UInt8>) -> CallOutcome? {
        if rateLimited.contains(where: { contains(text, $0) }) { return .rateLimited }
        if client.contains(where: { contains(text, $0) }) { return .clientError }
        return nil
    }

    /// ASCII case-insensitive substring search (`needle` is lower case).
    static func contains(_ text: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        let n = needle.count
        guard n > 0, text.count >= n else { return false }
        let first = needle[0]
        var i = 0
        while i + n <= text.count {
            if lower(text[i]) == first {
                var k = 1
                while k < n && lower(text[i + k]) == needle[k] { k += 1 }
                if k == n { return true }
            }
            i += 1
        }
        return false
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }
}

extension CallOutcome {
    /// The class of a message given as a String (tests, error classes).
    static func ofFailure(status: Int?, message: String?) -> CallOutcome {
        guard var m = message else { return ofFailure(status: status, message: nil as UnsafeBufferPointer<UInt8>?) }
        return m.withUTF8 { ofFailure(status: status, message: $0) }
    }
}
