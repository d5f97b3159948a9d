import AimonSamples
import ArgumentParser
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a sample gateway log in the native format (deterministic for a given seed).",
        discussion: """
        Calls are spread evenly over the last --minutes minutes, ending now. --outage-model makes every \
        call of that model fail during the last --outage-minutes; --slow-model makes that model slow \
        (12-20 s) throughout. Use --append to add to an existing file.
        """)

    @Option(help: "Number of lines.") var lines = 10_000
    @Option(help: "The lines cover this many minutes, ending now.") var minutes = 120.0
    @Option(help: "A model that fails during the last --outage-minutes.") var outageModel: String?
    @Option(help: "Length of the outage, in minutes.") var outageMinutes = 10.0
    @Option(help: "A model that answers slowly.") var slowModel: String?
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Flag(help: "Append to the file instead of replacing it.") var append = false
    @Argument(help: "Output file.") var output: String

    func run() throws {
        var log = SampleLog(seed: seed)
        let end = Date().timeIntervalSince1970
        let start = end - minutes * 60
        var text = ""
        var rng = SplitMix64(seed: seed &+ 1)
        for i in 0..<lines {
            let t = start + Double(i) * (end - start) / Double(max(lines, 1))
            var model: String? = nil
            var fail: Bool? = nil
            var latency: Double? = nil
            if let slow = slowModel, rng.nextDouble() < 0.2 {
                model = slow
                latency = 12 + 8 * rng.nextDouble()
            } else if let down = outageModel, t >= end - outageMinutes * 60, rng.nextDouble() < 0.2 {
                model = down
                fail = true
            }
            text += log.line(at: t, model: model, fail: fail, latency: latency.map { ($0 * 1000).rounded() / 1000 })
        }
        if append, let h = FileHandle(forWritingAtPath: output) {
            h.seekToEndOfFile()
            h.write(Data(text.utf8))
            h.closeFile()
        } else {
            guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
                throw ValidationError("cannot write \(output)")
            }
        }
        print("wrote \(lines) lines to \(output)")
    }
}
