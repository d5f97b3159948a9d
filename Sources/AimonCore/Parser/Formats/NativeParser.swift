/// The seed's record, one JSON object a line (DESIGN.md):
/// `timestamp, user_id, work_order_id, model_name, endpoint, success, response_time, status_code,
/// error_message, input_length, output_length`, and the LLM fields `input_tokens, output_tokens,
/// cached_input_tokens, cost, ttft, deployment`. Unknown fields are validated and ignored.
public final class NativeParser: LineParser {
    private let cache = StringCache()
    private let limits: RecordLimits

    public init(limits: RecordLimits = .default) { self.limits = limits }

    public func parse(_ line: UnsafeBufferPointer<UInt8>, into call: inout APICall) throws(ParseFailure) {
        do { try read(line, into: &call) } catch { throw line.failure(error) }
    }

    @inline(__always)
    private func read(_ line: UnsafeBufferPointer<UInt8>, into call: inout APICall) throws(ParseFailure) {
        var scanner = JSONScanner(line)
        try scanner.expectObjectLine()
        call.timestamp = nil
        call.userID = nil
        call.workOrderID = nil
        call.model = ""
        call.endpoint = nil
        var success: Bool?
        call.responseTime = nil
        call.statusCode = nil
        call.errorMessage = nil
        call.inputLength = 0
        call.outputLength = 0
        call.inputTokens = nil
        call.outputTokens = nil
        call.cachedInputTokens = nil
        call.cost = nil
        call.ttft = nil
        call.deployment = nil
        // A raw control byte fails the JSON scan, so only an escaped name can hold U+001F.
        var modelEscaped = false
        // The failure of each field's value; a key written twice counts by its later value (as in the
        // mapped parser), failure included. Reported only once the whole line is known to be JSON.
        var failures = FieldFailures()

        try scanner.readObject { (s: inout JSONScanner, key) throws(ParseFailure) in
            let field = s.fieldName(key)
            var failure: ParseFailure?
            switch field {
            case .timestamp:
                call.timestamp = nil
                switch try s.peekKind() {
                case .string:
                    let t = try s.readString()
                    let text = t.hasEscapes ? nil : UnsafeBufferPointer(rebasing: s.bytes[t.start..<t.end])
                    if s.isBlank(t) { break }
                    if let text, let v = Timestamp.parseRFC3339(text) ?? Timestamp.fromEpochText(text) { call.timestamp = v }
                    else { failure = .badTimestamp }
                case .number:
                    if let v = Timestamp.fromEpoch(s.doubleValue(try s.readNumberToken())) { call.timestamp = v } else { failure = .badTimestamp }
                case .null: try s.readNull()
                default: failure = .badTimestamp; try s.skipValue()
                }
            case .userID: call.userID = try s.readIdentifier(&failure)
            case .workOrderID: call.workOrderID = try s.readIdentifier(&failure)
            case .model:
                call.model = ""
                switch try s.peekKind() {
                case .string:
                    let t = try s.readString()
                    modelEscaped = t.hasEscapes
                    if !s.isBlank(t) { call.model = s.string(t, cache: cache) }
                case .null: try s.readNull()
                default: failure = .wrongType; try s.skipValue()
                }
            case .endpoint:
                if try s.peekKind() == .string {
                    let t = try s.readString()
                    call.endpoint = s.isBlank(t) ? nil : s.string(t, cache: cache)
                } else {
                    call.endpoint = try s.readOptionalString(&failure)
                }
            case .success:
                success = nil
                switch try s.peekKind() {
                case .bool: success = try s.readBool()
                case .null: try s.readNull()
                default: failure = .wrongType; try s.skipValue()
                }
            case .responseTime:
                call.responseTime = nil
                switch try s.peekKind() {
                case .number:
                    let value = s.doubleValue(try s.readNumberToken())  // bad syntax fails the line at once
                    do throws(ParseFailure) { call.responseTime = try limits.latency(value) } catch { failure = error }
                case .null: try s.readNull()
                default: failure = .wrongType; try s.skipValue()
                }
            case .statusCode: call.statusCode = try s.readOptionalCount(&failure, max: RecordLimits.maxStatus, else: .badStatus)
            case .errorMessage: call.errorMessage = try s.readOptionalString(&failure)
            case .inputLength: call.inputLength = try s.readOptionalCount(&failure) ?? 0
            case .outputLength: call.outputLength = try s.readOptionalCount(&failure) ?? 0
            case .inputTokens: call.inputTokens = try s.readOptionalCount(&failure)
            case .outputTokens: call.outputTokens = try s.readOptionalCount(&failure)
            case .cachedInputTokens: call.cachedInputTokens = try s.readOptionalCount(&failure)
            case .cost:
                call.cost = nil
                switch try s.peekKind() {
                case .number:
                    let value = s.doubleValue(try s.readNumberToken())  // bad syntax fails the line at once
                    do throws(ParseFailure) { call.cost = try RecordLimits.cost(value) } catch { failure = error }
                case .null: try s.readNull()
                default: failure = .wrongType; try s.skipValue()
                }
            case .ttft:
                call.ttft = nil
                switch try s.peekKind() {
                case .number:
                    let value = s.doubleValue(try s.readNumberToken())
                    do throws(ParseFailure) { call.ttft = try limits.latency(value) } catch { failure = error }
                case .null: try s.readNull()
                default: failure = .wrongType; try s.skipValue()
                }
            case .deployment:
                if try s.peekKind() == .string {
                    let t = try s.readString()
                    call.deployment = s.isBlank(t) ? nil : s.string(t, cache: cache)
                } else {
                    call.deployment = try s.readOptionalString(&failure)
                }
            case .other: try s.skipValue(); return
            }
            failures[field] = failure
        }
        try scanner.expectEnd()
        if let failure = failures.first { throw failure }
        if call.model.isEmpty { throw .missingModel }
        if modelEscaped { _ = try RecordLimits.model(call.model) } else if call.model.utf8.count > RecordLimits.maxModelBytes { throw .modelTooLong }
        // Without `success`, the status decides as for every format (a code outside 100...599 is no
        // success: Envoy's 0 is "no response"), else an error message means failure.
        let ok = success ?? ((call.statusCode.map { CallOutcome.of(status: $0) == .success } ?? true) && (call.errorMessage?.isEmpty ?? true))
        if ok {
            call.outcome = .success
            call.errorMessage = nil
        } else {
            call.outcome = CallOutcome.ofFailure(status: call.statusCode, message: call.errorMessage)
        }
    }
}

/// The native format's field names, matched without allocating.
enum NativeField: Int {
    case timestamp, userID, workOrderID, model, endpoint, success, responseTime, statusCode
    case errorMessage, inputLength, outputLength
    case inputTokens, outputTokens, cachedInputTokens, cost, ttft, deployment, other
}

/// The failure of each native field's value, on the stack (the parser runs for every line).
struct FieldFailures {
    private var slots: (ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?,
                        ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?,
                        ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?, ParseFailure?)
        = (nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
    private var any = false

    subscript(field: NativeField) -> ParseFailure? {
        get { withUnsafeBytes(of: slots) { $0.bindMemory(to: ParseFailure?.self)[field.rawValue] } }
        set {
            guard any || newValue != nil else { return }  // nothing failed yet: nothing to clear
            any = true
            withUnsafeMutableBytes(of: &slots) { $0.bindMemory(to: ParseFailure?.self)[field.rawValue] = newValue }
        }
    }

    /// The failure of the first field (in field order) whose value failed.
    var first: ParseFailure? {
        guard any else { return nil }
        return withUnsafeBytes(of: slots) { $0.bindMemory(to: ParseFailure?.self).lazy.compactMap { $0 }.first }
    }
}

extension JSONScanner {
    /// A string value through the cache (escaped strings are decoded, not cached).
    @inline(__always) func string(_ t: StringToken, cache: StringCache) -> String {
        t.hasEscapes ? decodeString(t) : cache.string(UnsafeBufferPointer(rebasing: bytes[t.start..<t.end]))
    }

    @inline(__always) func fieldName(_ key: StringToken) -> NativeField {
        if key.hasEscapes { return fieldNameSlow(key) }
        let n = key.end - key.start
        guard n >= 4, n <= 19 else { return .other }
        // Every native key is 4 to 19 bytes: its first and last 4 or 8 bytes (overlapping) identify
        // it; the one key over 16 bytes is checked whole.
        let p = UnsafeRawPointer(bytes.baseAddress! + key.start)
        if n < 8 {
            let w = UInt64(p.loadUnaligned(as: UInt32.self)) | UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
            switch (w, n) {
            case (0x64695F7272657375, 7): return .userID  // "user" + "r_id"
            case (0x7373656363637573, 7): return .success  // "succ" + "cess"
            case (0x74736F6374736F63, 4): return .cost
            case (0x7466747474667474, 4): return .ttft
            default: return .other
            }
        }
        let head = p.loadUnaligned(as: UInt64.self)
        let tail = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        // (first 8 bytes, last 8 bytes, length), little-endian, of each key of 8 bytes or more.
        switch (head, tail, n) {
        case (0x616E5F6C65646F6D, 0x656D616E5F6C6564, 10): return .model  // model_name
        case (0x6D617473656D6974, 0x706D617473656D69, 9): return .timestamp  // timestamp
        case (0x65736E6F70736572, 0x656D69745F65736E, 13): return .responseTime  // response_time
        case (0x635F737574617473, 0x65646F635F737574, 11): return .statusCode  // status_code
        case (0x746E696F70646E65, 0x746E696F70646E65, 8): return .endpoint  // endpoint
        case (0x64726F5F6B726F77, 0x64695F726564726F, 13): return .workOrderID  // work_order_id
        case (0x656D5F726F727265, 0x6567617373656D5F, 13): return .errorMessage  // error_message
        case (0x656C5F7475706E69, 0x6874676E656C5F74, 12): return .inputLength  // input_length
        case (0x6C5F74757074756F, 0x6874676E656C5F74, 13): return .outputLength  // output_length
        case (0x6F745F7475706E69, 0x736E656B6F745F74, 12): return .inputTokens  // input_tokens
        case (0x745F74757074756F, 0x736E656B6F745F74, 13): return .outputTokens  // output_tokens
        case (0x656D796F6C706564, 0x746E656D796F6C70, 10): return .deployment  // deployment
        case (0x695F646568636163, 0x736E656B6F745F74, 19):  // cached_input_tokens: bytes 8..<11 too
            return p.load(fromByteOffset: 8, as: UInt8.self) == 0x6E && p.load(fromByteOffset: 9, as: UInt8.self) == 0x70
                && p.load(fromByteOffset: 10, as: UInt8.self) == 0x75 ? .cachedInputTokens : .other
        default: return .other
        }
    }

    /// Empty, only spaces, or `-`: no value, in every format (nginx writes `-` for an empty variable;
    /// CapturedValues reads it so).
    @inline(__always) func isBlank(_ t: StringToken) -> Bool {
        var i = t.start
        while i < t.end, bytes[i] == 0x20 { i += 1 }
        return i == t.end || (i + 1 == t.end && bytes[i] == 0x2D && !t.hasEscapes)
    }

    private func fieldNameSlow(_ key: StringToken) -> NativeField {
        let unescaped = decodeString(key)
        let raw = Array(unescaped.utf8)
        return raw.withUnsafeBufferPointer { buf in
            let s = JSONScanner(buf)
            return s.fieldName(StringToken(start: 0, end: buf.count, hasEscapes: false))
        }
    }

    /// A string, or nil for null or a blank one; another type records `.wrongType`.
    mutating func readOptionalString(_ failure: inout ParseFailure?) throws(ParseFailure) -> String? {
        switch try peekKind() {
        case .string:
            let t = try readString()
            return isBlank(t) ? nil : decodeString(t)
        case .null: try readNull(); return nil
        default: failure = failure ?? .wrongType; try skipValue(); return nil
        }
    }

    /// An identifier written as a string or an integer (kept as its digits); nil for null or blank.
    mutating func readIdentifier(_ failure: inout ParseFailure?) throws(ParseFailure) -> String? {
        switch try peekKind() {
        case .string:
            let t = try readString()
            return isBlank(t) ? nil : decodeString(t)
        case .number:
            let t = try readNumberToken()
            if integerValue(t) != nil { return String(decoding: UnsafeBufferPointer(rebasing: bytes[t.range]), as: UTF8.self) }
            failure = failure ?? .wrongType
            return nil
        case .null: try readNull(); return nil
        default: failure = failure ?? .wrongType; try skipValue(); return nil
        }
    }

    /// An integer in 0...`max` (a count or a code), or nil for null; another number records `outside`.
    mutating func readOptionalCount(_ failure: inout ParseFailure?, max: Int = RecordLimits.maxCount,
                                    else outside: ParseFailure = .badCount) throws(ParseFailure) -> Int? {
        switch try peekKind() {
        case .number:
            let t = try readNumberToken()
            if let v = integerValue(t), v >= 0, v <= Int64(max) { return Int(v) }
            // A whole number in another form (4.0, 1e3) counts as in every format.
            let d = doubleValue(t)
            if integerValue(t) == nil, d >= 0, d <= Double(max), d == d.rounded(.down) { return Int(d) }
            failure = failure ?? outside
            return nil
        case .null: try readNull(); return nil
        default: failure = failure ?? .wrongType; try skipValue(); return nil
        }
    }
}
