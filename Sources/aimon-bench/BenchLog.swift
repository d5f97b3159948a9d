import AimonSamples
import Foundation

enum BenchLog {
    /// Writes the benchmark log unless an identical one is there; returns its size in bytes.
    /// The calls are spread evenly over the `hours` before now.
    static func ensure(path: String, lines: Int, hours: Double = 6) throws -> Int64 {
        if let attrs = try? FileManager.default.attributesOfItem(atPath: path), let size = attrs[.size] as? Int64, size > 0 {
            return size
        }
        var log = SampleLog(seed: 1)
        let end = Date().timeIntervalSince1970 - 60
        let start = end - hours * 3600
        FileManager.default.createFile(atPath: path, contents: nil)
        let h = FileHandle(forWritingAtPath: path)!
        var buffer = ""
        buffer.reserveCapacity(1 << 22)
        let step = (end - start) / Double(lines)
        for i in 0..<lines {
            buffer += log.line(at: start + Double(i) * step)
            if buffer.utf8.count > 1 << 22 {
                h.write(Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        h.write(Data(buffer.utf8))
        h.closeFile()
        return (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
    }
}
