import AimonCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Log lines for a stderr that systemd connected to the journal: each line starts with its syslog
/// priority (`<4>`), which journald turns into PRIORITY=, and carries no timestamp (the journal has
/// its own). Used when JOURNAL_STREAM names stderr (systemd.exec(5)).
struct JournalStreamLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = "\(event.message)" + (fields.isEmpty ? "" : " " + fields)
        // One line per entry: a newline inside would start an entry without a priority.
        writeToStandardError("<\(Self.priority(event.level))>" + String(text.map { $0 == "\n" ? " " : $0 }))
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Whether stderr is the journal stream systemd set up (JOURNAL_STREAM=<device>:<inode>).
    static var stderrIsJournal: Bool {
        guard let env = getenv("JOURNAL_STREAM") else { return false }
        let parts = String(cString: env).split(separator: ":")
        var st = stat()
        guard parts.count == 2, fstat(2, &st) == 0 else { return false }
        return UInt64(parts[0]) == UInt64(st.st_dev) && UInt64(parts[1]) == UInt64(st.st_ino)
    }
}
