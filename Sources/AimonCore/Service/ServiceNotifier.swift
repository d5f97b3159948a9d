import CSystemd
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The systemd notification protocol (`sd_notify`, systemd's daemon(7)): READY=1 once the
/// configuration is valid, Redis answers and the sources are open; STATUS= with live figures;
/// WATCHDOG=1 from the loop that does the work; STOPPING=1 on shutdown. Without NOTIFY_SOCKET (not
/// started by systemd) every call does nothing.
public final class ServiceNotifier: Sendable {
    /// Seconds between two watchdog pings (half of WatchdogSec), or nil without a watchdog.
    public let watchdogInterval: Double?
    private let lastPing = Atomic<Int64>(0)
    private let readySent = Atomic<Bool>(false)
    private let lastStatus = Mutex<(text: String, at: Double)>(("", 0))

    public init() {
        var usec: UInt64 = 0
        watchdogInterval = sd_watchdog_enabled(0, &usec) > 0 && usec > 0 ? Double(usec) / 2e6 : nil
    }

    /// Whether systemd is listening (NOTIFY_SOCKET is set).
    public var isActive: Bool { getenv("NOTIFY_SOCKET") != nil }

    public func ready(status: String) {
        send("READY=1\nSTATUS=\(Self.clean(status))")
        readySent.store(true, ordering: .releasing)
    }

    /// STATUS=, at most every `interval` seconds unless the text changed in a way worth saying now.
    public func status(_ text: String, now: Double, interval: Double = 5) {
        let due = lastStatus.withLock { last -> Bool in
            guard text != last.text, now - last.at >= interval else { return false }
            last = (text, now)
            return true
        }
        if due { send("STATUS=\(Self.clean(text))") }
    }

    /// WATCHDOG=1 when half the watchdog interval has passed since the last ping.
    public func watchdog(now: Double) {
        // systemd watches the pings from READY=1 on; none before, so the order is READY, then WATCHDOG.
        guard let every = watchdogInterval, readySent.load(ordering: .acquiring) else { return }
        let ms = Int64(now * 1000)
        let last = lastPing.load(ordering: .relaxed)
        guard Double(ms - last) / 1000 >= every, lastPing.compareExchange(expected: last, desired: ms, ordering: .relaxed).exchanged else { return }
        send("WATCHDOG=1")
    }

    /// RELOADING=1 with MONOTONIC_USEC (systemd 253's reload protocol; older ones ignore the field).
    public func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(usec)\nSTATUS=reloading the configuration")
    }

    public func stopping(status: String = "stopping: committing what was read") {
        send("STOPPING=1\nSTATUS=\(Self.clean(status))")
    }

    private func send(_ message: String) {
        guard isActive else { return }
        _ = sd_notify(0, message)
    }

    /// One line: a status cannot carry another assignment.
    static func clean(_ s: String) -> String { String(s.map { $0 == "\n" ? " " : $0 }) }
}
