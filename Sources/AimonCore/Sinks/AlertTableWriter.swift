import Dispatch
import Logging
import Synchronization

/// Writes alert transitions to the alert table from its own thread, so a slow or absent database
/// never holds up ingest or the journal.
///
/// While the database is unreachable, writes wait in a queue bounded by `capacity` episodes: writes
/// of one episode fold into one (the table's upsert rule, applied in memory), and upserts are
/// idempotent, so a retry after an uncertain failure adds no row.
public final class AlertTableWriter: AlertSink, @unchecked Sendable {
    public struct Stats: Sendable {
        public var written: Int64 = 0
        public var pending = 0
        public var dropped: Int64 = 0
        public var failures: Int64 = 0
        public var connected = false
        /// The last write's error while writes fail (nil once one succeeds).
        public var lastError: String?
    }

    private struct Queue {
        var rows: [AlertRow] = []
        var stats = Stats()
        var stopping = false
    }

    private let open: () throws(AlertTableError) -> any AlertTable
    private let host: String
    private let capacity: Int
    private let logger: Logger
    private let state = Mutex(Queue())
    private let waker = Waker()
    private let done = DispatchSemaphore(value: 0)
    private var table: (any AlertTable)?
    private let retryBase: Double
    /// Seconds between two summaries of a lasting failure.
    static let summaryInterval = 60.0

    /// `open` opens and migrates the table; it is called on the writer's thread, again after failures.
    /// `retryBase`: seconds before the first retry (doubling up to 30 s; tests shorten it).
    public init(host: String, capacity: Int, logger: Logger, retryBase: Double = 0.2,
                open: @escaping () throws(AlertTableError) -> any AlertTable) {
        self.open = open
        self.retryBase = retryBase
        self.host = host
        self.capacity = capacity
        self.logger = logger
    }

    public var stats: Stats { state.withLock { $0.stats } }

    public var counters: [String: Int64] {
        let s = stats
        return ["alerts_table_written": s.written, "alerts_table_dropped": s.dropped]
    }

    public var trouble: String? {
        let s = stats
        guard let error = s.lastError else { return nil }
        return "alert table failing (\(s.pending) writes queued, \(s.failures) failed attempts): \(error)"
    }

    public func start() {
        DispatchQueue(label: "aimon.alert-table").async { self.loop() }
    }

    public func deliver(_ t: AlertTransition) {
        guard let row = AlertRow(t, host: host) else { return }
        var droppedNow = false
        state.withLock { q in
            if let i = q.rows.firstIndex(where: { $0.fingerprint == row.fingerprint }) {
                q.rows[i] = q.rows[i].merging(row)
            } else {
                q.rows.append(row)
                if q.rows.count > capacity {
                    q.rows.removeFirst()
                    q.stats.dropped += 1
                    droppedNow = true
                }
            }
            q.stats.pending = q.rows.count
        }
        if droppedNow {
            logger.error("the alert table queue is full (\(capacity) episodes): dropped the oldest write; the journal has every alert")
        }
        waker.wake()
    }

    /// Stops after writing what is queued, waiting at most `timeout` seconds for the database.
    public func stop(timeout: Double) {
        state.withLock { $0.stopping = true }
        waker.wake()
        _ = done.wait(timeout: .now() + timeout)
        let left = stats.pending
        if left > 0 {
            logger.error("stopping with \(left) alert table writes unwritten: the database did not take them within \(Int(timeout)) s (the journal has these alerts)")
        }
    }

    private func loop() {
        var backoff = Backoff(base: retryBase, cap: 30)
        // A lasting failure: said once with its reason, then summarised every minute; "back" only
        // once a write committed (opening a database on a full disk succeeds, its COMMIT fails).
        var failingSince: Double?
        var attempts = 0
        var lastSummary = 0.0
        while true {
            let (rows, stopping) = state.withLock { q in (q.rows, q.stopping) }
            if rows.isEmpty {
                if stopping { break }
                waker.wait(timeout: 60)
                continue
            }
            do {
                if table == nil {
                    table = try open()
                    state.withLock { $0.stats.connected = true }
                }
                try table!.upsert(rows)
                backoff.reset()
                if let since = failingSince {
                    let plural = rows.count == 1 ? "" : "s"
                    logger.notice("the alert table is back after \(Int(wallClock() - since)) s and \(attempts) failed attempts; wrote \(rows.count) queued episode\(plural)")
                    failingSince = nil
                    attempts = 0
                }
                state.withLock { q in
                    // Rows delivered meanwhile were folded into the ones just written: keep those that changed.
                    q.rows = q.rows.filter { r in !rows.contains(r) }
                    q.stats.written += Int64(rows.count)
                    q.stats.pending = q.rows.count
                    q.stats.lastError = nil
                }
            } catch {
                if error.kind == .unavailable { table = nil }
                attempts += 1
                state.withLock { q in
                    q.stats.failures += 1
                    q.stats.connected = table != nil
                    q.stats.lastError = error.message
                }
                let now = wallClock()
                if failingSince == nil {
                    logger.error("cannot write to the alert table, keeping \(rows.count) writes queued and retrying: \(error)")
                    failingSince = now
                    lastSummary = now
                } else if now - lastSummary >= Self.summaryInterval {
                    let summary = "the alert table still fails: \(rows.count) writes queued, \(attempts) attempts in \(Int(now - failingSince!)) s; "
                        + "last error: \(error)"
                    logger.error("\(summary)")
                    lastSummary = now
                }
                // Stopping too: keep trying until `stop` stops waiting.
                waker.wait(timeout: stopping ? min(0.5, backoff.next()) : backoff.next())
            }
        }
        done.signal()
    }
}
