import AimonCore
import Foundation
import Testing

/// The alert store against a real Redis: the compare-and-set that makes one process announce each
/// transition, the announced-run number, and the minute cache.
@Suite(.serialized) struct AlertStoreTests {
    let keys = KeySchema(prefix: "s" + UUID().uuidString.prefix(8).lowercased())
    var store: AlertStore { AlertStore(keys: keys, stateTTL: 3600) }

    @Test func onlyOneSwapFromTheSameStateWins() throws {
        let redis = try RedisServer.shared.connection()
        var firing = AlertState()
        firing.phase = .firing
        firing.fingerprint = "f1"
        // Two processes read "inactive" and both decide to fire: one swap lands, the other is refused.
        #expect(try store.swap("m", [(.lowSuccessRate, "", firing.encoded)], announcedRun: 3, on: redis))
        #expect(try !store.swap("m", [(.lowSuccessRate, "", firing.encoded)], announcedRun: 3, on: redis))
        #expect(try store.alertingModels(on: redis) == ["m"])
        var cache = AlertStore.MinuteCache()
        let read = try store.read(["m"], minutes: 2, now: 1_795_773_600, cache: &cache, refresh: true, on: redis)
        #expect(read[0].states[.lowSuccessRate] == firing)
        #expect(read[0].snapshot.run?.announced == 3)
        // A lower run number never lowers it; back to inactive leaves the alerting set.
        #expect(try store.swap("m", [(.lowSuccessRate, firing.encoded, "")], announcedRun: 2, on: redis))
        #expect(try store.alertingModels(on: redis).isEmpty)
        #expect(try redis.command(["HGET", keys.failureRun("m"), "announced"]).integer == 3)
        #expect(try redis.command(["EXISTS", keys.alertStates("m")]).integer == 0)  // an empty hash is gone
    }

    @Test func minutesThatAreOverComeFromTheCacheUntilTheTimerRefreshes() throws {
        let redis = try RedisServer.shared.connection()
        let now = 1_795_773_600.0 + 30
        let old = Int64(now) - 30 - 600
        _ = try redis.command(["HSET", keys.bucket("m", .minute, start: old), "calls", "4", "fail", "4"])
        _ = try redis.command(["HSET", keys.bucket("m", .minute, start: Int64(now) - 30), "calls", "1"])
        var cache = AlertStore.MinuteCache()
        let first = try store.read(["m"], minutes: 60, now: now, cache: &cache, refresh: true, on: redis)
        #expect(first[0].snapshot.sum(window: 3600).calls == 5)
        #expect(cache.count == 60)
        // A late line lands in the old minute and one in the current minute.
        _ = try redis.command(["HINCRBY", keys.bucket("m", .minute, start: old), "calls", "10"])
        _ = try redis.command(["HINCRBY", keys.bucket("m", .minute, start: Int64(now) - 30), "calls", "1"])
        let quick = try store.read(["m"], minutes: 60, now: now, cache: &cache, refresh: false, on: redis)
        #expect(quick[0].snapshot.sum(window: 3600).calls == 6)  // the current minute is always read
        let full = try store.read(["m"], minutes: 60, now: now, cache: &cache, refresh: true, on: redis)
        #expect(full[0].snapshot.sum(window: 3600).calls == 16)
        store.prune(&cache, keeping: [nil])
        #expect(cache.count == 0)
    }
}
