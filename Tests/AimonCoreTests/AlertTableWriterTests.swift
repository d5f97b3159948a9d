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
        #expect(writer.counters["alerts_table_dropped"] == 2)
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
