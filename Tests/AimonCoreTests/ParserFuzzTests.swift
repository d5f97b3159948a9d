import Foundation
import Testing
@testable import AimonCore
import AimonSamples

/// Random and mutated lines: the scanner must not crash or hang, and must agree with an independent
/// JSON parser (Foundation's) on whether a line is JSON at all.
@Suite struct ParserFuzzTests {
    static let seeds: [String] = {
        var log = SampleLog(seed: 3)
        var lines = (0..<20).map { log.line(at: 1_795_000_000 + Double($0)).dropLast().description }
        lines += [
            #"{"model_name":"m","extra":{"a":[1,2.5e-3,{"b":null,"c":[true,false]}]},"s":"x\"y\\z\u00e9"}"#,
            #"{"model_name":"日本","error_message":"é\n\t","response_time":0.5,"status_code":429}"#,
            #"[1,{"a":"b"},null,-0.0]"#, #""str""#, "123.456e+7",
        ]
        return lines
    }()

    static let tokens: [[UInt8]] = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\u00", "0", "-", ".", "e", "E", "+",
                                   "true", "null", "fals", " ", "\t", "\n", "\u{7F}", "é"].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xE2, 0x82], [0x00], [0x1F]]

    /// True when the parser's answer says "this is valid JSON" (whatever it thinks of the fields).
    static func acceptsAsJSON(_ r: Result<APICall, ParseFailure>) -> Bool {
        switch r {
        case .success: return true
        case let .failure(f):
            switch f {
            case .missingModel, .wrongType, .badTimestamp, .notAnObject, .notACall, .futureTimestamp, .badLatency, .badCount,
                 .badStatus, .badCost, .modelTooLong: return true
            case .invalidJSON, .truncated, .invalidUTF8, .nulByte, .emptyLine: return false
            }
        }
    }

    static func foundationAccepts(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
    }

    static func hasTrailingComma(_ b: [UInt8]) -> Bool {
        var i = 0
        while i < b.count {
            if b[i] == 0x2C {
                var j = i + 1
                while j < b.count, [0x20, 0x09, 0x0A, 0x0D].contains(b[j]) { j += 1 }
                if j < b.count, b[j] == 0x7D || b[j] == 0x5D { return true }
            }
            i += 1
        }
        return false
    }

    static func hasHugeExponent(_ b: [UInt8]) -> Bool {
        for i in b.indices where (b[i] == 0x65 || b[i] == 0x45) && i > 0 && JSONScanner.isDigit(b[i - 1]) {
            var j = i + 1
            if j < b.count, b[j] == 0x2B || b[j] == 0x2D { j += 1 }
            var digits = 0
            while j < b.count, JSONScanner.isDigit(b[j]) { digits += 1; j += 1 }
            if digits >= 3 { return true }
        }
        return false
    }

    @Test func mutatedLinesAgreeWithAnIndependentParser() {
        var rng = SplitMix64(seed: 2026)
        var disagreements: [String] = []
        var accepted = 0
        for i in 0..<30_000 {
            var bytes = Array(Self.seeds[i % Self.seeds.count].utf8)
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 5 {
                case 0: if !bytes.isEmpty { bytes.remove(at: at) }
                case 1: bytes.insert(contentsOf: Self.tokens[Int(rng.next() % UInt64(Self.tokens.count))], at: at)
                case 2: if !bytes.isEmpty { bytes[at] = UInt8(truncatingIfNeeded: rng.next()) }
                case 3: bytes = Array(bytes[..<at])  // truncation
                default: if !bytes.isEmpty { bytes[at] ^= 1 << UInt8(rng.next() % 8) }
                }
            }
            let ours = parseBytes(bytes)
            if Self.acceptsAsJSON(ours) { accepted += 1 }
            // Lone surrogate escapes are legal JSON that Foundation refuses: not a disagreement.
            if bytes.count > 0, String(decoding: bytes, as: UTF8.self).contains("\\u") { continue }
            let foundation = Self.foundationAccepts(bytes)
            // Foundation departs from RFC 8259 in two known ways: it accepts a trailing comma, and it
            // refuses numbers beyond Double's range (1e999). Those lines are judged by the RFC alone.
            if foundation && !Self.acceptsAsJSON(ours) && Self.hasTrailingComma(bytes) { continue }
            if !foundation && Self.acceptsAsJSON(ours) && Self.hasHugeExponent(bytes) { continue }
            if Self.acceptsAsJSON(ours) != foundation {
                disagreements.append("\(ours): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10).joined(separator: "\n"))")
        #expect(accepted > 1000, "the mutations should leave many lines valid (\(accepted))")
    }

    /// Every preset's mapped parser, on mutated fixture lines, agrees with the native parser (checked
    /// against Foundation above) on whether a line is JSON at all, and never crashes.
    @Test func mappedParsersAgreeOnValidity() {
        var rng = SplitMix64(seed: 7)
        let native = NativeParser()
        var disagreements: [String] = []
        for format in LogFormat.allCases {
            let parser = MappedParser(.preset(format))
            let lines = FormatFixtures.lines(format.rawValue)
            for i in 0..<4_000 {
                var bytes = Array(lines[i % lines.count].utf8)
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let at = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 4 {
                    case 0: if !bytes.isEmpty { bytes.remove(at: at) }
                    case 1: bytes.insert(contentsOf: Self.tokens[Int(rng.next() % UInt64(Self.tokens.count))], at: at)
                    case 2: bytes = Array(bytes[..<at])
                    default: if !bytes.isEmpty { bytes[at] ^= 1 << UInt8(rng.next() % 8) }
                    }
                }
                let theirs = bytes.withUnsafeBufferPointer { buf -> Result<APICall, ParseFailure> in
                    do throws(ParseFailure) { return .success(try native.parse(buf)) } catch { return .failure(error) }
                }
                let direct = bytes.withUnsafeBufferPointer { buf -> Result<APICall, ParseFailure> in
                    do throws(ParseFailure) { return .success(try parser.parse(buf)) } catch { return .failure(error) }
                }
                if Self.acceptsAsJSON(direct) != Self.acceptsAsJSON(theirs) {
                    disagreements.append("\(format.rawValue): \(direct) vs \(theirs): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5).joined(separator: "\n"))")
    }

    @Test func randomBytesNeverCrashOrHang() {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 300)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 2 == 0, !bytes.isEmpty { bytes[0] = 0x7B }
            let r = parseBytes(bytes)
            if case .success = r { #expect(Self.foundationAccepts(bytes), "accepted random bytes \(bytes)") }
        }
    }
}
