import Logging
import Synchronization

/// Speaks for the daemon to systemd from what the services report in `Telemetry`: READY=1 once
/// ingest has its files open, STATUS= with live figures, and WATCHDOG=1 only while every watched
/// service proves it is alive (a beat within `staleAfter` seconds). A stuck ingest or a stuck
/// evaluator withholds the ping, and systemd restarts aimon after `WatchdogSec`.
public final class NotifierService: Service, @unchecked Sendable {
    public let name = "notifier"
    private let notifier: ServiceNotifier
    private let telemetry: Telemetry
    private let watched: [String]
    /// The staleness, and a shorter one (a reload) with when it takes over.
    private let staleBox: Mutex<(value: Double, shorter: (value: Double, from: Double)?)>
    /// Seconds without a beat after which a service is taken for stuck.
    public var staleAfter: Double { staleAfter(now: monotonicSeconds()) }

    func staleAfter(now: Double) -> Double {
        staleBox.withLock { s in
            if let shorter = s.shorter, now >= shorter.from { s = (shorter.value, nil) }
            return s.value
        }
    }
    private let clock: @Sendable () -> Double
    private let logger: Logger
    private let waker = Waker()
    private let stopSignal: StopSignal
    private var rate = (at: -Double.infinity, lines: Int64(0), perSecond: 0.0)
    private var withheld: Set<String> = []

    /// `longestCall`: seconds a service may legitimately spend in one blocking call (a Redis reply
    /// waits up to `redis.timeout`), so that a slow call is not taken for a stuck service.
    public init(notifier: ServiceNotifier, telemetry: Telemetry, watched: [String], longestCall: Double, logger: Logger,
                clock: @escaping @Sendable () -> Double = { wallClock() }) {
        self.notifier = notifier
        self.telemetry = telemetry
        self.watched = watched
        self.staleBox = Mutex((Self.staleness(watchdogInterval: notifier.watchdogInterval, longestCall: longestCall), nil))
        // The services' idle wait and the staleness that allows for it, from one place.
        telemetry.idleWait = Telemetry.idleWait(longestCall: longestCall)
        self.clock = clock
        self.logger = logger
        self.stopSignal = StopSignal(waker: waker)
    }

    public func stop() { stopSignal.stop() }

    /// A turn of ingest can hold a commit, a lease renewal (a connect and a script) and a sweep: four
    /// blocking calls of up to `longestCall`, a second more, and an idle wait (`Telemetry.idleWait`).
    static func staleness(watchdogInterval: Double?, longestCall: Double) -> Double {
        max(watchdogInterval ?? 0, 4 * longestCall + 1 + Telemetry.idleWait(longestCall: longestCall), 2.5)
    }

    /// Reload: a new `redis.timeout`. A longer staleness applies at once; a shorter one once the old
    /// has passed, as services may be in a call or an idle wait begun under the old timeout.
    public func update(longestCall: Double, now: Double = monotonicSeconds()) {
        let new = Self.staleness(watchdogInterval: notifier.watchdogInterval, longestCall: longestCall)
        telemetry.idleWait = Telemetry.idleWait(longestCall: longestCall)
        staleBox.withLock { s in
            if let shorter = s.shorter, now >= shorter.from { s = (shorter.value, nil) }
            s = new >= s.value ? (new, nil) : (s.value, (new, now + s.value))
        }
    }

    private let readyAgain = Atomic<Bool>(false)

    /// READY=1 again (after a reload), with the current status, from the notifier's thread.
    public func ready() {
        readyAgain.store(true, ordering: .releasing)
        waker.wake()
    }

    public func run() throws {
        guard notifier.isActive else {  // nobody listens: no figures, no work
            while !stopSignal.sleep(3600) {}
            return
        }
        var sentReady = false
        while !stopSignal.isStopped {
            let now = clock()
            let figures = telemetry.figures
            if readyAgain.exchange(false, ordering: .acquiringAndReleasing) {
                notifier.ready(status: statusLine(figures, now: now))
                sentReady = true
            } else if !sentReady, figures.ingestReady {
                notifier.ready(status: statusLine(figures, now: now))
                sentReady = true
            } else if sentReady {
                notifier.status(statusLine(figures, now: now), now: now)
            } else if let problem = figures.problems.values.sorted().first {
                notifier.status(problem, now: now, interval: 0)  // why it is not ready yet
            }
            let tick = monotonicSeconds()
            if alive(figures, now: tick) { notifier.watchdog(now: tick) }
            waker.wait(timeout: min(1, notifier.watchdogInterval ?? 1))
        }
    }

    /// Whether every watched service beat within `staleAfter` of `now` (monotonic); says once which did not.
    func alive(_ figures: Telemetry.Figures, now: Double) -> Bool {
        let staleAfter = staleAfter(now: now)
        let stale = watched.filter { now - (figures.beats[$0] ?? now) > staleAfter }
        for s in stale where !withheld.contains(s) {
            logger.critical("the \(s) service has shown no progress for \(Int(staleAfter)) s: withholding the watchdog ping, so systemd restarts aimon")
        }
        for s in withheld where !stale.contains(s) { logger.notice("the \(s) service makes progress again") }
        withheld = Set(stale)
        return stale.isEmpty
    }

    /// "tailing 3 files, 1200 lines/s, 0 bytes unread, Redis ok, 51200 lines so far, last alert: none"
    func statusLine(_ f: Telemetry.Figures, now: Double) -> String {
        if now - rate.at >= 5 {
            if rate.at.isFinite { rate.perSecond = Double(f.ingest.lines - rate.lines) / (now - rate.at) }
            rate = (now, f.ingest.lines, rate.perSecond)
        }
        var text = "tailing \(f.files.open) files, \(Int(rate.perSecond.rounded())) lines/s, \(f.files.unreadBytes) bytes unread, "
            + "Redis \(f.ingest.redisConnected ? "ok" : "unreachable"), \(f.ingest.lines) lines so far"
        if f.ingest.badTotal > 0 { text += ", \(f.ingest.badTotal) bad (\(f.ingest.topBadReasons))" }
        if f.ingest.rewinds > 0 {
            text += ", Redis lost commits \(f.ingest.rewinds)x: \(f.ingest.linesReadAgain) lines read again"
            if f.ingest.linesLost > 0 || f.ingest.bytesLost > 0 { text += ", \(f.ingest.linesLost) lines LOST" + (f.ingest.bytesLost > 0 ? " (+\(f.ingest.bytesLost) bytes)" : "") }
        }
        for name in f.sinks.keys.sorted() { if let t = f.sinks[name]?.trouble { text += ", " + t } }
        for p in f.problems.values.sorted() { text += ", " + p }
        return text + ", last alert: \(f.evaluation.lastAlert ?? "none")"
    }
}
