import Testing
@testable import AimonCore
import AimonSamples

@Suite struct LineSplitterTests {
    /// Splits `input` fed in chunks of the given sizes; returns lines (as strings) with end offsets.
    func split(_ input: [UInt8], chunks: [Int], max: Int = 1 << 20) -> [(String?, Int64)] {
        var splitter = LineSplitter(maxLineBytes: max)
        var out: [(String?, Int64)] = []
        var at = 0
        var k = 0
        while at < input.count {
            let n = Swift.min(chunks[k % chunks.count], input.count - at)
            input[at..<(at + n)].withUnsafeBufferPointer { buf in
                splitter.feed(buf) { event, end in
                    switch event {
                    case let .line(b): out.append((String(decoding: b, as: UTF8.self), end))
                    case .overlong: out.append((nil, end))
                    }
                }
            }
            at += n
            k += 1
        }
        return out
    }

    /// RFC 8259 section 8.1: a byte-order mark may start a JSON text (Windows tools write one). Only
    /// the file's first line can carry it; elsewhere the bytes are the line's own.
    @Test func aByteOrderMarkAtTheStartOfTheFileIsSkipped() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let text = bom + Array("a\n".utf8) + bom + Array("b\n".utf8)
        for size in 1...text.count {
            let got = split(text, chunks: [size])
            #expect(got.map(\.0) == ["a", "\u{FEFF}b"], "chunk size \(size)")
            #expect(got.map(\.1) == [5, 10], "chunk size \(size)")
        }
        // A splitter resuming past offset 0 (a checkpoint) hands out what it reads.
        var resumed = LineSplitter(maxLineBytes: 100, startOffset: 5)
        var lines: [String] = []
        (bom + Array("b\n".utf8)).withUnsafeBufferPointer { buf in
            resumed.feed(buf) { event, _ in if case let .line(b) = event { lines.append(String(decoding: b, as: UTF8.self)) } }
        }
        #expect(lines == ["\u{FEFF}b"])
    }

    @Test func sameLinesUnderEveryChunking() {
        let text = Array("alpha\n\nbeta gamma\ndelta\r\nlast-partial".utf8)
        let whole = split(text, chunks: [text.count])
        #expect(whole.map(\.0) == ["alpha", "", "beta gamma", "delta\r"])
        #expect(whole.map(\.1) == [6, 7, 18, 25])
        for size in 1...text.count {
            let got = split(text, chunks: [size])
            #expect(got.map(\.0) == whole.map(\.0), "chunk size \(size)")
            #expect(got.map(\.1) == whole.map(\.1), "chunk size \(size)")
        }
        var rng = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let chunks = (0..<5).map { _ in Int(rng.next() % 9) + 1 }
            let got = split(text, chunks: chunks)
            #expect(got.map(\.0) == whole.map(\.0))
            #expect(got.map(\.1) == whole.map(\.1))
        }
    }

    @Test func partialLineWaitsForItsNewline() {
        var s = LineSplitter(maxLineBytes: 100)
        var lines: [String] = []
        Array("{\"a\":".utf8).withUnsafeBufferPointer { b in s.feed(b) { e, _ in if case let .line(l) = e { lines.append(String(decoding: l, as: UTF8.self)) } } }
        #expect(lines.isEmpty)
        #expect(s.committedOffset == 0)
        #expect(s.pendingBytes == 5)
        Array("1}\n".utf8).withUnsafeBufferPointer { b in s.feed(b) { e, _ in if case let .line(l) = e { lines.append(String(decoding: l, as: UTF8.self)) } } }
        #expect(lines == ["{\"a\":1}"])
        #expect(s.committedOffset == 8)
    }

    @Test func overlongLineIsSkippedOnceAndSplittingResumes() {
        let long = String(repeating: "x", count: 50)
        let text = Array("ok1\n\(long)\nok2\n".utf8)
        for size in [1, 3, 7, 16, 64, text.count] {
            let got = split(text, chunks: [size], max: 20)
            #expect(got.map(\.0) == ["ok1", nil, "ok2"], "chunk size \(size)")
            #expect(got.map(\.1) == [4, 55, 59])
        }
        // A line of exactly the limit is kept; one byte more is not.
        #expect(split(Array("\(String(repeating: "y", count: 20))\n".utf8), chunks: [5], max: 20).map(\.0) == [String(repeating: "y", count: 20)])
        #expect(split(Array("\(String(repeating: "y", count: 21))\n".utf8), chunks: [5], max: 20).map(\.0) == [nil])
    }

    @Test func startsAtAGivenOffset() {
        var s = LineSplitter(maxLineBytes: 100, startOffset: 1000)
        var ends: [Int64] = []
        Array("a\nb\n".utf8).withUnsafeBufferPointer { b in s.feed(b) { _, end in ends.append(end) } }
        #expect(ends == [1002, 1004])
    }
}
