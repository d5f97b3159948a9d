#if arch(x86_64)
import CByteScan
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A strict, allocation-free JSON scanner over one line's bytes.
///
/// The hot path cannot afford Foundation's decoder (see PLATFORM.md: ~190k lines/s against ~2.8M for a
/// byte scanner). This scanner validates everything RFC 8259 requires (structure, string escapes,
/// `\u` sequences, UTF-8, number grammar, no trailing bytes) and hands out values as byte ranges, so
/// callers materialise only the fields they need. Nesting depth is bounded, so hostile input cannot
/// exhaust the stack.
public struct JSONScanner {
    public let bytes: UnsafeBufferPointer<UInt8>
    public var index: Int = 0
    public static let maxDepth = 64

    public init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// A string value or key: the range between the quotes, still escaped when `hasEscapes`.
    public struct StringToken {
        public var start: Int
        public var end: Int
        public var hasEscapes: Bool
    }

    public enum ValueKind: Equatable { case string, number, bool, null, object, array }

    @inline(__always) public var atEnd: Bool { index >= bytes.count }

    @inline(__always) public mutating func skipWhitespace() {
        guard index < bytes.count, bytes[index] <= 0x20 else { return }  // the usual case: none
        while index < bytes.count {
            let b = bytes[index]
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 } else { return }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    @inline(__always) public mutating func peek() throws(ParseFailure) -> UInt8 {
        skipWhitespace()
        guard index < bytes.count else { throw .truncated }
        return bytes[index]
    }

    @inline(__always) public mutating func expect(_ byte: UInt8) throws(ParseFailure) {
        if index < bytes.count && bytes[index] == byte { index += 1; return }  // no whitespace: the usual case
        let b = try peek()
        guard b == byte else { throw .invalidJSON }
        index += 1
    }

    /// Reads a string starting at the opening quote; validates escapes and UTF-8.
    public mutating func readString() throws(ParseFailure) -> StringToken {
        guard try peek() == 0x22 else { throw .invalidJSON }
        let base = bytes.baseAddress!
        let count = bytes.count
        var i = index + 1
        let start = i
        var hasEscapes = false
        while true {
            // Fast path: straight to the first quote, backslash, control or non-ASCII byte; 16 bytes a
            // step with SSE2 (CByteScan), else 8 with SWAR.
            #if arch(x86_64)
            i += aimon_string_special(base + i, count - i)
            #else
            if i + 8 <= count {
                let mask = Self.specialBytes(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                if mask == 0 { i += 8; continue }
                i += mask.trailingZeroBitCount >> 3
            }
            #endif
            guard i < count else { index = i; throw .truncated }
            let b = base[i]
            if b == 0x22 {
                index = i + 1
                return StringToken(start: start, end: i, hasEscapes: hasEscapes)
            } else if b == 0x5C {
                hasEscapes = true
                i += 1
                guard i < count else { index = i; throw .truncated }
                switch base[i] {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: i += 1
                case 0x75:
                    i += 1
                    for _ in 0..<4 {
                        guard i < count else { index = i; throw .truncated }
                        guard Self.hexValue(base[i]) != nil else { throw .invalidJSON }
                        i += 1
                    }
                default: throw .invalidJSON
                }
            } else if b < 0x20 {
                throw b == 0 ? .nulByte : .invalidJSON
            } else if b < 0x80 {
                i += 1
            } else {
                index = i
                try skipUTF8Sequence()
                i = index
            }
        }
    }

    /// A mask whose lowest set bit is the high bit of the first byte (little-endian) that is a quote,
    /// a backslash, below 0x20 or at/above 0x80; 0 when the 8 bytes are all plain (SWAR). Borrows
    /// only run upwards, so bits above the first special byte may be spurious but the lowest is exact.
    @inline(__always) static func specialBytes(_ x: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let quote = zeroBytes(x ^ (ones &* 0x22))
        let backslash = zeroBytes(x ^ (ones &* 0x5C))
        let control = (x &- ones &* 0x20) & ~x & highs
        return quote | backslash | control | (x & highs)
    }

    /// Validates one multi-byte UTF-8 sequence at `index` (RFC 3629: no overlongs, no surrogates).
    @inline(__always) private mutating func skipUTF8Sequence() throws(ParseFailure) {
        let b0 = bytes[index]
        let length: Int
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: throw .invalidUTF8
        }
        guard index + length <= bytes.count else { throw .invalidUTF8 }
        let b1 = bytes[index + 1]
        guard b1 >= lower && b1 <= upper else { throw .invalidUTF8 }
        var k = 2
        while k < length {
            guard bytes[index + k] & 0xC0 == 0x80 else { throw .invalidUTF8 }
            k += 1
        }
        index += length
    }

    /// Skips a number, validating the JSON grammar, without building its value (values a format
    /// does not read: most numbers of a long line).
    @inline(__always) mutating func skipNumber() throws(ParseFailure) {
        let p = bytes.baseAddress!
        let n = bytes.count
        var i = index
        defer { index = i }
        if p[i] == 0x2D { i += 1 }
        guard i < n else { throw .truncated }
        if p[i] == 0x30 {
            i += 1
        } else if p[i] &- 0x31 < 9 {
            while i < n && p[i] &- 0x30 < 10 { i += 1 }
        } else {
            throw .invalidJSON
        }
        if i < n && p[i] == 0x2E {
            i += 1
            guard i < n else { throw .truncated }
            guard p[i] &- 0x30 < 10 else { throw .invalidJSON }
            while i < n && p[i] &- 0x30 < 10 { i += 1 }
        }
        if i < n && (p[i] == 0x65 || p[i] == 0x45) {
            i += 1
            guard i < n else { throw .truncated }
            if p[i] == 0x2B || p[i] == 0x2D { i += 1 }
            guard i < n else { throw .truncated }
            guard p[i] &- 0x30 < 10 else { throw .invalidJSON }
            while i < n && p[i] &- 0x30 < 10 { i += 1 }
        }
    }


    /// A number read in one pass: its range, and its decimal digits as an integer when they fit.
    public struct NumberToken {
        public var range: Range<Int>
        /// All the digits of the integer and fraction parts, as one integer (valid when `digits` <= 19).
        public var mantissa: UInt64
        public var digits: Int
        public var fractionDigits: Int
        public var negative: Bool
        public var hasExponent: Bool
    }

    /// Reads a number, validating the JSON grammar and accumulating its digits on the way.
    public mutating func readNumberToken() throws(ParseFailure) -> NumberToken {
        _ = try peek()
        let p = bytes.baseAddress!
        let n = bytes.count
        let start = index
        var i = index
        defer { index = i }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        let negative = p[i] == 0x2D
        if negative { i += 1 }
        guard i < n else { throw .truncated }
        if p[i] == 0x30 {
            i += 1
            digits = 1
        } else if p[i] >= 0x31 && p[i] <= 0x39 {
            while i < n, case let d = p[i] &- 0x30, d < 10 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                digits += 1
                i += 1
            }
        } else {
            throw .invalidJSON
        }
        if i < n && p[i] == 0x2E {
            i += 1
            guard i < n else { throw .truncated }
            guard Self.isDigit(p[i]) else { throw .invalidJSON }
            while i < n, case let d = p[i] &- 0x30, d < 10 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                digits += 1
                fractionDigits += 1
                i += 1
            }
        }
        var hasExponent = false
        if i < n && (p[i] == 0x65 || p[i] == 0x45) {
            hasExponent = true
            i += 1
            guard i < n else { throw .truncated }
            if p[i] == 0x2B || p[i] == 0x2D { i += 1 }
            guard i < n else { throw .truncated }
            guard Self.isDigit(p[i]) else { throw .invalidJSON }
            while i < n && Self.isDigit(p[i]) { i += 1 }
        }
        return NumberToken(range: start..<i, mantissa: mantissa, digits: digits, fractionDigits: fractionDigits,
                           negative: negative, hasExponent: hasExponent)
    }

    /// The value as a Double, without exponent and up to 19 digits from the digits read: correctly
    /// rounded up to 15 digits (an integer below 2^53 divided by an exact power of ten), within an ulp
    /// or two up to 19 (epoch times with microseconds, as LiteLLM writes them). `strtod` otherwise.
    @inline(__always) public func doubleValue(_ t: NumberToken) -> Double {
        if !t.hasExponent && t.digits <= 19 && t.fractionDigits <= 22 {
            let value = Double(t.mantissa) / Self.powerOfTen(t.fractionDigits)
            return t.negative ? -value : value
        }
        return doubleValue(t.range)
    }

    /// The value when it is an integer that fits in Int64 (no fraction, no exponent).
    @inline(__always) public func integerValue(_ t: NumberToken) -> Int64? {
        guard !t.hasExponent, t.fractionDigits == 0, t.digits <= 18 else { return nil }
        return t.negative ? -Int64(t.mantissa) : Int64(t.mantissa)
    }

    @inline(__always) static func powerOfTen(_ e: Int) -> Double {
        switch e {
        case 0: return 1
        case 1: return 1e1
        case 2: return 1e2
        case 3: return 1e3
        case 4: return 1e4
        case 5: return 1e5
        case 6: return 1e6
        case 7: return 1e7
        case 8: return 1e8
        case 9: return 1e9
        case 10: return 1e10
        case 11: return 1e11
        case 12: return 1e12
        case 13: return 1e13
        case 14: return 1e14
        case 15: return 1e15
        case 16: return 1e16
        case 17: return 1e17
        case 18: return 1e18
        case 19: return 1e19
        case 20: return 1e20
        case 21: return 1e21
        default: return 1e22
        }
    }

    /// Reads a literal (`true`, `false`, `null`).
    private mutating func readLiteral(_ word: StaticString) throws(ParseFailure) {
        let count = word.utf8CodeUnitCount
        let w = word.utf8Start
        for k in 0..<count {
            guard index + k < bytes.count else { throw .truncated }
            guard bytes[index + k] == w[k] else { throw .invalidJSON }
        }
        index += count
    }

    /// The kind of the value that starts at the next non-whitespace byte.
    @inline(__always) public mutating func peekKind() throws(ParseFailure) -> ValueKind {
        switch try peek() {
        case 0x22: return .string
        case 0x7B: return .object
        case 0x5B: return .array
        case 0x74, 0x66: return .bool
        case 0x6E: return .null
        case 0x2D, 0x30...0x39: return .number
        case 0: throw .nulByte
        default: throw .invalidJSON
        }
    }

    public mutating func readBool() throws(ParseFailure) -> Bool {
        if try peek() == 0x74 {
            if index + 4 <= bytes.count, load32(index) == 0x6575_7274 { index += 4; return true }  // "true"
            try readLiteral("true")
            return true
        }
        try readLiteral("false")
        return false
    }

    @inline(__always) private func load32(_ at: Int) -> UInt32 {
        UnsafeRawPointer(bytes.baseAddress! + at).loadUnaligned(as: UInt32.self)
    }

    public mutating func readNull() throws(ParseFailure) {
        _ = try peek()
        if index + 4 <= bytes.count, load32(index) == 0x6C6C_756E { index += 4; return }  // "null"
        try readLiteral("null")
    }

    /// Skips any value, validating it, with nesting bounded by `maxDepth`.
    public mutating func skipValue(depth: Int = 0) throws(ParseFailure) {
        guard depth < Self.maxDepth else { throw .invalidJSON }
        switch try peekKind() {
        case .string: _ = try readString()
        case .number: try skipNumber()
        case .bool: _ = try readBool()
        case .null: try readNull()
        case .object:
            index += 1
            if try peek() == 0x7D { index += 1; return }
            while true {
                _ = try readString()
                try expect(0x3A)
                try skipValue(depth: depth + 1)
                let b = try peek()
                index += 1
                if b == 0x7D { return }
                guard b == 0x2C else { throw .invalidJSON }
            }
        case .array:
            index += 1
            if try peek() == 0x5D { index += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                let b = try peek()
                index += 1
                if b == 0x5D { return }
                guard b == 0x2C else { throw .invalidJSON }
            }
        }
    }

    /// Iterates the members of the object at the cursor; `body` must consume each value.
    public mutating func readObject(
        _ body: (inout JSONScanner, StringToken) throws(ParseFailure) -> Void
    ) throws(ParseFailure) {
        try expect(0x7B)
        if try peek() == 0x7D { index += 1; return }
        while true {
            let key = try readString()
            try expect(0x3A)
            try body(&self, key)
            let b = index < bytes.count && bytes[index] > 0x20 ? bytes[index] : try peek()
            index += 1
            if b == 0x7D { return }
            guard b == 0x2C else { throw .invalidJSON }
        }
    }

    /// Stops at a line's opening brace. A line of nothing but whitespace is `emptyLine`; valid JSON of
    /// another shape is "not an object"; anything else is not JSON.
    @inline(__always) public mutating func expectObjectLine() throws(ParseFailure) {
        skipWhitespace()
        if atEnd { throw .emptyLine }
        guard try peek() == 0x7B else {
            try skipValue()
            try expectEnd()
            throw .notAnObject
        }
    }

    /// Fails unless only whitespace remains.
    public mutating func expectEnd() throws(ParseFailure) {
        skipWhitespace()
        guard index == bytes.count else { throw bytes[index] == 0 ? .nulByte : .invalidJSON }
    }

    // MARK: - Materialising values

    /// True when the token's (unescaped) bytes equal `literal`; keys are compared without allocating.
    @inline(__always) public func equals(_ token: StringToken, _ literal: StaticString) -> Bool {
        if token.hasEscapes { return decodeString(token).utf8.elementsEqual(
            UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)) }
        let count = literal.utf8CodeUnitCount
        guard token.end - token.start == count else { return false }
        return memcmp(bytes.baseAddress! + token.start, literal.utf8Start, count) == 0
    }

    /// The string's value, escapes decoded (lone surrogates become U+FFFD).
    public func decodeString(_ token: StringToken) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
        if !token.hasEscapes { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            let b = raw[i]
            guard b == 0x5C else { out.append(b); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var scalar = Self.hex4(raw, i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar), i + 6 <= raw.count, raw[i] == 0x5C, raw[i + 1] == 0x75 {
                    let low = Self.hex4(raw, i + 2)
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                let value = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: String(Character(value)).utf8)
            default: out.append(e)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value of the number in `range`, by `strtod` (the slow path of `doubleValue(_: NumberToken)`).
    func doubleValue(_ range: Range<Int>) -> Double {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: range.count + 1) { buffer in
            for (k, j) in range.enumerated() { buffer[k] = CChar(bitPattern: bytes[j]) }
            buffer[range.count] = 0
            return strtod(buffer.baseAddress!, nil)
        }
    }

    // MARK: - Helpers

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    @inline(__always) static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: return UInt32(b - 0x30)
        case 0x41...0x46: return UInt32(b - 0x41 + 10)
        case 0x61...0x66: return UInt32(b - 0x61 + 10)
        default: return nil
        }
    }

    static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 4 | (hexValue(raw[at + k]) ?? 0) }
        return v
    }
}
