import AimonCore
import Foundation
import Testing

/// The commit script against a real Redis: conditional, applied once, never half applied.
@Suite(.serialized) struct CommitTests {
    let now = Date().timeIntervalSince1970.rounded(.down)

    struct Fixture {
        let prefix = "c" + UUID().uuidString.prefix(8).lowercased()
        let redis: RedisConnection
        let store: WindowStore
        var keys: KeySchema { store.keys }

        init(maxErrorMessages: Int = 50) throws {
            redis = try RedisServer.shared.connection()
            store = WindowStore(keys: KeySchema(prefix: prefix), retention: Retention(), host: "h", maxErrorMessages: maxErrorMessages)
        }

        func batch(_ calls: [APICall], now: Double) throws -> WindowBatch {
            var b = WindowBatch(retention: Retention(), maxErrorMessages: store.maxErrorMessages)
            var models = ModelRegistry(capacity: 100)
            for c in calls { try b.add(c, registry: &models, now: now) }
            return b
        }

        func calls(_ model: String, minute: Int64) throws -> Int64 {
            try redis.command(["HGET", keys.bucket(model, .minute, start: minute), "calls"]).integer ?? 0
        }

        func checkpoint(_ id: String) throws -> String? { try redis.command(["HGET", keys.checkpoints(host: "h"), id]).text }
    }

    func commit(_ f: Fixture, _ calls: [APICall], _ change: CheckpointChange, on redis: RedisConnection? = nil) throws -> WindowStore.Outcome {
        try f.store.commit(.init(batch: try f.batch(calls, now: now), changes: [change], counters: ["lines": Int64(calls.count)], now: Int64(now)),
                           on: redis ?? f.redis)
    }

    var minute: Int64 { Int64(now) - Int64(now) % 60 }

    /// Every applied commit raises the host's commit sequence and says it; a commit that had landed
    /// says it too (a failover that lost commits is seen by it: IngestPipeline).
    @Test func commitsRaiseTheHostsSequence() throws {
        let f = try Fixture()
        let calls = [APICall(timestamp: now, model: "m", success: true)]
        #expect(try f.store.commitSequence(on: f.redis) == 0)
        guard case let .applied(_, _, _, one) = try commit(f, calls, CheckpointChange(id: "f", expected: "", new: "10 1 h0 /f")) else { Issue.record("not applied"); return }
        guard case let .applied(_, _, _, two) = try commit(f, calls, CheckpointChange(id: "f", expected: "10 1 h0 /f", new: "20 1 h0 /f")) else { Issue.record("not applied"); return }
        let stored = try f.store.commitSequence(on: f.redis)
        #expect(one == 1 && two == 2 && stored == 2)
        #expect(try commit(f, calls, CheckpointChange(id: "f", expected: "10 1 h0 /f", new: "20 1 h0 /f")) == .landed(sequence: 2))
    }

    /// A daemon's lease renewal keeps its checkpoint hash alive: an idle log for longer than the
    /// retention does not lose its checkpoints.
    @Test func theLeaseKeepsTheCheckpointsAlive() throws {
        let f = try Fixture()
        let key = f.keys.checkpoints(host: "h")
        _ = try f.redis.command(["HSET", key, "f", "10 1 h0 /f"])
        _ = try f.redis.command(["EXPIRE", key, "5"])
        #expect(try DaemonLease(key: key, keepFor: 86400).acquire(now: now, on: f.redis) == nil)
        #expect(try f.redis.command(["TTL", key]).integer ?? 0 > 86000)
    }

    @Test func aCommitSentAgainAppliesOnceAndALateCopyAppliesNothing() throws {
        let f = try Fixture()
        let calls = (0..<100).map { _ in APICall(timestamp: now, model: "m") }
        let first = CheckpointChange(id: "1:b", expected: "", new: "1000 1 h0 /b")
        // Sent, its reply lost: the connection that sends it again is told it landed.
        #expect(try commit(f, calls, first).isApplied)
        let other = try RedisServer.shared.connection()
        #expect(try commit(f, calls, first, on: other) == .landed(sequence: 1))
        #expect(try f.calls("m", minute: minute) == 100)
        // The next batch lands; then a late copy of the first arrives (an EXEC buffered on a connection
        // that timed out): it finds neither its old nor its new checkpoint, and applies nothing.
        let second = CheckpointChange(id: "1:b", expected: "1000 1 h0 /b", new: "2000 1 h0 /b")
        #expect(try commit(f, Array(calls.prefix(10)), second).isApplied)
        #expect(try commit(f, calls, first, on: other) == .conflict(id: "1:b", found: "2000 1 h0 /b"))
        #expect(try f.calls("m", minute: minute) == 110)
        #expect(try f.redis.command(["HGET", f.keys.ingestCounters(host: "h"), "lines"]).integer == 110)
    }

    @Test func aFileWhoseOnlyNewBytesAreAnUnfinishedLineDoesNotDecideWhetherABatchLanded() throws {
        // The batch moves file B; file A only fed a partial line, so its checkpoint did not move and it is
        // no part of the commit's condition (before, the first checkpoint of the batch, possibly A's
        // unchanged one, was read back to judge whether the batch had landed).
        let f = try Fixture()
        _ = try commit(f, [APICall(timestamp: now, model: "m")], CheckpointChange(id: "a", expected: "", new: "10 1 h0 /a"))
        let b = CheckpointChange(id: "b", expected: "", new: "5000 2 h0 /b")
        let calls = (0..<100).map { _ in APICall(timestamp: now, model: "m") }
        // The connection broke before the commit reached Redis; sent again, it applies.
        #expect(try commit(f, calls, b).isApplied)
        #expect(try f.calls("m", minute: minute) == 101)
    }

    @Test func twoWritersOfOneFileCountItOnce() throws {
        let f = try Fixture()
        let calls = (0..<7).map { _ in APICall(timestamp: now, model: "m") }
        let change = CheckpointChange(id: "f", expected: "", new: "70 3 d0 /f")
        let replay = try RedisServer.shared.connection()
        #expect(try commit(f, calls, change).isApplied)
        // Another process read the same lines from the same checkpoint: it is told they landed.
        #expect(try commit(f, calls, change, on: replay).isLanded)
        // And one that read further from the same start conflicts.
        let further = CheckpointChange(id: "f", expected: "", new: "90 3 d0 /f")
        #expect(try commit(f, calls, further, on: replay) == .conflict(id: "f", found: "70 3 d0 /f"))
        #expect(try f.calls("m", minute: minute) == 7)
    }

    @Test func aKeyOfAnotherTypeRefusesTheWholeCommitBeforeAnyWrite() throws {
        let f = try Fixture()
        let calls = [APICall(timestamp: now, userID: "u", model: "m", success: false, errorMessage: "boom")]
        let hour = Int64(now) - Int64(now) % 3600
        for (key, setup) in [(f.keys.bucket(nil, .hour, start: hour), ["SET", f.keys.bucket(nil, .hour, start: hour), "x"]),
                             (f.keys.users("m", hour: hour), ["SET", f.keys.users("m", hour: hour), "not an HLL"]),
                             (f.keys.failureRun("m"), ["RPUSH", f.keys.failureRun("m"), "x"])] {
            _ = try f.redis.command(setup)
            let change = CheckpointChange(id: "f", expected: "", new: "10 3 h0 /f")
            do {
                _ = try commit(f, calls, change)
                Issue.record("a commit onto \(key) was accepted")
            } catch let error as RedisError {
                #expect(error.kind == .refused && error.message.contains(key), "\(error)")
            }
            // Nothing was written: no checkpoint, no bucket, no counter.
            #expect(try f.checkpoint("f") == nil)
            #expect(try f.calls("m", minute: minute) == 0)
            #expect(try f.redis.command(["EXISTS", f.keys.ingestCounters(host: "h")]).integer == 0)
            _ = try f.redis.command(["DEL", key])
        }
        #expect(try commit(f, calls, CheckpointChange(id: "f", expected: "", new: "10 3 h0 /f")).isApplied)
    }

    @Test func sumsPastInt64SaturateAndAreCounted() throws {
        let f = try Fixture()
        let key = f.keys.bucket("m", .minute, start: minute)
        _ = try f.redis.command(["HSET", key, "lat_us", String(Int64.max - 10), "calls", "junk"])
        let out = try commit(f, [APICall(timestamp: now, model: "m", responseTime: 1)], CheckpointChange(id: "f", expected: "", new: "1 1 h0 /f"))
        guard case let .applied(_, saturated, repaired, _) = out else { Issue.record("\(out)"); return }
        #expect(saturated == 1 && repaired == 1)
        #expect(try f.redis.command(["HGET", key, "lat_us"]).integer == Int64.max)
        #expect(try f.redis.command(["HGET", key, "calls"]).integer == 1)
    }

    @Test func theLastFailureOfARunOnlyMovesForward() throws {
        let f = try Fixture()
        _ = try commit(f, [APICall(timestamp: now - 10, model: "m", success: false)], CheckpointChange(id: "f", expected: "", new: "1 1 h0 /f"))
        // A lagging host (or an older rotated file) reports an older failure of the same run.
        _ = try commit(f, [APICall(timestamp: now - 500, model: "m", success: false)], CheckpointChange(id: "g", expected: "", new: "1 1 h0 /g"))
        let run = try f.redis.command(["HMGET", f.keys.failureRun("m"), "n", "last"]).array!.map(\.integer)
        #expect(run == [2, Int64(now - 10) * 1000])
    }

    @Test func modelsUnseenForTheirTTLLeaveTheRegistry() throws {
        let f = try Fixture()
        let store = WindowStore(keys: f.keys, retention: Retention(), host: "h", modelTTL: 3600)
        func commit(_ model: String, at t: Double, _ id: String) throws {
            _ = try store.commit(.init(batch: try f.batch([APICall(timestamp: t, model: model)], now: t),
                                       changes: [CheckpointChange(id: id, expected: "", new: "1 1 h0 /f")], now: Int64(t)), on: f.redis)
        }
        try commit("junk", at: now - 7200, "a")
        try commit("real", at: now - 1800, "b")
        #expect(Set(try store.loadModels(now: Int64(now), on: f.redis).keys) == ["real"])
        try commit("later", at: now, "c")
        #expect(try f.redis.command(["ZRANGE", f.keys.modelRegistry, "0", "-1"]).array?.compactMap(\.text) == ["real", "later"])
        #expect(try f.redis.command(["TTL", f.keys.modelRegistry]).integer ?? 0 > 3600)
    }

    @Test func distinctErrorMessagesAreCappedPerModelAndHour() throws {
        let f = try Fixture(maxErrorMessages: 5)
        let hour = Int64(now) - Int64(now) % 3600
        for batch in 0..<3 {
            let calls = (0..<4).map { APICall(timestamp: now, model: "m", success: false, errorMessage: "error kind \(batch * 4 + $0)") }
            _ = try commit(f, calls, CheckpointChange(id: "f\(batch)", expected: "", new: "1 1 h0 /f"))
        }
        let errors = try f.redis.command(["HGETALL", f.keys.errors("m", hour: hour)]).pairs
        let counts = Dictionary(uniqueKeysWithValues: errors.map { ($0.0, $0.1.integer ?? 0) })
        #expect(counts.count == 6)  // five messages, and the others together
        #expect(counts.values.reduce(0, +) == 12)
        #expect(counts[ErrorMessage.others] == 7)
    }
}

extension WindowStore.Outcome {
    var isApplied: Bool { if case .applied = self { return true } else { return false } }
    var isLanded: Bool { if case .landed = self { return true } else { return false } }
}
