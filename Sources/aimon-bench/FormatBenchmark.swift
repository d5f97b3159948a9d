import AimonCore
import AimonSamples
import ArgumentParser
import Foundation

/// Parse speed of every format preset, on one core, from memory.
struct FormatBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats",
        abstract: "Parse speed of every gateway format preset (lines/s on one core; target >= 1M each).",
        discussion: """
        Build and run in release mode:  swift run -c release aimon-bench formats [--lines N]
        For each preset a log is generated in memory (the shapes of Tests/AimonCoreTests/Fixtures/formats, \
        6% failures of every class) and split and parsed as the tailer would, best of --passes (5) passes.
        """)

    @Option(help: "Lines per preset.")
    var lines = 1_000_000

    @Option(help: "Only these presets (comma-separated).")
    var only: String?

    @Option(help: "Passes over each log; the best is reported (this VM's noise only ever slows a pass).")
    var passes = 5

    @Flag(help: "Also time JSON validation alone on the same lines (the floor under every format).")
    var baseline = false

    @Option(help: "Also write each preset's log to DIR/<preset>.jsonl (for other tools and profilers).")
    var writeDir: String?

    @Option(help: "Read each preset's log from DIR/<preset>.jsonl (as --write-dir wrote it) instead of generating it.")
    var readDir: String?

    func run() throws {
        let wanted = only.map { $0.split(separator: ",").map(String.init) }
        var below: [String] = []
        for format in LogFormat.allCases where wanted?.contains(format.rawValue) ?? true {
            let bytes: [UInt8]
            if let readDir {
                guard let data = FileManager.default.contents(atPath: "\(readDir)/\(format.rawValue).jsonl") else {
                    throw ValidationErrorText("cannot read \(readDir)/\(format.rawValue).jsonl")
                }
                bytes = [UInt8](data)
            } else {
                bytes = Self.log(format, lines: lines)
            }
            if let writeDir {
                let path = "\(writeDir)/\(format.rawValue).jsonl"
                guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw ValidationErrorText("cannot write \(path)") }
            }
            let r = Self.best(bytes, format: format, passes: passes)
            let name = format.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)
            print(String(format: "%@ %10.0f lines/s  %7.0f MB/s  (%d bytes/line, %d records, %d bad, %d not calls)",
                         name, r.linesPerSecond, r.linesPerSecond * Double(bytes.count / r.lines) / 1e6, bytes.count / r.lines,
                         r.records, r.bad, r.notCalls))
            if r.linesPerSecond < 1_000_000 { below.append(format.rawValue) }
            if baseline {
                let v = bytes.withUnsafeBufferPointer { buf in
                    (0..<passes).map { _ in ParseBenchmark.parseAll(buf, parser: ValidateOnly()) }.max { $0.linesPerSecond < $1.linesPerSecond }!
                }
                print(String(format: "  JSON validation alone: %10.0f lines/s  %7.0f MB/s", v.linesPerSecond, v.linesPerSecond * Double(bytes.count / v.lines) / 1e6))
            }
        }
        print(below.isEmpty ? "target (1M lines/s per preset): met by every preset measured"
                            : "target (1M lines/s per preset): not met by \(below.joined(separator: ", ")) (Docs/benchmarks.md)")
    }
}

extension FormatBench {
    /// `lines` lines of the preset's shape, in memory.
    static func log(_ format: LogFormat, lines: Int) -> [UInt8] {
        var log = GatewayLog(format: format)
        var text = ""
        text.reserveCapacity(lines * 400)
        for i in 0..<lines { text += log.line(at: 1_795_773_600 + Double(i) * 0.01) }
        return Array(text.utf8)
    }

    /// The best of `passes` passes of split and parse on this thread.
    static func best(_ bytes: [UInt8], format: LogFormat, passes: Int) -> ParseBenchmark.Result {
        bytes.withUnsafeBufferPointer { buf in
            (0..<passes).map { _ in ParseBenchmark.parseAll(buf, format: .preset(format)) }.max { $0.linesPerSecond < $1.linesPerSecond }!
        }
    }
}

/// The floor under every format: validating the line's JSON and nothing else.
final class ValidateOnly: LineParser {
    func parse(_ line: UnsafeBufferPointer<UInt8>, into call: inout APICall) throws(ParseFailure) {
        var s = JSONScanner(line)
        try s.skipValue()
        try s.expectEnd()
        call.model = "-"  // a record the benchmark can keep alive, as a parser's
    }
}
