#if canImport(Glibc)
import Glibc
#endif

/// This process's memory figures, from /proc/self/status.
public enum ProcessMemory {
    /// Peak resident set size in bytes (VmHWM), or nil when /proc is not there.
    public static func peakResidentBytes() -> Int64? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmHWM:") {
                let kib = text.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int64($0) }
                return kib.map { $0 * 1024 }
            }
        }
        return nil
    }
}
