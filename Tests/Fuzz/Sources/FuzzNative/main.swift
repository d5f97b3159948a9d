import AimonCore
import FuzzSupport

/// The native parser, then the fold and the commit; and the mapped parser on the native mapping must
/// agree with it: the same records, and a refusal for the same lines, but for the types the mapped
/// reader is lenient about.
nonisolated(unsafe) let native = NativeParser()
nonisolated(unsafe) let mapped = SourceFormat(preset: .native, custom: FieldMapping(fields: LogFormat.native.mapping.fields)).makeParser()

func parse(_ p: any LineParser, _ line: UnsafeBufferPointer<UInt8>) -> Result<APICall, ParseFailure> {
    do throws(ParseFailure) { return .success(try p.parse(line)) } catch { return .failure(error) }
}

func close(_ a: Double?, _ b: Double?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case let (x?, y?): return x == y || abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1)
    default: return false
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let line = buffer(data, size)
    Ingest.line(line, parser: native)
    switch (parse(native, line), parse(mapped, line)) {
    case let (.success(a), .success(b)):
        var a2 = a, b2 = b
        a2.timestamp = nil; b2.timestamp = nil; a2.responseTime = nil; b2.responseTime = nil
        a2.ttft = nil; b2.ttft = nil; a2.cost = nil; b2.cost = nil
        precondition(a2 == b2 && close(a.timestamp, b.timestamp) && close(a.responseTime, b.responseTime)
                     && close(a.ttft, b.ttft) && close(a.cost, b.cost),
                     "native and mapped disagree:\n\(a)\n\(b)")
    case (.failure, .failure): break
    // The mapped reader is lenient where the native record is strict: a string holding a number (or an
    // epoch time) is read as one, and text in a status is no status. Only that may differ.
    case (.failure(.wrongType), .success), (.failure(.badTimestamp), .success): break
    case let (x, y): preconditionFailure("native \(x), mapped \(y)")
    }
    return 0
}

runFuzzer(fuzzOne)
