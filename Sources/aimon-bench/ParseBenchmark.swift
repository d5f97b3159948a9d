import AimonCore
import Foundation

/// Splitting and parsing only, on the calling thread, with the file read through the page cache.
enum ParseBenchmark {
    struct Result { var linesPerSecond: Double; var records: Int; var bad: Int }

    static func run(path: String) throws -> Result {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ValidationErrorText("cannot open \(path)") }
        defer { close(fd) }
        let parser = NativeParser()
        var splitter = LineSplitter(maxLineBytes: 1 << 20)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var records = 0, bad = 0, lines = 0
        var modelChars = 0
        let start = DispatchTime.now().uptimeNanoseconds
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n <= 0 { break }
            let chunk = UnsafeBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
            splitter.feed(chunk) { event, _ in
                guard case let .line(bytes) = event else { return }
                lines += 1
                do throws(ParseFailure) {
                    let call = try parser.parse(bytes)
                    modelChars &+= call.model.utf8.count  // keep the result alive
                    records += 1
                } catch { bad += 1 }
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(modelChars > 0 || lines == 0)
        return Result(linesPerSecond: Double(lines) / seconds, records: records, bad: bad)
    }
}

struct ValidationErrorText: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }
