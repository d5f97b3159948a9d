import Foundation
import Logging
import Synchronization
import Testing
@testable import AimonCore

/// The evaluator against a real Redis, time stepped by hand.
@Suite(.serialized) struct AlertEvaluatorTests {
    let keys = KeySchema(prefix: "e" + UUID().uuidString.prefix(8).lowercased())
    let now = Date().timeIntervalSince1970.rounded(.down)
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    final class Collecting: AlertSink, @unchecked Sendable {
        let got = Mutex<[AlertTransition]>([])
        func deliver(_ t: AlertTransition) { got.withLock { $0.append(t) } }
        var summary: [String] { got.withLock { $0.map { "\($0.state) \($0.type.rawValue) \($0.modelField)" } } }
    }

    /// A model with `n` failures in a row, the last one now.
    func seedRun(_ redis: RedisConnection, _ model: String, n: Int, at t: Double) throws {
        _ = try redis.command(["HSET", keys.failureRun(model), "n", String(n), "last", String(Int64(t * 1000))])
        _ = try redis.command(["SADD", keys.models(hour: Int64(t) - Int64(t) % 3600), model])
    }

    func evaluator(_ sink: Collecting) -> AlertEvaluator {
        AlertEvaluator(config: .defaults, keys: keys, retention: Retention(minuteBuckets: 7200, hourBuckets: 7200), sinks: [sink],
                       logger: Self.logger)
    }

    @Test func aFiringAlertKeepsItsStateForAsLongAsItFires() throws {
        let redis = try RedisServer.shared.connection()
        let sink = Collecting()
        let e = evaluator(sink)
        try seedRun(redis, "m", n: 8, at: now)
        try e.evaluateAll(on: redis, now: now)
        #expect(sink.summary == ["firing consecutive_failures m"])
        // Its TTL is about to run out while the model keeps failing (here: shortened to 5 s).
        _ = try redis.command(["EXPIRE", keys.alertStates("m"), "5"])
        _ = try redis.command(["EXPIRE", keys.alerting, "5"])
        try seedRun(redis, "m", n: 9, at: now + 20)
        try e.evaluateAll(on: redis, now: now + 20)  // the timer's evaluation
        #expect(try redis.command(["TTL", keys.alertStates("m")]).integer ?? 0 > 7000)
        #expect(try redis.command(["TTL", keys.alerting]).integer ?? 0 > 7000)
        #expect(sink.summary == ["firing consecutive_failures m"])  // still one episode
    }

    @Test func aModelWhoseSwapsAreBothLostIsEvaluatedAgain() throws {
        let redis = try RedisServer.shared.connection()
        let other = try RedisServer.shared.connection()
        let sink = Collecting()
        let e = evaluator(sink)
        try seedRun(redis, "m", n: 2, at: now)
        try e.evaluateAll(on: redis, now: now)  // the timer's first look: nothing to say yet
        // A batch of this process ended a run of 7 failures (the run hash no longer shows it).
        e.noteBatch(["m": RunsEnded(ended: .init(length: 7, id: 1), inside: 0)], touched: ["m"])
        _ = try redis.command(["HSET", keys.failureRun("m"), "n", "0", "ended", "1"])
        // Another process writes the model's state first, twice: both swaps of this one are lost. (What
        // it writes reads as inactive, so that only the lost swaps matter here.)
        nonisolated(unsafe) var interfere = 2
        e.beforeSwap = { model in
            guard model == "m", interfere > 0 else { return }
            interfere -= 1
            _ = try? other.command(["HSET", keys.alertStates("m"), AlertType.consecutiveFailures.rawValue, "moved \(interfere)"])
        }
        try e.evaluateTouched(on: redis, now: now + 1)
        #expect(sink.summary.isEmpty, "\(sink.summary)")
        #expect(e.stats.conflicts == 2)
        // The run it saw end is still due, and is announced at the next evaluation.
        try e.evaluateTouched(on: redis, now: now + 2)
        #expect(sink.summary.contains("firing consecutive_failures m"))
    }

    /// The timer's pass over many models goes by parts; models evaluated again between two parts
    /// (urgent ones) are listed by that evaluation only. When alerts of the first part resolved in
    /// between, the pass's list became shorter than the part it had listed, and the evaluation
    /// thread stopped on a range check ("Range requires lowerBound <= upperBound", seen with 1,000
    /// models under load).
    @Test func alertsThatResolveBetweenThePartsOfAPassAreListedAsResolved() throws {
        let redis = try RedisServer.shared.connection()
        let sink = Collecting()
        let telemetry = Telemetry()
        let e = AlertEvaluator(config: .defaults, keys: keys, retention: Retention(minuteBuckets: 7200, hourBuckets: 7200), sinks: [sink],
                               logger: Self.logger, telemetry: telemetry)
        let models = (0..<150).map { String(format: "m%03d", $0) }
        for m in models { try seedRun(redis, m, n: m <= "m001" ? 8 : 0, at: now) }
        try e.evaluateAll(on: redis, now: now)
        #expect(sink.summary == ["firing consecutive_failures m000", "firing consecutive_failures m001"])
        // Both runs end: the alerts keep firing for `keep_firing_for` (60 s), then resolve.
        for m in ["m000", "m001"] { _ = try redis.command(["HSET", keys.failureRun(m), "n", "0"]) }
        try e.evaluateAll(on: redis, now: now + 10)
        #expect(sink.summary.count == 2)
        var parts = 0
        try e.evaluateAll(on: redis, now: now + 65) { () throws(RedisError) in
            parts += 1
            guard parts == 1 else { return }
            // Between the parts (the first one still saw them firing), a batch of both: they resolve.
            e.noteBatch([:], touched: ["m000", "m001"], urgent: ["m000", "m001"])
            try e.evaluateTouched(on: redis, now: now + 80)
        }
        #expect(parts >= 1)
        #expect(sink.summary.suffix(2) == ["resolved consecutive_failures m000", "resolved consecutive_failures m001"])
        #expect(telemetry.figures.firing.isEmpty, "\(telemetry.figures.firing.map(\.model))")
    }

    @Test func theAllModelsCacheIsNotSharedWithAModelNamedLikeIt() throws {
        let redis = try RedisServer.shared.connection()
        let store = AlertStore(keys: keys, stateTTL: 3600)
        let minute = Int64(now) - Int64(now) % 60
        _ = try redis.command(["HSET", keys.bucket(nil, .minute, start: minute - 120), "calls", "5"])
        _ = try redis.command(["HSET", keys.bucket("\u{0}*", .minute, start: minute - 120), "calls", "7"])
        var cache = AlertStore.MinuteCache()
        _ = try store.read([nil, "\u{0}*"], minutes: 5, now: now, cache: &cache, refresh: true, on: redis)
        let again = try store.read([nil, "\u{0}*"], minutes: 5, now: now, cache: &cache, refresh: false, on: redis)
        #expect(again.map { $0.snapshot.sum(window: 300).calls } == [5, 7])
    }
}
