import AimonCore
import Foundation

/// Splitting and parsing only, on the calling thread. The log is loaded into memory first and parsed
/// `passes` times; the best pass is reported (this VM's timing noise only ever makes a pass slower).
enum ParseBenchmark {
    struct Result { var linesPerSecond: Double; var records: Int; var bad: Int; var notCalls = 0; var lines = 1 }

    static func run(path: String, passes: Int = 3) throws -> Result {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationErrorText("cannot read \(path)") }
        let bytes = [UInt8](data)
        var best = Result(linesPerSecond: 0, records: 0, bad: 0)
        for _ in 0..<passes {
            let r = bytes.withUnsafeBufferPointer { parseAll($0, format: .preset(.native)) }
            if r.linesPerSecond > best.linesPerSecond { best = r }
        }
        return best
    }

    static func parseAll(_ buffer: UnsafeBufferPointer<UInt8>, format: SourceFormat) -> Result {
        parseAll(buffer, parser: format.makeParser())
    }

    static func parseAll(_ buffer: UnsafeBufferPointer<UInt8>, parser: any LineParser) -> Result {
        var splitter = LineSplitter(maxLineBytes: 1 << 20)
        // Several calls a line (otlp-json): into one array kept from line to line, as ingest does.
        let multi = parser as? any MultiRecordParser
        var calls: [APICall] = []
        var call = APICall(model: "")
        var records = 0, bad = 0, lines = 0, notCalls = 0
        var modelChars = 0
        let start = DispatchTime.now().uptimeNanoseconds
        // Fed in 1 MiB chunks, as the tailer reads.
        var at = 0
        while at < buffer.count {
            let n = min(1 << 20, buffer.count - at)
            splitter.feed(UnsafeBufferPointer(rebasing: buffer[at..<(at + n)])) { event, _ in
                guard case let .line(bytes) = event else { return }
                lines += 1
                do throws(ParseFailure) {
                    if let multi {
                        calls.removeAll(keepingCapacity: true)
                        try multi.parseAll(bytes, into: &calls)
                        modelChars &+= calls[0].model.utf8.count
                    } else {
                        try parser.parse(bytes, into: &call)
                        modelChars &+= call.model.utf8.count  // keep the result alive
                    }
                    records += 1
                } catch where error == .notACall { notCalls += 1 } catch { bad += 1 }
            }
            at += n
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(modelChars > 0 || lines == 0)
        return Result(linesPerSecond: Double(lines) / seconds, records: records, bad: bad, notCalls: notCalls, lines: max(lines, 1))
    }
}

struct ValidationErrorText: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }
