/// A parser whose one line may hold several calls (`otlp-json`). The line is all or nothing: its
/// calls are all returned, or the line fails as a whole, so a line is counted exactly once.
public protocol MultiRecordParser: LineParser {
    /// Appends the line's calls to `out` (at least one), or throws (`not_a_call` for none).
    func parseAll(_ line: UnsafeBufferPointer<UInt8>, into out: inout [APICall]) throws(ParseFailure)
}

/// `otlp-json`: the JSON lines the OpenTelemetry Collector's file exporter writes for traces, one
/// `TracesData` per line (resourceSpans → scopeSpans → spans, attributes as key/value arrays, 64-bit
/// integers as strings, times in nanoseconds). A span with `gen_ai.request.model` is a call
/// (OpenTelemetry's GenAI semantic conventions); other spans are ignored. Docs/formats.md.
public final class OTLPParser: MultiRecordParser {
    private let limits: RecordLimits
    private let cache = StringCache()

    public init(limits: RecordLimits = .default) { self.limits = limits }

    /// The line's first call (ingest reads every one, with `parseAll`).
    public func parse(_ line: UnsafeBufferPointer<UInt8>, into call: inout APICall) throws(ParseFailure) {
        var out: [APICall] = []
        try parseAll(line, into: &out)
        call = out[0]
    }

    public func parseAll(_ line: UnsafeBufferPointer<UInt8>, into out: inout [APICall]) throws(ParseFailure) {
        do { try read(line, into: &out) } catch { throw line.failure(error) }
    }

    @inline(__always)
    private func read(_ line: UnsafeBufferPointer<UInt8>, into out: inout [APICall]) throws(ParseFailure) {
        var s = JSONScanner(line)
        try s.expectObjectLine()
        // The calls go straight to `out` (no array of their own per line), and are taken back if
        // the line fails: all or nothing.
        let base = out.count
        var failure: ParseFailure?
        do throws(ParseFailure) {
            try s.readObject { (s: inout JSONScanner, key) throws(ParseFailure) in
                guard s.equals(key, "resourceSpans") else { return try s.skipValue() }
                // A key written twice counts by its later value, as in every format.
                out.removeSubrange(base...)
                failure = nil
                try s.eachElement { (s: inout JSONScanner) throws(ParseFailure) in
                    try s.eachMember("scopeSpans") { (s: inout JSONScanner) throws(ParseFailure) in
                        try s.eachElement { (s: inout JSONScanner) throws(ParseFailure) in
                            try s.eachMember("spans") { (s: inout JSONScanner) throws(ParseFailure) in
                                try s.eachElement { (s: inout JSONScanner) throws(ParseFailure) in
                                    do throws(ParseFailure) {
                                        if let call = try self.span(&s) { out.append(call) }
                                    } catch where error == .invalidJSON || error == .truncated || error == .invalidUTF8 {
                                        throw error
                                    } catch {
                                        failure = failure ?? error  // reported once the line is known to be JSON
                                    }
                                }
                            }
                        }
                    }
                }
            }
            try s.expectEnd()
            if let failure { throw failure }
            guard out.count > base else { throw .notACall }
        } catch {
            out.removeSubrange(base...)
            throw error
        }
    }

    /// The attributes aimon reads, by key.
    private enum Attribute {
        case model, responseModel, inputTokens, outputTokens, cachedInputTokens, errorType, status, address, user, operation, ttft
    }

    private static func attribute(_ s: JSONScanner, _ key: JSONScanner.StringToken) -> Attribute? {
        if s.equals(key, "gen_ai.request.model") { return .model }
        if s.equals(key, "gen_ai.response.model") { return .responseModel }
        if s.equals(key, "gen_ai.usage.input_tokens") || s.equals(key, "gen_ai.usage.prompt_tokens") { return .inputTokens }
        if s.equals(key, "gen_ai.usage.output_tokens") || s.equals(key, "gen_ai.usage.completion_tokens") { return .outputTokens }
        if s.equals(key, "gen_ai.usage.cache_read.input_tokens") || s.equals(key, "gen_ai.usage.cache_read_input_tokens") { return .cachedInputTokens }
        if s.equals(key, "error.type") { return .errorType }
        if s.equals(key, "http.response.status_code") { return .status }
        if s.equals(key, "server.address") { return .address }
        if s.equals(key, "user.id") || s.equals(key, "enduser.id") { return .user }
        if s.equals(key, "gen_ai.operation.name") { return .operation }
        if s.equals(key, "gen_ai.response.time_to_first_chunk") || s.equals(key, "gen_ai.server.time_to_first_token") { return .ttft }
        return nil
    }

    /// One span: a call when it has `gen_ai.request.model`, else nil.
    private func span(_ s: inout JSONScanner) throws(ParseFailure) -> APICall? {
        guard try s.peekKind() == .object else { try s.skipValue(); return nil }  // valid JSON, no span
        var start: Int64?, end: Int64?
        var statusCode: Int64 = 0
        var statusMessage: String?
        var model: String?, responseModel: String?, user: String?, operation: String?, deployment: String?, errorType: String?
        var inputTokens: Int?, outputTokens: Int?, cached: Int?, httpStatus: Int?, ttft: Double?
        // A bad value is noted and the span read to its end (the rest of the line must still be
        // checked as JSON); syntax errors end the line at once.
        var failure: ParseFailure?
        func note(_ body: () throws(ParseFailure) -> Void) throws(ParseFailure) {
            do throws(ParseFailure) { try body() } catch where error == .invalidJSON || error == .truncated || error == .invalidUTF8 {
                throw error
            } catch {
                failure = failure ?? error
            }
        }
        try s.readObject { (s: inout JSONScanner, key) throws(ParseFailure) in
            if s.equals(key, "startTimeUnixNano") { try note { () throws(ParseFailure) in start = try s.readInt64(else: .badTimestamp) } }
            else if s.equals(key, "endTimeUnixNano") { try note { () throws(ParseFailure) in end = try s.readInt64(else: .badTimestamp) } }
            else if s.equals(key, "status") {
                guard try s.peekKind() == .object else { return try s.skipValue() }
                try s.readObject { (s: inout JSONScanner, key) throws(ParseFailure) in
                    if s.equals(key, "code") { try note { () throws(ParseFailure) in statusCode = try s.readInt64(else: .wrongType) ?? 0 } }
                    else if s.equals(key, "message"), try s.peekKind() == .string { statusMessage = s.decodeString(try s.readString()) }
                    else { try s.skipValue() }
                }
            } else if s.equals(key, "attributes") {
                try s.eachElement { (s: inout JSONScanner) throws(ParseFailure) in
                    guard try s.peekKind() == .object else { return try s.skipValue() }
                    var which: Attribute?
                    var value: (kind: JSONScanner.ValueKind, start: Int, token: JSONScanner.StringToken?)?
                    try s.readObject { (s: inout JSONScanner, k) throws(ParseFailure) in
                        if s.equals(k, "key"), try s.peekKind() == .string { which = Self.attribute(s, try s.readString()) }
                        else if s.equals(k, "value"), try s.peekKind() == .object {
                            try s.readObject { (s: inout JSONScanner, vk) throws(ParseFailure) in
                                let kind = try s.peekKind()
                                let at = s.index
                                if kind == .string { value = (kind, at, try s.readString()) } else { value = (kind, at, nil); try s.skipValue() }
                                _ = vk
                            }
                        } else { try s.skipValue() }
                    }
                    guard let which, let value else { return }
                    let t0 = s
                    func text() -> String? { value.token.map { t0.decodeString($0) } }
                    func count() throws(ParseFailure) -> Int? {
                        var t = t0
                        t.index = value.start
                        if value.kind == .number {
                            // A whole number in another form (4.0, 1e3) counts as in every format.
                            let n = try t.readNumberToken()
                            if let v = t.integerValue(n), v >= 0, v <= Int64(RecordLimits.maxCount) { return Int(v) }
                            let d = t.doubleValue(n)
                            guard d >= 0, d <= Double(RecordLimits.maxCount), d == d.rounded(.down) else { throw .badCount }
                            return Int(d)
                        }
                        guard let v = try t.readInt64(else: .badCount) else { return nil }
                        guard v >= 0, v <= Int64(RecordLimits.maxCount) else { throw .badCount }
                        return Int(v)
                    }
                    try note { () throws(ParseFailure) in
                    switch which {
                    case .model: model = value.token.map { t0.string($0, cache: cache) }
                    case .responseModel: responseModel = text()
                    case .inputTokens: inputTokens = try count()
                    case .outputTokens: outputTokens = try count()
                    case .cachedInputTokens: cached = try count()
                    case .errorType: errorType = text() ?? (try? count()).flatMap { $0.map(String.init) }
                    case .status: httpStatus = try count().map { min($0, RecordLimits.maxStatus + 1) }
                    case .address: deployment = value.token.map { t0.string($0, cache: cache) }
                    case .user: user = text()
                    case .operation: operation = value.token.map { t0.string($0, cache: cache) }
                    case .ttft:
                        var t = t0
                        t.index = value.start
                        if value.kind == .number { ttft = try limits.latency(t.doubleValue(try t.readNumberToken())) }
                    }
                    }
                }
            } else {
                try s.skipValue()
            }
        }
        guard let model = model ?? responseModel, !model.isEmpty else { return nil }  // not a GenAI call
        if let failure { throw failure }
        _ = try RecordLimits.model(model)
        if let httpStatus, httpStatus > RecordLimits.maxStatus { throw .badStatus }
        guard let start, start > 0 else { throw .badTimestamp }
        // Both times come from the log: their difference is checked, never trusted to fit.
        let latency = try end.map { e throws(ParseFailure) in
            let (nanos, overflow) = e.subtractingReportingOverflow(start)
            guard !overflow else { throw .badLatency }
            return try limits.latency(Double(nanos) / 1e9)
        }
        // A failure: status ERROR (2), or an error.type; its class from error.type (a status code or
        // words such as "timeout", "RateLimitError"), else from the HTTP status.
        let failed = statusCode == 2 || errorType != nil || (httpStatus.map { CallOutcome.of(status: $0) != .success } ?? false)
        var outcome = CallOutcome.success
        if failed {
            if let errorType, let code = Int(errorType), (100...599).contains(code) {
                outcome = CallOutcome.of(status: code) == .success ? .providerError : CallOutcome.of(status: code)
            } else {
                outcome = CallOutcome.ofFailure(status: httpStatus, message: errorType ?? statusMessage)
                if outcome == .success { outcome = .providerError }
            }
        }
        return APICall(timestamp: Double(start) / 1e9, userID: user, model: model, endpoint: operation, outcome: outcome,
                       responseTime: latency, statusCode: httpStatus,
                       errorMessage: failed ? (statusMessage.flatMap { $0.isEmpty ? nil : $0 } ?? errorType) : nil,
                       inputTokens: inputTokens, outputTokens: outputTokens, cachedInputTokens: cached, ttft: ttft, deployment: deployment)
    }
}

extension JSONScanner {
    /// Calls `body` for each element of the array at the cursor (skips any other value).
    mutating func eachElement(_ body: (inout JSONScanner) throws(ParseFailure) -> Void) throws(ParseFailure) {
        guard try peekKind() == .array else { return try skipValue() }
        index += 1
        if try peek() == 0x5D { index += 1; return }
        while true {
            try body(&self)
            let b = try peek()
            index += 1
            if b == 0x5D { return }
            guard b == 0x2C else { throw .invalidJSON }
        }
    }

    /// Calls `body` on the value of member `name` of the object at the cursor; skips the others.
    mutating func eachMember(_ name: StaticString, _ body: (inout JSONScanner) throws(ParseFailure) -> Void) throws(ParseFailure) {
        guard try peekKind() == .object else { return try skipValue() }
        try readObject { (s: inout JSONScanner, key) throws(ParseFailure) in
            if s.equals(key, name) { try body(&s) } else { try s.skipValue() }
        }
    }

    /// Decimal digits (a leading '-' allowed) as an Int64; `outside` for anything else or an overflow.
    static func digits(_ text: UnsafeBufferPointer<UInt8>, else outside: ParseFailure) throws(ParseFailure) -> Int64 {
        let negative = text.first == 0x2D
        let body = negative ? UnsafeBufferPointer(rebasing: text.dropFirst()) : text
        guard !body.isEmpty, body.count <= 19 else { throw outside }
        var v: Int64 = 0
        for c in body {
            let d = c &- 0x30
            guard d < 10 else { throw outside }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (sum, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { throw outside }
            v = sum
        }
        return negative ? -v : v
    }

    /// A whole number written as a JSON number or as a string of digits (OTLP's 64-bit integers);
    /// nil for null; `outside` for anything else.
    mutating func readInt64(else outside: ParseFailure) throws(ParseFailure) -> Int64? {
        switch try peekKind() {
        case .number:
            let t = try readNumberToken()
            if let v = integerValue(t) { return v }
            // 19 digits (every time in nanoseconds): read them, checking for overflow.
            return try Self.digits(UnsafeBufferPointer(rebasing: bytes[t.range]), else: outside)
        case .string:
            let t = try readString()
            guard !t.hasEscapes else { throw outside }
            return try Self.digits(UnsafeBufferPointer(rebasing: bytes[t.start..<t.end]), else: outside)
        case .null:
            try readNull()
            return nil
        default:
            try skipValue()
            throw outside
        }
    }
}
