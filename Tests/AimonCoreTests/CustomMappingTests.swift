import Testing
@testable import AimonCore

/// `fields:` mappings: alone, and laid over a preset; how values are read; the success rules.
@Suite struct CustomMappingTests {
    static func path(_ s: String) -> JSONPath { try! JSONPath(parsing: s) }
    static func source(_ paths: String..., unit: TimeUnit? = nil) -> FieldMapping.Source {
        FieldMapping.Source(paths: paths.map(path), unit: unit)
    }

    static func custom(_ fields: [FieldMapping.Field: FieldMapping.Source], success: FieldMapping.SuccessRule? = nil,
                       preset: LogFormat? = nil) -> SourceFormat {
        SourceFormat(preset: preset, custom: FieldMapping(fields: fields, success: success))
    }

    static let app = custom([
        .model: source("req.body.model"), .timestamp: source("ts", unit: .milliseconds),
        .responseTime: source("timing.total_us", unit: .microseconds), .statusCode: source("res.code"),
        .userID: source("auth.user", "auth.key_id"), .errorMessage: source("res.error.message"),
        .inputLength: source("usage.in"), .outputLength: source("usage.out"),
    ])

    @Test func dottedPathsAndUnits() throws {
        let line = #"{"ts":1795773600250,"req":{"id":"r1","body":{"model":"gpt-4o","messages":[{"model":"no"}]}},"res":{"code":200},"timing":{"total_us":1500000},"auth":{"user":null,"key_id":17},"usage":{"in":10,"out":"20"}}"#
        let call = try FormatFixtures.parse(line, Self.app).get()
        #expect(sameRecord(call, APICall(timestamp: 1_795_773_600.25, userID: "17", model: "gpt-4o", outcome: .success,
                                         responseTime: 1.5, statusCode: 200, inputLength: 10, outputLength: 20)))
        let failed = try FormatFixtures.parse(#"{"ts":1795773600000,"req":{"body":{"model":"m"}},"res":{"code":503,"error":{"message":"overloaded"}}}"#, Self.app).get()
        #expect(failed.outcome == .providerError && failed.errorMessage == "overloaded" && failed.responseTime == nil)
    }

    @Test func timeUnits() throws {
        func ts(_ value: String, _ unit: TimeUnit?) -> Result<APICall, ParseFailure> {
            FormatFixtures.parse(#"{"m":"x","s":200,"t":"# + value + "}", Self.custom([.model: Self.source("m"), .statusCode: Self.source("s"),
                                                                                      .timestamp: Self.source("t", unit: unit)]))
        }
        #expect(try ts(#""2026-11-27T10:00:00Z""#, .rfc3339).get().timestamp == 1_795_773_600)
        #expect(try ts(#""2026-11-27T10:00:00Z""#, nil).get().timestamp == 1_795_773_600)
        #expect(try ts("1795773600", .seconds).get().timestamp == 1_795_773_600)
        #expect(try ts("1795773600500", .milliseconds).get().timestamp == 1_795_773_600.5)
        #expect(try ts("1795773600000000", .microseconds).get().timestamp == 1_795_773_600)
        #expect(try ts(#""1795773600.5""#, .seconds).get().timestamp == 1_795_773_600.5)
        #expect(try ts("1795773600500", nil).get().timestamp == 1_795_773_600.5)
        #expect(try ts(#""1795773600.25""#, nil).get().timestamp == 1_795_773_600.25)
        #expect(try ts(#""2026-11-27T15:30:00+0530""#, nil).get().timestamp == 1_795_773_600)
        #expect(try ts(#""2026-11-27T15:30:00+0530""#, .rfc3339).get().timestamp == 1_795_773_600)
        #expect(ts("1795773600", .rfc3339) == .failure(.badTimestamp))
        #expect(ts(#""yesterday""#, nil) == .failure(.badTimestamp))
        #expect(ts(#""27/Nov/2026:10:00:00 +0000""#, .rfc3339) == .failure(.badTimestamp))
        #expect(ts("-5", .seconds) == .failure(.badTimestamp))
        #expect(try ts("null", .seconds).get().timestamp == nil)
    }

    @Test func successByFieldValues() throws {
        let format = Self.custom([.model: Self.source("model"), .statusCode: Self.source("code")],
                                 success: .values(path: Self.path("result.state"), values: ["ok", "true", "1"]))
        func outcome(_ rest: String) -> CallOutcome? { try? FormatFixtures.parse(#"{"model":"m","# + rest + "}", format).get().outcome }
        #expect(outcome(#""result":{"state":"ok"}"#) == .success)
        #expect(outcome(#""result":{"state":true}"#) == .success)
        #expect(outcome(#""result":{"state":1}"#) == .success)
        #expect(outcome(#""result":{"state":"OK"}"#) == .providerError)  // values are exact
        #expect(outcome(#""result":{"state":"error"},"code":429"#) == .rateLimited)
        #expect(outcome(#""result":{"state":false},"code":400"#) == .clientError)
        #expect(outcome(#""result":{"state":"error"}"#) == .providerError)
        // Without the field: judged by the status.
        #expect(outcome(#""code":503"#) == .providerError)
        #expect(outcome(#""code":200"#) == .success)
    }

    @Test func successByStatusRanges() throws {
        let format = Self.custom([.model: Self.source("model"), .statusCode: Self.source("status")], success: .status([200...299, 304...304]))
        func outcome(_ status: String) -> CallOutcome? { try? FormatFixtures.parse(#"{"model":"m","status":"# + status + "}", format).get().outcome }
        #expect(outcome("200") == .success)
        #expect(outcome("304") == .success)
        #expect(outcome("302") == .providerError)  // not a success here, and no failure class of its own
        #expect(outcome("429") == .rateLimited)
        #expect(outcome("404") == .clientError)
        #expect(outcome("500") == .providerError)
        #expect(outcome(#""201""#) == .success)
    }

    @Test func fieldsOverAPreset() throws {
        // nginx, but the model comes from another header and users from a map.
        let format = Self.custom([.model: Self.source("http_x_llm_model"), .userID: Self.source("tenant.name")], preset: .nginx)
        let call = try FormatFixtures.parse(#"{"status":502,"request_time":"1.5","model":"ignored","http_x_llm_model":"gpt-4o","tenant":{"name":"acme"},"upstream_status":"502"}"#, format).get()
        #expect(sameRecord(call, APICall(userID: "acme", model: "gpt-4o", outcome: .providerError, responseTime: 1.5, statusCode: 502)))
        #expect(format.mapping.fields[.responseTime] == LogFormat.nginx.mapping.fields[.responseTime])
        #expect(format.makeParser() is MappedParser)
    }

    @Test func candidatesFallThroughAbsentNullDashAndEmpty() throws {
        let format = Self.custom([.model: Self.source("a", "b", "c", "d"), .statusCode: Self.source("s")])
        #expect(try FormatFixtures.parse(#"{"b":null,"c":"-","a":"","d":"fourth","s":200}"#, format).get().model == "fourth")
        #expect(try FormatFixtures.parse(#"{"d":"fourth","b":"second"}"#, format).get().model == "second")
        #expect(FormatFixtures.parse(#"{"a":"-","s":200}"#, format) == .failure(.missingModel))
    }

    @Test func wildcardsEscapedDotsAndEscapedKeys() throws {
        let format = Self.custom([.model: Self.source(#"meta.*.model"#), .userID: Self.source(#"labels.user\.name"#),
                                  .statusCode: Self.source("s")])
        let call = try FormatFixtures.parse(#"{"meta":{"x":{"other":1},"plugin-b":{"model":"m1"},"c":{"model":"m2"}},"labels":{"user.name":"ann","user":{"name":"no"}},"s":200}"#, format).get()
        #expect(call.model == "m1" && call.userID == "ann")
        // A key written with escapes still matches its path.
        #expect(try FormatFixtures.parse(#"{"meta":{"\u0078":{"mod\u0065l":"m3"}},"s":200}"#, format).get().model == "m3")
        #expect(try JSONPath(parsing: #"a\*.b"#).segments == [.key(Array("a*".utf8)), .key(Array("b".utf8))])
        #expect(try JSONPath(parsing: "a.*").segments == [.key(Array("a".utf8)), .any])
    }

    /// A key written twice: the later value, in the mapped parser as in the native one.
    @Test func aKeyWrittenTwiceTakesTheLaterValueAsNativeDoes() throws {
        let line = #"{"model_name":"first","status_code":500,"model_name":"second","user_id":"u","user_id":null,"status_code":200}"#
        let mapped = SourceFormat(preset: .native, custom: FieldMapping(fields: [.model: Self.source("model_name")]))
        let a = try FormatFixtures.parse(line, mapped).get()
        let b = try FormatFixtures.parse(line, .preset(.native)).get()
        #expect(a == b && a.model == "second" && a.userID == nil && a.statusCode == 200)
    }

    @Test func valuesOfTheWrongTypeFailTheLine() throws {
        let format = Self.custom([.model: Self.source("m"), .statusCode: Self.source("s"), .inputLength: Self.source("n"),
                                  .responseTime: Self.source("t", unit: .milliseconds)])
        #expect(FormatFixtures.parse(#"{"m":"x","s":200,"n":1.5}"#, format) == .failure(.badCount))
        #expect(FormatFixtures.parse(#"{"m":"x","s":200,"n":{"a":1}}"#, format) == .failure(.wrongType))
        #expect(FormatFixtures.parse(#"{"m":"x","s":200,"t":-1}"#, format) == .failure(.badLatency))
        #expect(FormatFixtures.parse(#"{"m":"x","s":200,"t":"fast"}"#, format) == .failure(.badLatency))
        #expect(FormatFixtures.parse(#"{"m":"x","s":200,"t":[1]}"#, format) == .failure(.wrongType))
        #expect(FormatFixtures.parse(#"{"m":{"name":"x"},"s":200}"#, format) == .failure(.wrongType))
        #expect(FormatFixtures.parse(#"{"m":"x","s":[200]}"#, format) == .failure(.wrongType))
        #expect(FormatFixtures.parse(#"{"m":"x","s":2000}"#, format) == .failure(.badStatus))
        // Text that is not a number is no status (LiteLLM writes "None").
        #expect(try FormatFixtures.parse(#"{"m":"x","s":"None"}"#, format).get().statusCode == nil)
        // The JSON is checked before the fields: a broken line is invalid, whatever its fields.
        #expect(FormatFixtures.parse(#"{"m":"x","n":1.5,"#, format) == .failure(.truncated))
        #expect(FormatFixtures.parse(#"[1,2]"#, format) == .failure(.notAnObject))
        #expect(FormatFixtures.parse("   ", format) == .failure(.emptyLine))
    }

    static func list(_ text: String, _ rule: CapturedValues.ListRule) throws(ParseFailure) -> Double? {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { buf throws(ParseFailure) in
            try CapturedValues.numberList(UnsafeBufferPointer(buf), list: rule)
        }
    }

    @Test func commaListsAndColons() throws {
        #expect(try Self.list("504, 502", .last) == 502)
        #expect(try Self.list("502 : 200", .last) == 200)
        let sums = try ["30.001, 0.502", "0.100 : 0.400", "1.5, -", " 2 "].map { try Self.list($0, .sum).map { ($0 * 1000).rounded() / 1000 } }
        #expect(sums == [30.503, 0.5, 1.5, 2])
        #expect(throws: ParseFailure.wrongType) { try Self.list("12abc", .sum) }
        #expect(try Self.list("-", .sum) == nil)
    }

    @Test func classesOfStatusesAndWords() {
        #expect([101, 200, 204, 304, 400, 401, 403, 404, 408, 413, 422, 429, 499, 500, 502, 503, 504, 0, 600].map(CallOutcome.of(status:)) == [
            .success, .success, .success, .success, .clientError, .clientError, .clientError, .clientError, .providerError,
            .clientError, .clientError, .rateLimited, .clientError, .providerError, .providerError, .providerError, .providerError,
            .providerError, .providerError])
        #expect(CallOutcome.ofFailure(status: nil, message: "Rate Limit reached") == .rateLimited)
        #expect(CallOutcome.ofFailure(status: nil, message: "blocked by GUARDRAIL") == .clientError)
        #expect(CallOutcome.ofFailure(status: nil, message: "socket hang up") == .providerError)
        #expect(CallOutcome.ofFailure(status: 429, message: "bad request") == .rateLimited)  // the status first
        #expect(CallOutcome.ofFailure(status: 200, message: nil as String?) == .providerError)
    }
}
