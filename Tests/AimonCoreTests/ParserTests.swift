import Testing
@testable import AimonCore
import AimonSamples

func parse(_ text: String) -> Result<APICall, ParseFailure> {
    parseBytes(Array(text.utf8))
}

func parseBytes(_ bytes: [UInt8]) -> Result<APICall, ParseFailure> {
    bytes.withUnsafeBufferPointer { buf in
        do throws(ParseFailure) { return .success(try NativeParser().parse(buf)) } catch { return .failure(error) }
    }
}

@Suite struct NativeParserTests {
    @Test func everySeedField() throws {
        let line = #"{"timestamp":"2026-11-27T10:00:00Z","user_id":"u1","work_order_id":42,"model_name":"gpt-4o","endpoint":"/v1/chat/completions","success":false,"response_time":1.25,"status_code":503,"error_message":"upstream timeout","input_length":120,"output_length":0}"#
        let call = try parse(line).get()
        #expect(call == APICall(timestamp: 1_795_773_600, userID: "u1", workOrderID: "42", model: "gpt-4o",
                                endpoint: "/v1/chat/completions", success: false, responseTime: 1.25, statusCode: 503,
                                errorMessage: "upstream timeout", inputLength: 120, outputLength: 0))
    }

    @Test(arguments: [
        (#""2026-11-27T10:00:00Z""#, 1_795_773_600.0),
        (#""2026-11-27T10:00:00.250Z""#, 1_795_773_600.25),
        (#""2026-11-27T11:30:00+01:30""#, 1_795_773_600.0),
        (#""2026-11-27T05:00:00-05:00""#, 1_795_773_600.0),
        (#""2026-11-27 10:00:00""#, 1_795_773_600.0),
        (#""2026-11-27t10:00:00z""#, 1_795_773_600.0),
        ("1795773600", 1_795_773_600.0),
        ("1795773600.5", 1_795_773_600.5),
        ("1795773600500", 1_795_773_600.5),
        ("1.7957736e9", 1_795_773_600.0),
        // An offset without a colon, as strftime("%z") writes it.
        (#""2026-11-27T15:30:00+0530""#, 1_795_773_600.0),
        (#""2026-11-27T04:00:00-0600""#, 1_795_773_600.0),
        // Epoch seconds or milliseconds written as JSON strings.
        (#""1795773600.25""#, 1_795_773_600.25),
        (#""1795773600500""#, 1_795_773_600.5),
    ])
    func timestampForms(text: String, expected: Double) throws {
        let call = try parse(#"{"model_name":"m","timestamp":"# + text + "}").get()
        #expect(call.timestamp == expected)
    }

    /// Fractions of any length: the written time within an ulp of the second (2^-22 s here),
    /// nanoseconds kept, every digit checked.
    @Test func fractionsOfASecond() throws {
        func time(_ fraction: String) throws -> Double {
            try #require(try parse(#"{"model_name":"m","timestamp":"2026-11-27T10:00:00."# + fraction + #"Z"}"#).get().timestamp)
        }
        let ulp = 1_795_773_600.0.ulp
        for (text, value) in [("5", 0.5), ("123", 0.123), ("123456789", 0.123456789), ("000000001", 1e-9), ("999999999", 0.999999999),
                              ("1234567890123456789012345", 0.123456789012345678)] {
            #expect(abs(try time(text) - (1_795_773_600 + value)) <= ulp, "\(text)")
        }
        // A time within half an ulp of the next second is that second, as a double can only say.
        #expect(try time("9999999999999999999999") == 1_795_773_601)
        #expect(parse(#"{"model_name":"m","timestamp":"2026-11-27T10:00:00.12a4Z"}"#) == .failure(.badTimestamp))
    }

    @Test func leapYearAndEpochBoundaries() throws {
        #expect(try parse(#"{"model_name":"m","timestamp":"2024-02-29T00:00:00Z"}"#).get().timestamp == 1_709_164_800)
        #expect(try parse(#"{"model_name":"m","timestamp":"1970-01-01T00:00:00Z"}"#).get().timestamp == 0)
        #expect(parse(#"{"model_name":"m","timestamp":"2023-02-29T00:00:00Z"}"#) == .failure(.badTimestamp))
    }

    @Test(arguments: [
        #""yesterday""#, #""2026-13-01T00:00:00Z""#, #""2026-11-27T25:00:00Z""#, #""2026-11-27T10:00:00+010""#,
        #""2026-11-27T10:00:00+01000""#, #""2026-11-27T10:00:00+0160""#, #""2026-11-27T10:00:00+01:0""#, #""-5""#, #""1e999""#,
        #""0x10""#, #""12 ""#,
        #""2026-11-27T10:00:00.Z""#, "-5", "true", "[1]", #""2026-11-27""#,
    ])
    func badTimestamps(text: String) {
        #expect(parse(#"{"model_name":"m","timestamp":"# + text + "}") == .failure(.badTimestamp))
    }

    @Test func successDerivedWhenAbsent() throws {
        #expect(try parse(#"{"model_name":"m","status_code":200}"#).get().success)
        #expect(try parse(#"{"model_name":"m","status_code":399}"#).get().success)
        #expect(try !parse(#"{"model_name":"m","status_code":400}"#).get().success)
        #expect(try !parse(#"{"model_name":"m","status_code":200,"error_message":"boom"}"#).get().success)
        #expect(try parse(#"{"model_name":"m","status_code":200,"error_message":""}"#).get().success)
        #expect(try parse(#"{"model_name":"m","success":null,"status_code":204}"#).get().success)
        #expect(try parse(#"{"model_name":"m"}"#).get().success)
        // An explicit field wins over the status.
        #expect(try parse(#"{"model_name":"m","success":true,"status_code":500}"#).get().success)
        #expect(try !parse(#"{"model_name":"m","success":false,"status_code":200}"#).get().success)
    }

    @Test func nullsAndOptionalFields() throws {
        let call = try parse(#"{"model_name":"m","user_id":null,"work_order_id":null,"endpoint":null,"response_time":null,"status_code":null,"error_message":null,"input_length":null,"output_length":null,"timestamp":null}"#).get()
        #expect(call == APICall(model: "m", success: true))
        #expect(try parse(#"{"model_name":"m","user_id":1234,"work_order_id":"WO-7"}"#).get().userID == "1234")
        #expect(try parse(#"{"model_name":"m","work_order_id":"WO-7"}"#).get().workOrderID == "WO-7")
    }

    @Test func escapesAndUnicode() throws {
        let call = try parse(#"{"model_name":"gpt\u002d4o \"turbo\" \\ \/ é 日本 \ud83d\ude00","error_message":"line1\nline2\ttab"}"#).get()
        #expect(call.model == "gpt-4o \"turbo\" \\ / é 日本 😀")
        #expect(call.errorMessage == "line1\nline2\ttab")
        // Escaped key names still match.
        #expect(try parse(#"{"model\u005fname":"m2"}"#).get().model == "m2")
        // Lone surrogate escapes are legal JSON; they decode to U+FFFD.
        #expect(try parse(#"{"model_name":"a\ud800b"}"#).get().model == "a\u{FFFD}b")
    }

    @Test func unknownFieldsAndNestedValuesAreSkipped() throws {
        let call = try parse(#"{"extra":{"a":[1,2,{"b":null}],"c":"}"},"model_name":"m","list":[[],{}],"n":-0.5e-3,"t":true}"#).get()
        #expect(call.model == "m")
    }

    @Test func numbersInEveryLegalForm() throws {
        // Latencies without a ceiling, to read numbers of every size.
        let parser = NativeParser(limits: RecordLimits(maxLatency: .greatestFiniteMagnitude))
        for (text, value) in [("0", 0.0), ("1.5", 1.5), ("1e3", 1000), ("1E+2", 100), ("25e-1", 2.5), ("0.000001", 0.000001),
                              ("12345678901234567890", 12345678901234567890.0)] {
            let line = #"{"model_name":"m","response_time":"# + text + "}"
            #expect(try FormatFixtures.parse(line, with: parser).get().responseTime == value, "\(text)")
        }
    }

    @Test(arguments: [
        ("", ParseFailure.emptyLine), (" \t ", .emptyLine), ("not json", .invalidJSON), ("{", .truncated),
        (#"{"model_name":"m""#, .truncated), (#"{"model_name":"m","#, .truncated), (#"{"model_name":"#, .truncated),
        (#"{"model_name":"gpt"#, .truncated), (#"[{"model_name":"m"}]"#, .notAnObject), (#""just a string""#, .notAnObject),
        ("42", .notAnObject), ("null", .notAnObject), (#"{"model_name":"m"} trailing"#, .invalidJSON),
        (#"{"model_name":"m"}{"model_name":"m"}"#, .invalidJSON), (#"{"model_name":'m'}"#, .invalidJSON),
        (#"{model_name:"m"}"#, .invalidJSON), (#"{"model_name":"m",}"#, .invalidJSON), (#"{"model_name" "m"}"#, .invalidJSON),
        (#"{"model_name":"m","n":01}"#, .invalidJSON), (#"{"model_name":"m","n":1.}"#, .invalidJSON),
        (#"{"model_name":"m","n":.5}"#, .invalidJSON), (#"{"model_name":"m","n":+1}"#, .invalidJSON),
        (#"{"model_name":"m","n":1e}"#, .invalidJSON), (#"{"model_name":"m","n":NaN}"#, .invalidJSON),
        (#"{"model_name":"m","b":tru}"#, .invalidJSON), (#"{"model_name":"a\qb"}"#, .invalidJSON),
        (#"{"model_name":"a\u12G4"}"#, .invalidJSON), ("{\"model_name\":\"a\tb\"}", .invalidJSON),
        (#"{}"#, .missingModel), (#"{"model_name":null}"#, .missingModel), (#"{"model_name":""}"#, .missingModel),
        (#"{"user_id":"u"}"#, .missingModel), (#"{"model_name":5}"#, .wrongType), (#"{"model_name":["m"]}"#, .wrongType),
        (#"{"model_name":"m","success":"yes"}"#, .wrongType), (#"{"model_name":"m","response_time":"fast"}"#, .wrongType),
        (#"{"model_name":"m","response_time":-1}"#, .badLatency), (#"{"model_name":"m","status_code":"200"}"#, .wrongType),
        (#"{"model_name":"m","status_code":200.5}"#, .badStatus), (#"{"model_name":"m","input_length":-3}"#, .badCount),
        (#"{"model_name":"m","user_id":{"id":1}}"#, .wrongType), (#"{"model_name":"m","error_message":404}"#, .wrongType),
    ])
    func badLines(text: String, reason: ParseFailure) {
        #expect(parse(text) == .failure(reason), "\(text)")
    }

    /// The string scanner's fast path goes 16 (SSE2) or 8 (SWAR) bytes a step: a special byte at
    /// every offset across several steps must be found where it is.
    @Test func specialBytesAtEveryOffsetOfALongString() throws {
        for length in 0..<48 {
            for at in 0..<length {
                func model(_ special: [UInt8]) -> Result<APICall, ParseFailure> {
                    var name = [UInt8](repeating: 0x61, count: length)
                    name.replaceSubrange(at..<(at + 1), with: special)
                    return parseBytes(Array(#"{"model_name":""#.utf8) + name + Array(#""}"#.utf8))
                }
                var expected = [UInt8](repeating: 0x61, count: length)
                expected[at] = 0x22
                #expect(try model([0x5C, 0x22]).get().model == String(decoding: expected, as: UTF8.self))  // \"
                expected.replaceSubrange(at..<(at + 1), with: Array("é".utf8))
                #expect(try model(Array("é".utf8)).get().model == String(decoding: expected, as: UTF8.self))
                #expect(model([0x0A]) == .failure(.invalidJSON), "control byte at \(at) of \(length)")
                #expect(model([0xFF]) == .failure(.invalidUTF8), "invalid UTF-8 at \(at) of \(length)")
                #expect(model([0x00]) == .failure(.nulByte))
                // A quote ends the string early: the rest is not JSON.
                #expect(model([0x22]) == .failure(.invalidJSON))
            }
            // Cut off inside the string, at every length: truncated, not read past the end.
            #expect(parseBytes(Array(#"{"model_name":""#.utf8) + [UInt8](repeating: 0x62, count: length)) == .failure(.truncated))
        }
    }

    @Test func invalidUTF8AndNulBytes() throws {
        var bytes = Array(#"{"model_name":"m"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(parseBytes(bytes) == .failure(.invalidUTF8))
        bytes = Array(#"{"model_name":"m"#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8)  // encoded surrogate
        #expect(parseBytes(bytes) == .failure(.invalidUTF8))
        bytes = Array(#"{"model_name":"m"#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)  // overlong encoding
        #expect(parseBytes(bytes) == .failure(.invalidUTF8))
        bytes = Array(#"{"model_name":"m"#.utf8) + [0xFF] + Array(#""}"#.utf8)
        #expect(parseBytes(bytes) == .failure(.invalidUTF8))
        bytes = Array(#"{"model_name":"m"}"#.utf8) + [0]
        #expect(parseBytes(bytes) == .failure(.nulByte))
        bytes = [0, 0, 0, 0]
        #expect(parseBytes(bytes) == .failure(.nulByte))
        // Valid multi-byte UTF-8 of every length is accepted.
        #expect(try parseBytes(Array(#"{"model_name":"é€𝄞"}"#.utf8)).get().model == "é€𝄞")
    }

    @Test func cachedStringsStayCorrectAcrossManyLongNames() throws {
        let parser = NativeParser()
        let names = (0..<300).map { "provider-\($0 % 7)/model-name-number-\($0)" } + ["x-model-16-bytes", "y-model-16-bytes"]
        var rng = SplitMix64(seed: 4)
        for _ in 0..<5000 {
            let name = names[Int(rng.next() % UInt64(names.count))]
            let endpoint = "/v1/chat/completions/\(rng.next() % 40)"
            let line = Array(#"{"model_name":"\#(name)","endpoint":"\#(endpoint)"}"#.utf8)
            let call = try line.withUnsafeBufferPointer { buf throws(ParseFailure) in try parser.parse(buf) }
            #expect(call.model == name)
            #expect(call.endpoint == endpoint)
        }
    }

    @Test func deepNestingIsRejectedNotOverflowed() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(parse(#"{"model_name":"m","x":"# + deep) == .failure(.invalidJSON))
    }
}
