import Logging
import Synchronization
import Testing
@testable import AimonCore

/// The writer's queue against a fake table (the real tables are tested against SQLite here and
/// PostgreSQL in IntegrationTests): writes wait while the table is down, fold per episode, are
/// bounded, and land once.
@Suite struct AlertTableWriterTests {
    final class FakeTable: AlertTable, @unchecked Sendable {
        let rows = Mutex<[String: AlertRow]>([:])
        let upserts = Atomic<Int>(0)
        func migrate() throws(AlertTableError) {}
        func upsert(_ batch: [AlertRow]) throws(AlertTableError) {
            upserts.add(1, ordering: .relaxed)
            rows.withLock { r in for row in batch { r[row.fingerprint] = r[row.fingerprint].map { $0.merging(row) } ?? row } }
        }
        func list(_ filter: AlertFilter) throws(AlertTableError) -> [AlertRow] { rows.withLock { Array($0.values) } }
    }

    static func transition(_ kind: AlertTransition.Kind, _ fingerprint: String, count: Int = 1) -> AlertTransition {
        AlertTransition(kind: kind, type: .slowResponse, model: "m", severity: .warning, value: 12, threshold: 10, window: 3600,
                        sample: 40, fingerprint: fingerprint, episodeStart: 1000, at: 2000, notifyCount: count)
    }

    @Test func writesWaitWhileTheTableIsDownAndLandOnceWhenItReturns() {
        let table = FakeTable()
        let up = Atomic<Bool>(false)
        let opens = Atomic<Int>(0)
        let writer = AlertTableWriter(host: "h", capacity: 10, logger: Logger(label: "test")) { () throws(AlertTableError) in
            opens.add(1, ordering: .relaxed)
            guard up.load(ordering: .relaxed) else { throw AlertTableError(.unavailable, "down") }
            return table
        }
        writer.start()
        writer.deliver(Self.transition(.firing, "a"))
        writer.deliver(Self.transition(.reminder, "a", count: 2))
        writer.deliver(Self.transition(.firing, "b"))
        writer.deliver(Self.transition(.held, "c"))  // held back: no row
        writer.deliver(Self.transition(.resolved, "a", count: 2))
        #expect(writer.stats.pending == 2)  // one per episode
        #expect(eventually { opens.load(ordering: .relaxed) >= 1 && writer.stats.failures >= 1 })
        #expect(table.rows.withLock { $0.isEmpty })
        up.store(true, ordering: .relaxed)
        writer.stop(timeout: 10)
        let rows = table.rows.withLock { $0 }
        #expect(rows.count == 2)
        #expect(rows["a"]?.isActive == false && rows["a"]?.notifyCount == 2 && rows["a"]?.resolvedAt != nil)
        #expect(rows["b"]?.isActive == true)
        #expect(writer.stats.written == 2 && writer.stats.pending == 0 && writer.stats.dropped == 0)
    }

    @Test func theQueueIsBoundedAndSaysWhatItDropped() {
        let writer = AlertTableWriter(host: "h", capacity: 3, logger: Logger(label: "test")) { () throws(AlertTableError) in
            throw AlertTableError(.unavailable, "down")
        }
        for i in 0..<5 { writer.deliver(Self.transition(.firing, "e\(i)")) }
        #expect(writer.stats.pending == 3 && writer.stats.dropped == 2)
        #expect(writer.stats.dropped == 2)
    }

    /// A full disk: the database opens, every write fails. "Back" is said once, after a write
    /// committed (it was said on every retry), and the failure once, with its reason.
    @Test func theTableIsBackOnlyOnceAWriteCommitted() {
        let log = CapturedLog()
        final class FullDisk: AlertTable, @unchecked Sendable {
            let inner = FakeTable()
            let full = Atomic<Bool>(true)
            func migrate() throws(AlertTableError) {}
            func upsert(_ batch: [AlertRow]) throws(AlertTableError) {
                if full.load(ordering: .relaxed) {
                    throw AlertTableError(.unavailable, "SQLite /x.db: database or disk is full (code 13)")
                }
                try inner.upsert(batch)
            }
            func list(_ filter: AlertFilter) throws(AlertTableError) -> [AlertRow] { try inner.list(filter) }
        }
        let table = FullDisk()
        let writer = AlertTableWriter(host: "h", capacity: 10, logger: log.logger, retryBase: 0.01) { () throws(AlertTableError) in table }
        writer.start()
        writer.deliver(Self.transition(.firing, "a"))
        #expect(eventually { writer.stats.failures >= 3 })  // reopened and failed again each time
        #expect(writer.trouble?.contains("disk is full") == true)  // for STATUS
        table.full.store(false, ordering: .relaxed)
        #expect(eventually { writer.stats.written == 1 })
        #expect(writer.trouble == nil)
        writer.stop(timeout: 10)
        let lines = log.lines
        #expect(lines.filter { $0.contains("is back") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.contains("cannot write to the alert table") }.count == 1, "\(lines)")
        #expect(lines.last { $0.contains("is back") }?.contains("wrote 1 queued episode") == true, "\(lines)")
        #expect(lines.first?.contains("disk is full") == true, "\(lines)")
    }

    /// Polls a condition for at most a few seconds (the writer works on its own thread).
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            _ = Waker().wait(timeout: 0.01)
        }
        return condition()
    }
}
