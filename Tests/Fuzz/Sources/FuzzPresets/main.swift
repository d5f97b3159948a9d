import AimonCore
import FuzzSupport

/// Every preset and a custom mapping: the first byte of the input picks the format, the rest is a
/// line in it, through the fold and the commit.
/// A custom mapping with every kind of reading (nested paths, a wildcard, units, a span, a status
/// rule), read from a configuration as an operator writes it.
let custom = """
sources:
  - path: /logs/*.jsonl
    fields:
      model_name: {paths: [req.model, m.*.name]}
      timestamp: {path: ts, unit: us}
      status_code: res.status
      response_time: {start: t0, end: t1, unit: ms}
      input_length: usage.in
      output_length: usage.out
      user_id: user
      error_message: err.msg
    success: {status: [200-299, 304]}
"""

nonisolated(unsafe) let parsers: [any LineParser] = LogFormat.allCases.map { SourceFormat.preset($0).makeParser() }
    + [try! ConfigLoader.parse(custom).sources[0].format.makeParser()]

/// One record per parser, reused from input to input as ingest reuses it from line to line.
nonisolated(unsafe) var reused = parsers.map { _ in APICall(model: "") }

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = buffer(data, size)
    guard let first = input.first else { return 0 }
    let index = Int(first) % parsers.count
    let parser = parsers[index]
    let line = UnsafeBufferPointer(rebasing: input.dropFirst())
    Ingest.line(line, parser: parser)
    // Parsed into a record an earlier input filled, the line must give what it gives afresh; a line
    // with a NUL byte anywhere is refused as `nul_byte`.
    let fresh: Result<APICall, ParseFailure>
    do throws(ParseFailure) { fresh = .success(try parser.parse(line)) } catch { fresh = .failure(error) }
    let into: Result<APICall, ParseFailure>
    do throws(ParseFailure) { try parser.parse(line, into: &reused[index]); into = .success(reused[index]) } catch { into = .failure(error) }
    precondition(into == fresh, "a reused record differs from a fresh one:\n\(into)\n\(fresh)")
    if line.contains(0) { precondition(fresh == .failure(.nulByte), "a line with a NUL byte gave \(fresh)") }
    return 0
}

runFuzzer(fuzzOne)
