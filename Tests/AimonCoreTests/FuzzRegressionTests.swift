import Testing
@testable import AimonCore

/// Inputs the fuzzers (Tests/Fuzz, scripts/fuzz.sh) found, kept as tests once fixed.
@Suite struct FuzzRegressionTests {
    static let mappedNative = SourceFormat(preset: .native, custom: FieldMapping(fields: LogFormat.native.mapping.fields))

    /// FuzzNative: the hand-written native parser and the mapped parser on the native mapping must
    /// give the same record, or both refuse the line.
    @Test(arguments: [
        // A status outside 100...599 without `success`: not a success (it was one for the native parser only).
        #"{"model_name":"m","status_code": 16}"#,
        #"{"model_name":"m","status_code":0}"#,
        #"{"model_name":"m","status_code":999,"success":null}"#,
        // A number as the model: the wrong type for both (the mapped parser took it as a name).
        #"{"model_name":204}"#,
        // A success status with an error message and no `success`: a failure, classed by its words
        // (the mapped parser went by the status alone).
        #"{"timestamp":"2026-11-27T10:00:03Z","model_name":"claude","status_code":200,"error_message":"invalid request: messages must not be empty"}"#,
        // A key written twice counts by its later value, failure included, in both parsers (the native
        // one kept the first failure, and a value followed by null).
        #"{"model_name":"m","response_time":3.3e34,"response_time":5.2}"#,
        #"{"model_name":"m","response_time":5.2,"response_time":-1}"#,
        #"{"model_name":"m","response_time":5.2,"response_time":null,"status_code":"x","status_code":200}"#,
        #"{"model_name":"m","success":"no","success":false,"model_name":null,"model_name":"n"}"#,
        // "-" and blank strings are no value, in the native format too (its model was "-").
        #"{"model_name":"-","success":true,"response_timm":"NaN"}"#,
        #"{"model_name":"m","user_id":"-","endpoint":"  ","error_message":"-","success":false,"timestamp":"-","work_order_id":""}"#,
        // A whole number written 4.0 or 1e3 is a whole number in both.
        #"{"model_name":"m","status_code":4.0,"input_length":1e3,"output_length":2.5}"#,
        #"{"model_name":"m","status_code":4.0,"input_length":1e3}"#,
        // Bad JSON in a value fails the line, even when a later value of the key is good (the native
        // parser took the syntax error for a bad value, which the later one replaced).
        #"{"model_name":"m","response_time":0.,"x":1}"#,
        #"{"model_name":"m","succ":1,"response_time":0.,  "e": 1,"success":true,"response_time":0e13}"#,
    ])
    func nativeAndMappedAgree(line: String) throws {
        let native = FormatFixtures.parse(line, .preset(.native))
        let mapped = FormatFixtures.parse(line, Self.mappedNative)
        switch (native, mapped) {
        case let (.success(a), .success(b)): #expect(sameRecord(a, b), "\(a)\n\(b)")
        case (.failure, .failure): break
        default: Issue.record("native \(native), mapped \(mapped)")
        }
    }

    /// FuzzPresets: a time before 1970 in RFC 3339 is a bad timestamp, as a negative epoch number is.
    @Test(arguments: LogFormat.allCases.filter { [.native, .nginx, .envoy].contains($0) })
    func timesBeforeTheEpochAreBadTimestamps(format: LogFormat) {
        let key = ["native": "timestamp", "nginx": "time", "envoy": "start_time"][format.rawValue]!
        let line = #"{"\#(key)":"1013-11-27T10:00:08+00:00","model_name":"m","model":"m","genai_model_name":"m"}"#
        #expect(FormatFixtures.parse(line, .preset(format)).failure == .badTimestamp)
        func rfc3339(_ s: String) -> Double? { Array(s.utf8).withUnsafeBufferPointer { Timestamp.parseRFC3339($0) } }
        #expect(rfc3339("1969-12-31T23:59:59Z") == nil)
        #expect(rfc3339("1970-01-01T00:00:00Z") == 0)
    }
}
