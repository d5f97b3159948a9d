import Foundation
import Testing
@testable import AimonCore

/// The fixture logs under Fixtures/formats, written from each gateway's documented format.
enum FormatFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/formats")

    static func lines(_ name: String) -> [String] {
        let text = (try? String(contentsOf: directory.appendingPathComponent(name + ".jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    static func parse(_ line: String, with parser: any LineParser) -> Result<APICall, ParseFailure> {
        Array(line.utf8).withUnsafeBufferPointer { buf in
            do throws(ParseFailure) { return .success(try parser.parse(buf)) } catch { return .failure(error) }
        }
    }

    static func parse(_ line: String, _ format: SourceFormat) -> Result<APICall, ParseFailure> {
        parse(line, with: format.makeParser())
    }
}

/// Records equal within 1 µs in their times (fractions of seconds go through binary doubles).
func sameRecord(_ a: APICall, _ b: APICall) -> Bool {
    func close(_ x: Double?, _ y: Double?) -> Bool {
        switch (x, y) {
        case (nil, nil): return true
        case let (x?, y?): return abs(x - y) < 1e-6
        default: return false
        }
    }
    var a2 = a, b2 = b
    a2.timestamp = nil; b2.timestamp = nil; a2.responseTime = nil; b2.responseTime = nil
    a2.ttft = nil; b2.ttft = nil; a2.cost = nil; b2.cost = nil
    return a2 == b2 && close(a.timestamp, b.timestamp) && close(a.responseTime, b.responseTime) && close(a.ttft, b.ttft)
        && close(a.cost, b.cost)
}

/// Compares every fixture line of `name` with its expected record or failure, line by line.
func expectGolden(_ name: String, _ format: SourceFormat, _ expected: [Result<APICall, ParseFailure>],
                  sourceLocation: SourceLocation = #_sourceLocation) {
    let lines = FormatFixtures.lines(name)
    #expect(lines.count == expected.count, "fixture \(name) has \(lines.count) lines, \(expected.count) expected", sourceLocation: sourceLocation)
    let parser = format.makeParser()
    for (i, (line, want)) in zip(lines, expected).enumerated() {
        let got = FormatFixtures.parse(line, with: parser)
        switch (got, want) {
        case let (.success(g), .success(w)):
            #expect(sameRecord(g, w), "\(name) line \(i + 1):\n got  \(g)\n want \(w)", sourceLocation: sourceLocation)
        case let (.failure(g), .failure(w)):
            #expect(g == w, "\(name) line \(i + 1): failed with \(g), want \(w)", sourceLocation: sourceLocation)
        default:
            Issue.record("\(name) line \(i + 1): got \(got), want \(want)", sourceLocation: sourceLocation)
        }
    }
}
