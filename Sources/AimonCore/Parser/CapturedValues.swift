/// Reading captured values as record fields, the same way for every format: strings that hold numbers
/// are numbers (nginx quotes everything), `-` and the empty string are absent (nginx's empty
/// variable), a comma list ("504, 502": nginx retried) is summed for durations and gives its last
/// element for a status. A value of a type no reading accepts fails the line as `wrong_type`.
struct CapturedValues {
    let captures: Captures
    let line: UnsafeBufferPointer<UInt8>

    /// How a comma-separated list of numbers in a string becomes one number.
    enum ListRule { case last, sum }

    @inline(__always) func isPresent(_ slot: Int) -> Bool {
        slot >= 0 && captures[slot].kind != nil && captures[slot].kind != .null && !isBlank(slot)
    }

    /// A string value that is `-` or empty (or only spaces).
    @inline(__always) private func isBlank(_ slot: Int) -> Bool {
        let v = captures[slot]
        guard v.kind == .string else { return false }
        var i = v.start
        while i < v.end, line[i] == 0x20 { i += 1 }
        return i == v.end || (i + 1 == v.end && line[i] == 0x2D && !v.hasEscapes)
    }

    /// The raw bytes of a string value without escapes (or of a number's text).
    @inline(__always) func raw(_ slot: Int) -> UnsafeBufferPointer<UInt8>? {
        guard isPresent(slot) else { return nil }
        let v = captures[slot]
        guard !v.hasEscapes, v.kind == .string || v.kind == .number || v.kind == .bool else { return nil }
        return UnsafeBufferPointer(rebasing: line[v.start..<v.end])
    }

    /// A text field: a string, or an integer kept as its digits (ids); nil when absent.
    func string(_ slot: Int, cache: StringCache? = nil) throws(ParseFailure) -> String? {
        guard isPresent(slot) else { return nil }
        let v = captures[slot]
        switch v.kind {
        case .string:
            let t = JSONScanner.StringToken(start: v.start, end: v.end, hasEscapes: v.hasEscapes)
            let s = JSONScanner(line)
            if let cache { return s.string(t, cache: cache) }
            return s.decodeString(t)
        case .number:
            var s = JSONScanner(line)
            s.index = v.start
            let t = try s.readNumberToken()
            guard s.integerValue(t) != nil else { throw .wrongType }
            return String(decoding: UnsafeBufferPointer(rebasing: line[v.start..<v.end]), as: UTF8.self)
        default: throw .wrongType
        }
    }

    /// A number: a JSON number, or a string holding one (or a comma list of them, per `list`).
    func number(_ slot: Int, list: ListRule = .last) throws(ParseFailure) -> Double? {
        guard isPresent(slot) else { return nil }
        let v = captures[slot]
        switch v.kind {
        case .number:
            var s = JSONScanner(line)
            s.index = v.start
            return s.doubleValue(try s.readNumberToken())
        case .string:
            guard !v.hasEscapes else { throw .wrongType }
            return try Self.numberList(UnsafeBufferPointer(rebasing: line[v.start..<v.end]), list: list)
        default: throw .wrongType
        }
    }

    /// A whole number in 0...2^31-1 (a count, a status code); another number (a fraction, a
    /// negative) fails the line with `outside`, a value that is no number with `wrong_type`.
    func count(_ slot: Int, list: ListRule = .sum, else outside: ParseFailure = .wrongType) throws(ParseFailure) -> Int? {
        guard let d = try number(slot, list: list) else { return nil }
        guard d >= 0, d <= Double(RecordLimits.maxCount), d == d.rounded(.down) else { throw outside }
        return Int(d)
    }

    func bool(_ slot: Int) throws(ParseFailure) -> Bool? {
        guard isPresent(slot) else { return nil }
        let v = captures[slot]
        guard v.kind == .bool else {
            // "true"/"false" in a string, as nginx writes a header.
            if let r = raw(slot), v.kind == .string {
                if Self.equalsIgnoringCase(r, "true") { return true }
                if Self.equalsIgnoringCase(r, "false") { return false }
            }
            throw .wrongType
        }
        return line[v.start] == 0x74
    }

    /// Whether the value, as text, is one of `values` (a string's contents, a number's or a bool's JSON
    /// text), compared exactly.
    func matches(_ slot: Int, _ values: [[UInt8]]) -> Bool {
        guard slot >= 0, let kind = captures[slot].kind, kind != .null, kind != .object, kind != .array else { return false }
        let v = captures[slot]
        if v.hasEscapes {
            let text = Array(JSONScanner(line).decodeString(JSONScanner.StringToken(start: v.start, end: v.end, hasEscapes: true)).utf8)
            return values.contains(text)
        }
        let r = UnsafeBufferPointer(rebasing: line[v.start..<v.end])
        return values.contains { $0.count == r.count && $0.elementsEqual(r) }
    }

    /// A point in time in `unit` (nil: RFC 3339 for strings, epoch seconds or milliseconds for
    /// numbers, told apart by size), as seconds since the epoch.
    func time(_ slot: Int, unit: TimeUnit?) throws(ParseFailure) -> Double? {
        guard isPresent(slot) else { return nil }
        let v = captures[slot]
        if v.kind == .string && (unit == nil || unit == .rfc3339) {
            if !v.hasEscapes, let t = Timestamp.parseRFC3339(UnsafeBufferPointer(rebasing: line[v.start..<v.end])) { return t }
            if unit == .rfc3339 { throw .badTimestamp }
        } else if unit == .rfc3339 {
            throw .badTimestamp
        }
        // An epoch number (or a string holding one, as nginx writes $msec).
        let n: Double?
        do throws(ParseFailure) { n = try number(slot) } catch { throw .badTimestamp }
        guard let n else { return nil }
        if let unit {
            guard n.isFinite, n >= 0 else { throw .badTimestamp }
            return n / unit.perSecond
        }
        guard let t = Timestamp.fromEpoch(n) else { throw .badTimestamp }
        return t
    }

    /// A duration in `unit`, as seconds (a comma list is summed: time spent on every try). Text that
    /// is no number ("NaN") is a bad latency; an object or a list is the wrong type.
    func duration(_ slot: Int, unit: TimeUnit) throws(ParseFailure) -> Double? {
        let n: Double?
        do throws(ParseFailure) { n = try number(slot, list: .sum) } catch {
            throw captures[slot].kind == .string || captures[slot].kind == .number ? .badLatency : error
        }
        guard let n else { return nil }
        guard n >= 0, n.isFinite else { throw .badLatency }
        return n / unit.perSecond
    }

    // MARK: - Helpers

    /// "1.5", " 0.3, 0.2 ", "504, 502", "502, -": numbers separated by commas; `-` elements are skipped.
    static func numberList(_ text: UnsafeBufferPointer<UInt8>, list: ListRule) throws(ParseFailure) -> Double? {
        var result: Double?
        var i = 0
        while i <= text.count {
            // Elements are separated by "," (servers of one upstream) or ":" (after an internal redirect).
            var j = i
            while j < text.count && text[j] != 0x2C && text[j] != 0x3A { j += 1 }
            var a = i, b = j
            while a < b && text[a] == 0x20 { a += 1 }
            while b > a && text[b - 1] == 0x20 { b -= 1 }
            if b > a && !(b - a == 1 && text[a] == 0x2D) {
                let element = UnsafeBufferPointer(rebasing: text[a..<b])
                var s = JSONScanner(element)
                let t: JSONScanner.NumberToken
                do throws(ParseFailure) { t = try s.readNumberToken() } catch { throw .wrongType }
                guard s.index == element.count else { throw .wrongType }
                let value = s.doubleValue(t)
                switch list {
                case .last: result = value
                case .sum: result = (result ?? 0) + value
                }
            }
            i = j + 1
        }
        return result
    }

    static func equalsIgnoringCase(_ r: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
        guard r.count == word.utf8CodeUnitCount else { return false }
        for k in 0..<r.count where FailureWords.lower(r[k]) != word.utf8Start[k] { return false }
        return true
    }
}

/// Units of times and durations in a field mapping.
public enum TimeUnit: String, CaseIterable, Sendable {
    case seconds = "s", milliseconds = "ms", microseconds = "us", rfc3339

    /// Units in one second (durations and epoch times); RFC 3339 is text.
    var perSecond: Double {
        switch self {
        case .seconds, .rfc3339: return 1
        case .milliseconds: return 1e3
        case .microseconds: return 1e6
        }
    }
}
