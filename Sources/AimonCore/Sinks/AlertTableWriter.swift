import Dispatch
import Logging
import Synchronization

/// Writes alert transitions to the alert table from its own thread, so a slow or absent database
/// never holds up ingest or the journal.
///
/// While the database is unreachable, writes wait in a queue bounded by `capacity` episodes: writes
/// of one episode fold into one (the table's upsert rule, applied in memory), and upserts are
/// idempotent, so a retry after an uncertain failure adds no row.
public final class AlertTableWriter: AlertSink, Service, @unchecked Sendable {
    public static let sinkName = "alert_table"
    public let name = AlertTableWriter.sinkName

    public struct Stats: Sendable {
        public var written: Int64 = 0
        public var pending = 0
        public var dropped: Int64 = 0
        public var failures: Int64 = 0
    }

    private struct Queue {
        var rows: [AlertRow] = []
        var stopping = false
        /// Set once retired by a reload: deliveries go there, and this writer's loop ends.
        var successor: AlertTableWriter?
    }

    private let open: () throws(AlertTableError) -> any AlertTable
    private let host: String
    private let capacity: Int
    private let logger: Logger
    private let telemetry: Telemetry
    private let state = Mutex(Queue())
    private let waker = Waker()
    private let done = DispatchSemaphore(value: 0)
    private var table: (any AlertTable)?
    private let retryBase: Double
    /// Seconds between two summaries of a lasting failure.
    static let summaryInterval = 60.0

    /// `open` opens and migrates the table; it is called on the writer's thread, again after failures.
    /// `retryBase`: seconds before the first retry (doubling up to 30 s; tests shorten it).
    public init(host: String, capacity: Int, logger: Logger, telemetry: Telemetry = Telemetry(), retryBase: Double = 0.2,
                open: @escaping () throws(AlertTableError) -> any AlertTable) {
        self.open = open
        self.retryBase = retryBase
        self.host = host
        self.capacity = capacity
        self.logger = logger
        self.telemetry = telemetry
    }

    public var stats: Stats {
        let s = telemetry.figures.sinks[Self.sinkName] ?? Telemetry.Sink()
        return Stats(written: s.delivered, pending: s.queued, dropped: s.dropped, failures: s.failures)
    }

    /// Writes failing, for STATUS (nil: none).
    public var trouble: String? { telemetry.figures.sinks[Self.sinkName]?.trouble }

    /// Runs the writer on a thread of its own (outside a `ServiceGroup`).
    public func start() {
        startThread(name: "aimon-" + name) { try? self.run() }
    }

    public func deliver(_ t: AlertTransition) {
        guard let row = AlertRow(t, host: host) else { return }
        var droppedNow = false
        let successor = state.withLock { q -> AlertTableWriter? in
            if let s = q.successor { return s }
            droppedNow = Self.enqueue(row, into: &q.rows, capacity: capacity)
            return nil
        }
        if let successor { successor.deliver(t); return }
        noteQueue(droppedNow: droppedNow ? 1 : 0)
    }

    /// Adds a row, folding it into its episode's; true when the oldest had to go to make room.
    private static func enqueue(_ row: AlertRow, into rows: inout [AlertRow], capacity: Int) -> Bool {
        if let i = rows.firstIndex(where: { $0.fingerprint == row.fingerprint }) {
            rows[i] = rows[i].merging(row)
            return false
        }
        rows.append(row)
        guard rows.count > capacity else { return false }
        rows.removeFirst()
        return true
    }

    private func noteQueue(droppedNow: Int) {
        let pending = state.withLock { $0.rows.count }
        telemetry.sink(Self.sinkName) { s in
            s.queued = pending
            s.dropped += Int64(droppedNow)
        }
        if droppedNow > 0 {
            logger.error("the alert table queue is full (\(capacity) episodes): dropped the oldest write; the journal has every alert")
        }
        waker.wake()
    }

    /// Reload: the table changed. Hands the queued writes to `successor` (which writes them, and
    /// every later delivery) and ends this writer's loop; nothing queued is dropped. A write in
    /// flight here may also land in the old table (upserts: never twice in one table).
    public func retire(into successor: AlertTableWriter) {
        let rows = state.withLock { q -> [AlertRow] in
            q.successor = successor
            q.stopping = true
            defer { q.rows = [] }
            return q.rows
        }
        successor.adopt(rows)
        waker.wake()
    }

    /// Takes writes queued by a writer retired by a reload: older than any this one holds, so a
    /// row of the same episode here is the newer one, and the oldest go first if there is no room.
    func adopt(_ rows: [AlertRow]) {
        var dropped = 0
        state.withLock { q in
            var older: [AlertRow] = []
            for r in rows {
                if let i = q.rows.firstIndex(where: { $0.fingerprint == r.fingerprint }) { q.rows[i] = r.merging(q.rows[i]) }
                else { older.append(r) }
            }
            q.rows = older + q.rows
            while q.rows.count > capacity {
                q.rows.removeFirst()
                dropped += 1
            }
        }
        noteQueue(droppedNow: dropped)
    }

    public func stop() {
        state.withLock { $0.stopping = true }
        waker.wake()
    }

    /// Stops after writing what is queued, waiting at most `timeout` seconds for the database.
    public func stop(timeout: Double) {
        stop()
        _ = done.wait(timeout: .now() + timeout)
        done.signal()  // for any later wait
        let left = state.withLock { $0.rows.count }
        if left > 0 {
            logger.error("stopping with \(left) alert table writes unwritten: the database did not take them within \(Int(timeout)) s (the journal has these alerts)")
        }
    }

    public func run() throws {
        loop()
        done.signal()
    }

    private func loop() {
        var backoff = Backoff(base: retryBase, cap: 30)
        // A lasting failure: said once with its reason, then summarised every minute; "back" only
        // once a write committed (opening a database on a full disk succeeds, its COMMIT fails).
        var failingSince: Double?
        var attempts = 0
        var lastSummary = 0.0
        while true {
            let (rows, stopping, retired) = state.withLock { q in (q.rows, q.stopping, q.successor != nil) }
            if rows.isEmpty || retired {
                if stopping { break }
                waker.wait(timeout: 60)
                continue
            }
            do {
                if table == nil { table = try open() }
                try table!.upsert(rows)
                backoff.reset()
                if let since = failingSince {
                    let plural = rows.count == 1 ? "" : "s"
                    logger.notice("the alert table is back after \(Int(wallClock() - since)) s and \(attempts) failed attempts; wrote \(rows.count) queued episode\(plural)")
                    failingSince = nil
                    attempts = 0
                }
                let (pending, retired) = state.withLock { q in
                    // Rows delivered meanwhile were folded into the ones just written: keep those that changed.
                    q.rows = q.rows.filter { r in !rows.contains(r) }
                    return (q.rows.count, q.successor != nil)
                }
                telemetry.sink(Self.sinkName) { s in
                    s.delivered += Int64(rows.count)
                    if !retired {  // the queue and its trouble are the successor's now
                        s.queued = pending
                        s.trouble = nil
                    }
                }
            } catch {
                if error.kind == .unavailable { table = nil }
                attempts += 1
                let retired = state.withLock { $0.successor != nil }
                telemetry.sink(Self.sinkName) { s in
                    s.failures += 1
                    if !retired { s.trouble = "alert table failing (\(rows.count) writes queued, \(attempts) failed attempts): \(error.message)" }
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
    }
}
