import Testing
@testable import AimonCore

/// Ingest parses every line into one record it reuses (`LineParser.parse(_:into:)`): nothing of an
/// earlier line may stay in it. And the NUL search runs only once a line failed: a NUL byte anywhere
/// must still be reported as `nul_byte`.
@Suite struct RecordReuseTests {
    static func fresh(_ parser: any LineParser, _ line: [UInt8]) -> Result<APICall, ParseFailure> {
        line.withUnsafeBufferPointer { buf in
            do throws(ParseFailure) { return .success(try parser.parse(buf)) } catch { return .failure(error) }
        }
    }

    static func into(_ parser: any LineParser, _ line: [UInt8], _ record: inout APICall) -> Result<APICall, ParseFailure> {
        line.withUnsafeBufferPointer { buf in
            do throws(ParseFailure) { try parser.parse(buf, into: &record); return .success(record) } catch { return .failure(error) }
        }
    }

    /// A record with every field set (to values no fixture line has): a field a parser forgets to
    /// write keeps one of these.
    static let stale = APICall(
        timestamp: 1, userID: "stale-user", workOrderID: "stale-order", model: "stale-model", endpoint: "/stale",
        outcome: .rateLimited, responseTime: 99, statusCode: 999, errorMessage: "stale", inputLength: 99_999,
        outputLength: 99_999, inputTokens: 99_999, outputTokens: 99_999, cachedInputTokens: 99_999, cost: 9_999,
        ttft: 99, deployment: "stale-deployment")

    /// Every fixture line of every preset after every other (bad lines included), and after a record
    /// with every field set, into one record.
    @Test(arguments: LogFormat.allCases)
    func aReusedRecordHoldsOnlyItsLine(_ format: LogFormat) {
        let lines = FormatFixtures.lines(format.rawValue).map { Array($0.utf8) }
        #expect(lines.count >= 5)
        let parser = SourceFormat.preset(format).makeParser()
        var record = APICall(model: "")
        for b in lines {
            let fresh = Self.fresh(parser, b)
            record = Self.stale
            #expect(Self.into(parser, b, &record) == fresh, "\(format.rawValue): after a record with every field set")
            for a in lines {
                _ = Self.into(parser, a, &record)
                #expect(Self.into(parser, b, &record) == fresh, "\(format.rawValue): after \(String(decoding: a, as: UTF8.self))")
            }
        }
    }

    /// A native line with every field, then lines with fewer: the record has only the later line's.
    @Test func aNativeLineWithEveryFieldLeavesNothingBehind() throws {
        let full = Array(#"{"timestamp":"2026-11-27T10:00:00Z","user_id":"u1","work_order_id":42,"model_name":"gpt-4o","endpoint":"/v1/chat","success":false,"response_time":1.25,"status_code":503,"error_message":"upstream timeout","input_length":120,"output_length":7,"input_tokens":10,"output_tokens":20,"cached_input_tokens":5,"cost":0.5,"ttft":0.2,"deployment":"azure-east"}"#.utf8)
        let parsers: [any LineParser] = [NativeParser(), SourceFormat(preset: .native, custom: FieldMapping(fields: LogFormat.native.mapping.fields)).makeParser()]
        for parser in parsers {
            var record = Self.stale
            for (later, want) in [(#"{"model_name":"m"}"#, APICall(model: "m")),
                                  (#"{"model_name":"m","status_code":200}"#, APICall(model: "m", statusCode: 200)),
                                  (#"{"model_name":"m","success":true,"error_message":"x"}"#, APICall(model: "m"))] {
                #expect(try Self.into(parser, full, &record).get().deployment == "azure-east")
                let got = Self.into(parser, Array(later.utf8), &record)
                #expect(got == Self.fresh(parser, Array(later.utf8)))
                #expect(got == .success(want), "\(type(of: parser)) after a full line: \(later)")
            }
        }
    }

    /// A NUL byte wherever it stands: inside a string, between tokens, in a value no format reads,
    /// after the object, before it.
    @Test(arguments: [LogFormat.native, .litellm, .nginx, .otlpJSON])
    func aNulByteAnywhereIsANulByte(_ format: LogFormat) {
        let line = Array(FormatFixtures.lines(format.rawValue)[0].utf8)
        let parser = SourceFormat.preset(format).makeParser()
        guard case .success = Self.fresh(parser, line) else { Issue.record("the first \(format.rawValue) fixture line parses"); return }
        var record = APICall(model: "")
        for at in [0, 1, 2, line.count / 3, line.count / 2, line.count - 2, line.count - 1, line.count] {
            var bytes = line
            bytes.insert(0, at: at)
            #expect(Self.fresh(parser, bytes) == .failure(.nulByte), "\(format.rawValue): a NUL at \(at)")
            #expect(Self.into(parser, bytes, &record) == .failure(.nulByte), "\(format.rawValue): a NUL at \(at)")
            bytes = line
            bytes[min(at, line.count - 1)] = 0
            #expect(Self.fresh(parser, bytes) == .failure(.nulByte), "\(format.rawValue): byte \(at) made NUL")
        }
    }
}
