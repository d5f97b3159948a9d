import CSystemd
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Sends alert transitions to the systemd journal as structured entries (`sd_journal_sendv`).
///
/// libsystemd reports success when the journal socket does not exist, so the socket is checked
/// first; without it (or when the send fails) the entry goes to stderr instead and `fallbacks`
/// counts it: an alert is never lost unseen.
public final class JournalSink: AlertSink {
    public static let socketPath = "/run/systemd/journal/socket"
    public static let sinkName = "journal"

    private let host: String
    private let socketPath: String
    private let fallback: @Sendable (String) -> Void
    private let telemetry: Telemetry

    /// `fallback` receives the line to show when the journal cannot take the entry (stderr by default).
    public init(host: String, socketPath: String = JournalSink.socketPath, telemetry: Telemetry = Telemetry(),
                fallback: @escaping @Sendable (String) -> Void = { writeToStandardError($0) }) {
        self.host = host
        self.telemetry = telemetry
        self.socketPath = socketPath
        self.fallback = fallback
    }

    /// Entries that went to stderr because the journal could not take them.
    public var fallbacks: Int64 { telemetry.figures.sinks[Self.sinkName]?.fellBack ?? 0 }
    /// Entries the journal accepted.
    public var sent: Int64 { telemetry.figures.sinks[Self.sinkName]?.delivered ?? 0 }

    public var journalPresent: Bool { access(socketPath, W_OK) == 0 }

    public func deliver(_ t: AlertTransition) {
        let fields = Self.fields(t, host: host)
        var reason = "no journal socket at \(socketPath)"
        if journalPresent {
            let rc = Self.send(fields)
            if rc >= 0 { telemetry.sink(Self.sinkName) { $0.delivered += 1 }; return }
            reason = "sd_journal_sendv failed: \(String(cString: strerror(-rc)))"
        }
        telemetry.sink(Self.sinkName) { $0.fellBack += 1 }
        fallback("aimon: alert (journal unavailable: \(reason)) <\(t.priority)> \(fields[0].dropFirst("MESSAGE=".count)) [fingerprint \(t.fingerprint)]")
    }

    /// The entry's fields, "NAME=value", MESSAGE first. Names are fixed upper-case ASCII; values are
    /// sanitised, so a model name can inject neither a field nor a line.
    public static func fields(_ t: AlertTransition, host: String) -> [String] {
        var f = [
            "MESSAGE=" + t.message,
            "PRIORITY=\(t.priority)",
            "MESSAGE_ID=" + t.type.messageID,
            "SYSLOG_IDENTIFIER=aimon",
            "AIMON_ALERT_TYPE=" + t.type.rawValue,
            "AIMON_STATE=" + t.state,
            "AIMON_SEVERITY=" + t.severity.rawValue,
            "AIMON_MODEL=" + JournalText.sanitise(t.modelField),
            "AIMON_THRESHOLD=" + Self.number(t.threshold),
            "AIMON_WINDOW=" + t.windowText,
            "AIMON_FINGERPRINT=" + t.fingerprint,
            "AIMON_SAMPLE=\(t.sample)",
            "AIMON_NOTIFY_COUNT=\(t.notifyCount)",
            "AIMON_HOST=" + JournalText.sanitise(host),
        ]
        if let v = t.value { f.append("AIMON_VALUE=" + Self.number(v)) }
        if let d = t.deployment { f.append("AIMON_DEPLOYMENT=" + JournalText.sanitise(d)) }
        if let s = t.spend { f += ["AIMON_PERIOD_START=" + AlertRow.timestamp(s.start), "AIMON_PERIOD_END=" + AlertRow.timestamp(s.end)] }
        return f
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    /// `sd_journal_sendv` over the fields; its return code (negative errno on failure).
    static func send(_ fields: [String]) -> Int32 {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for f in fields {
            let start = bytes.count
            bytes += f.utf8
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBytes { raw -> Int32 in
            var iov = ranges.map { iovec(iov_base: raw.baseAddress! + $0.lowerBound, iov_len: $0.count) }
            return sd_journal_sendv(&iov, Int32(iov.count))
        }
    }
}

/// Writes one line to stderr in one call (lines from several threads do not interleave).
public func writeToStandardError(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(0x0A)
    bytes.withUnsafeBytes { b in
        var off = 0
        while off < b.count {
            let n = write(2, b.baseAddress! + off, b.count - off)
            if n < 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }
}
