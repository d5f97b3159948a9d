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

/// One record per parser, reused from input to input as ingest reuses it from line to line.
nonisolated(unsafe) var reused = [APICall(model: ""), APICall(model: "")]

/// The record parsed into `reused[slot]` must be the one parsed afresh: nothing of an earlier line
/// stays in it. A line with a NUL byte anywhere is refused as `nul_byte` (searched for only once a
/// line failed).
func checkReuse(_ p: any LineParser, slot: Int, _ line: UnsafeBufferPointer<UInt8>, fresh: Result<APICall, ParseFailure>) {
    let into: Result<APICall, ParseFailure>
    do throws(ParseFailure) { try p.parse(line, into: &reused[slot]); into = .success(reused[slot]) } catch { into = .failure(error) }
    precondition(into == fresh, "a reused record differs from a fresh one:\n\(into)\n\(fresh)")
    if line.contains(0) { precondition(fresh == .failure(.nulByte), "a line with a NUL byte gave \(fresh)") }
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
    let results = (parse(native, line), parse(mapped, line))
    checkReuse(native, slot: 0, line, fresh: results.0)
    checkReuse(mapped, slot: 1, line, fresh: results.1)
    switch results {
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
