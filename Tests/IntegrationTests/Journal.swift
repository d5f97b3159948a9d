import Foundation

/// Reads back what aimon sent to the real journal (`journalctl -o json`).
enum Journal {
    static let socket = "/run/systemd/journal/socket"

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "no journal at \(Journal.socket): start systemd-journald (scripts/test.sh starts /lib/systemd/systemd-journald when it is absent)"
        }
    }

    static func requirePresent() throws {
        guard FileManager.default.fileExists(atPath: socket) else { throw Missing() }
    }

    /// Entries matching `field=value` (e.g. AIMON_HOST=...), oldest first, as string fields; only
    /// aimon's alerts unless `identifier` says otherwise (nil: any).
    static func entries(_ match: String, identifier: String? = "aimon") throws -> [[String: String]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/journalctl")
        p.arguments = ["-o", "json", "--no-pager"] + (identifier.map { ["SYSLOG_IDENTIFIER=" + $0] } ?? []) + [match]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return obj.compactMapValues { $0 as? String }
        }
    }

    /// "state type model" per entry: a compact, order-free view for comparisons.
    static func summary(_ entries: [[String: String]]) -> [String] {
        entries.map { "\($0["AIMON_STATE"] ?? "?") \($0["AIMON_ALERT_TYPE"] ?? "?") \($0["AIMON_MODEL"] ?? "?")" }.sorted()
    }
}
