/// Reads any JSON-lines format through a field mapping: one pass over the line captures the values
/// under the mapped paths (`PathMatcher`), then each record field is read from the first of its
/// candidate paths that is present, and the format's rule classifies the call.
///
/// A bad field value is reported only once the whole line is known to be valid JSON. The error message
/// is kept for failed calls only (Envoy's response_code_details says "via_upstream" on successes).
public final class MappedParser: LineParser {
    private let matcher: PathMatcher
    private let captures: Captures
    private let cache = StringCache()
    /// Candidate slots per field, in `FieldMapping.Field.allCases` order.
    private let slots: [[Int]]
    private let units: [TimeUnit?]
    private let span: (start: Int, end: Int)?
    /// `ttft` as a span (LiteLLM: completionStartTime - startTime, only when before endTime).
    private let ttftSpan: (start: Int, end: Int, before: Int)?
    private let rule: OutcomeRule
    private let aux: [Int]
    private let successValues: [[UInt8]]
    private let limits: RecordLimits
    /// nginx writes `$upstream_addr` as a list after retries; elsewhere a deployment is one name.
    private let deploymentIsList: Bool

    public init(_ format: SourceFormat, limits: RecordLimits = .default) {
        self.limits = limits
        deploymentIsList = format.preset == .nginx && format.custom.fields[.deployment] == nil
        let mapping = format.mapping
        let matcher = PathMatcher()
        var slots: [[Int]] = []
        var units: [TimeUnit?] = []
        var span: (Int, Int)?
        var ttftSpan: (Int, Int, Int)?
        for field in FieldMapping.Field.allCases {
            let source = mapping.fields[field]
            slots.append(source?.paths.map { matcher.slot(for: $0) } ?? [])
            units.append(source?.unit)
            if field == .responseTime, let s = source?.span { span = (matcher.slot(for: s.start), matcher.slot(for: s.end)) }
            if field == .ttft, let s = source?.span {
                ttftSpan = (matcher.slot(for: s.start), matcher.slot(for: s.end), s.before.map { matcher.slot(for: $0) } ?? -1)
            }
        }
        let rule = format.outcomeRule
        self.rule = rule
        aux = rule.auxPaths.map { matcher.slot(for: $0) }
        if case let .custom(.values(_, values)) = rule { successValues = values.map { Array($0.utf8) } } else { successValues = [] }
        self.slots = slots
        self.units = units
        self.span = span
        self.ttftSpan = ttftSpan
        self.matcher = matcher
        captures = Captures(count: matcher.paths.count)
    }

    public func parse(_ line: UnsafeBufferPointer<UInt8>, into call: inout APICall) throws(ParseFailure) {
        do { try read(line, into: &call) } catch { throw line.failure(error) }
    }

    @inline(__always)
    private func read(_ line: UnsafeBufferPointer<UInt8>, into call: inout APICall) throws(ParseFailure) {
        var scanner = JSONScanner(line)
        try scanner.expectObjectLine()
        captures.reset()
        try matcher.scan(&scanner, into: captures)
        try scanner.expectEnd()

        let v = CapturedValues(captures: captures, line: line)
        if case .oneAPI = rule, let type = try v.count(aux[0]), type != 2, type != 5 { throw .notACall }
        // A model is text: a number there is the wrong type (as in the native parser), not a name.
        let modelSlot = first(.model, v)
        if modelSlot >= 0, captures[modelSlot].kind != .string { throw .wrongType }
        guard let model = try v.string(modelSlot, cache: cache), !model.isEmpty else { throw .missingModel }
        // A raw control byte fails the JSON scan, so only an escaped name can hold U+001F.
        if captures[modelSlot].hasEscapes { _ = try RecordLimits.model(model) } else if model.utf8.count > RecordLimits.maxModelBytes { throw .modelTooLong }
        let status = try statusCode(v)
        let errorMessage = try v.string(first(.errorMessage, v))
        let outcome = try classify(v, status: status, errorMessage: errorMessage)
        // Written into the caller's record field by field, in the order their failures rank.
        call.model = model
        call.outcome = outcome
        call.statusCode = status
        call.errorMessage = outcome == .success ? nil : errorMessage
        call.timestamp = try v.time(first(.timestamp, v), unit: unit(.timestamp))
        call.userID = try v.string(first(.userID, v))
        call.workOrderID = try v.string(first(.workOrderID, v))
        call.endpoint = try v.string(first(.endpoint, v), cache: cache)
        call.responseTime = try responseTime(v)
        call.inputLength = try v.count(first(.inputLength, v), else: .badCount) ?? 0
        call.outputLength = try v.count(first(.outputLength, v), else: .badCount) ?? 0
        call.inputTokens = try v.count(first(.inputTokens, v), else: .badCount)
        call.outputTokens = try v.count(first(.outputTokens, v), else: .badCount)
        call.cachedInputTokens = try v.count(first(.cachedInputTokens, v), else: .badCount)
        call.cost = try cost(v)
        call.ttft = try ttft(v)
        call.deployment = try deployment(v)
    }

    /// " : " in the bytes (nginx's separator after an internal redirect; a port's ":" is not one).
    @inline(__always) private static func hasRedirect(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        guard raw.count >= 3 else { return false }
        for i in 1..<(raw.count - 1) where raw[i] == 0x3A && raw[i - 1] == 0x20 && raw[i + 1] == 0x20 { return true }
        return false
    }

    /// The upstream; of a list (nginx's `$upstream_addr` after retries: "a:443, b:443", or "a : b"
    /// after an internal redirect) the last, which answered.
    private func deployment(_ v: CapturedValues) throws(ParseFailure) -> String? {
        let slot = first(.deployment, v)
        // The common case, one upstream, is looked at as bytes and comes from the string cache.
        if !deploymentIsList { return try v.string(slot, cache: cache) }
        if let raw = v.raw(slot), !raw.contains(0x2C), !raw.contains(0x3A) || !Self.hasRedirect(raw) {
            return try v.string(slot, cache: cache)
        }
        guard let text = try v.string(slot, cache: cache) else { return nil }
        guard text.contains(", ") || text.contains(" : ") else { return text }
        var last = Substring(text.split(separator: ",", omittingEmptySubsequences: false).last ?? Substring(text))
        if let range = last.range(of: " : ", options: .backwards) { last = last[range.upperBound...] }
        let trimmed = String(last.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        return trimmed.isEmpty || trimmed == "-" ? nil : trimmed
    }

    /// USD, within `RecordLimits.maxCost` (`bad_cost` otherwise).
    private func cost(_ v: CapturedValues) throws(ParseFailure) -> Double? {
        guard let usd = try v.number(first(.cost, v)) else { return nil }  // text that is no number: wrong_type
        return try RecordLimits.cost(usd)
    }

    /// Seconds to the first token, within `limits` like a latency (`bad_latency` otherwise).
    private func ttft(_ v: CapturedValues) throws(ParseFailure) -> Double? {
        guard let ttftSpan else {
            guard let seconds = try v.duration(first(.ttft, v), unit: unit(.ttft) ?? .seconds) else { return nil }
            return try limits.latency(seconds)
        }
        guard let start = try v.time(ttftSpan.start, unit: unit(.ttft)), let first = try v.time(ttftSpan.end, unit: unit(.ttft)) else {
            return nil
        }
        if ttftSpan.before >= 0, let end = try v.time(ttftSpan.before, unit: unit(.ttft)), first >= end { return nil }  // not streamed
        return try limits.latency(first - start)
    }

    /// The first candidate slot of `field` that holds a value (not null, `-` or empty); -1 for none.
    @inline(__always) private func first(_ field: FieldMapping.Field, _ v: CapturedValues) -> Int {
        for s in slots[Self.index(field)] where v.isPresent(s) { return s }
        return -1
    }

    @inline(__always) private func unit(_ field: FieldMapping.Field) -> TimeUnit? { units[Self.index(field)] }

    @inline(__always) private static func index(_ field: FieldMapping.Field) -> Int {
        switch field {
        case .timestamp: return 0
        case .model: return 1
        case .userID: return 2
        case .workOrderID: return 3
        case .endpoint: return 4
        case .statusCode: return 5
        case .responseTime: return 6
        case .errorMessage: return 7
        case .inputLength: return 8
        case .outputLength: return 9
        case .inputTokens: return 10
        case .outputTokens: return 11
        case .cachedInputTokens: return 12
        case .cost: return 13
        case .ttft: return 14
        case .deployment: return 15
        }
    }

    /// An HTTP status (the last of a comma list: the final try). Text that is not a number (LiteLLM
    /// writes error codes such as "None") is no status; any other type fails the line.
    private func statusCode(_ v: CapturedValues) throws(ParseFailure) -> Int? {
        let slot = first(.statusCode, v)
        guard v.isPresent(slot) else { return nil }
        let code: Int?
        if captures[slot].kind == .string {
            code = try? v.count(slot, list: .last)
        } else {
            code = try v.count(slot, list: .last, else: .badStatus)
        }
        if let code, code > RecordLimits.maxStatus { throw .badStatus }
        return code
    }

    /// The latency in seconds, within `limits` (`bad_latency` otherwise).
    private func responseTime(_ v: CapturedValues) throws(ParseFailure) -> Double? {
        guard let span else {
            guard let seconds = try v.duration(first(.responseTime, v), unit: unit(.responseTime) ?? .seconds) else { return nil }
            return try limits.latency(seconds)
        }
        guard let start = try v.time(span.start, unit: unit(.responseTime)), let end = try v.time(span.end, unit: unit(.responseTime)) else {
            return nil
        }
        return try limits.latency(end - start)  // an end before its start is a negative latency
    }

    private static let guardrailIntervened = [Array("guardrail_intervened".utf8)]

    private func classify(_ v: CapturedValues, status: Int?, errorMessage: String?) throws(ParseFailure) -> CallOutcome {
        /// Without a success signal of its own: the status, else an error message means failure.
        func byStatus() -> CallOutcome {
            if let status { return CallOutcome.of(status: status) }
            if let errorMessage, !errorMessage.isEmpty { return CallOutcome.ofFailure(status: nil, message: errorMessage) }
            return .success
        }
        switch rule {
        case .native:
            // The seed's rule: `success` when present; else a success status and no error message.
            let ok = try v.bool(aux[0])
                ?? ((status.map { CallOutcome.of(status: $0) == .success } ?? true) && (errorMessage?.isEmpty ?? true))
            return ok ? .success : CallOutcome.ofFailure(status: status, message: errorMessage)
        case .httpStatus:
            return byStatus()
        case .litellm:
            let st = v.raw(aux[0])
            if let st, CapturedValues.equalsIgnoringCase(st, "success") { return .success }
            guard st != nil || (errorMessage?.isEmpty == false) else { return .success }
            if v.matches(aux[2], Self.guardrailIntervened) { return .clientError }
            if let status, case let c = CallOutcome.of(status: status), c != .success { return c }
            if let errorClass = v.raw(aux[1]), let c = FailureWords.classify(errorClass) { return c }
            return CallOutcome.ofFailure(status: nil, message: errorMessage)
        case .envoy:
            if let flags = v.raw(aux[0]), let c = EnvoyFlags.classify(flags) { return c }
            return byStatus()
        case .oneAPI:
            // Other types were refused before the record was read.
            return try v.count(aux[0]) == 5 ? CallOutcome.ofFailure(status: status, message: errorMessage) : .success
        case let .custom(rule):
            switch rule {
            case .values:
                guard v.isPresent(aux[0]) else { return byStatus() }
                return v.matches(aux[0], successValues) ? .success : CallOutcome.ofFailure(status: status, message: errorMessage)
            case let .status(ranges):
                guard let status else { return byStatus() }
                if ranges.contains(where: { $0.contains(status) }) { return .success }
                let c = CallOutcome.of(status: status)
                return c == .success ? .providerError : c
            }
        }
    }
}

/// Envoy's response flags (RESPONSE_FLAGS: "-", "UF", "UF,URX"), as failure classes.
enum EnvoyFlags {
    /// The upstream (the provider, or the way to it) failed: also when the status was already sent,
    /// e.g. a 200 whose stream the provider reset (UR, UC, UPE).
    static let provider: Set<[UInt8]> = Set(["UH", "UF", "UO", "URX", "NC", "UT", "LR", "UR", "UC", "UPE", "UMSDR", "OM", "DF",
                                             "SI", "DT", "RLSE", "NFCF"].map { Array($0.utf8) })
    /// The client's doing: it went away (DC), spoke badly (DPE, IH), was refused (UAEX) or asked for no route (NR).
    static let client: Set<[UInt8]> = Set(["DC", "DPE", "IH", "UAEX", "NR"].map { Array($0.utf8) })

    static func classify(_ flags: UnsafeBufferPointer<UInt8>) -> CallOutcome? {
        var sawRateLimit = false, sawClient = false
        var i = 0
        while i < flags.count {
            var j = i
            while j < flags.count && flags[j] != 0x2C && flags[j] != 0x7C { j += 1 }
            let flag = Array(flags[i..<j])
            if provider.contains(flag) { return .providerError }
            if flag == [0x52, 0x4C] { sawRateLimit = true }  // RL: rate limited locally
            if client.contains(flag) { sawClient = true }
            i = j + 1
        }
        if sawRateLimit { return .rateLimited }
        return sawClient ? .clientError : nil
    }
}
