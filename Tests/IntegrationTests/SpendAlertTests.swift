import Foundation
import Logging
import Synchronization
import Testing
@testable import AimonCore

/// `spend` against a real Redis, time stepped by hand: each threshold is announced once per period
/// by one of two processes (evaluators on their own connections), not again after a restart, and
/// resolved once when the period is over.
@Suite(.serialized) struct SpendAlertTests {
    let keys = KeySchema(prefix: "s" + UUID().uuidString.prefix(8).lowercased())
    /// The start of a UTC day (2024-10-04; any day works: time is injected).
    let day: Int64 = 20_000 * 86400

    /// Collects what a process announces, and the alerts it last saw firing.
    final class Sink: ActiveAlertsSink, @unchecked Sendable {
        let got = Mutex<[AlertTransition]>([])
        let firing = Mutex<[AlertTransition]>([])
        func deliver(_ t: AlertTransition) { got.withLock { $0.append(t) } }
        func active(_ alerts: [AlertTransition], now: Double) { firing.withLock { $0 = alerts.filter { $0.type == .spend } } }
        var summary: [String] {
            got.withLock { $0.map { "\($0.state) \($0.modelField) \(AlertTransition.format($0.threshold, .spend))" } }
        }
        var firingNow: [String] { firing.withLock { $0.map { "\($0.modelField) \(AlertTransition.format($0.threshold, .spend))" }.sorted() } }
        func take() -> [String] { defer { got.withLock { $0 = [] } }; return summary }
    }

    func config(_ rules: [SpendRule]) -> AlertsConfig {
        var c = AlertsConfig.defaults
        c.spend = rules
        return c
    }

    static let rules = [SpendRule(period: .days(1), thresholds: [1, 2]), SpendRule(period: .days(1), thresholds: [1.5], scope: .model)]

    func process(_ sink: Sink, rules: [SpendRule] = Self.rules) -> AlertEvaluator {
        AlertEvaluator(config: config(rules), keys: keys, retention: Retention(minuteBuckets: 7200, hourBuckets: 35 * 86400), sinks: [sink],
                       logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// Priced calls of a model in the hour holding `t`, as a commit writes them.
    func spend(_ redis: RedisConnection, _ model: String, usd: Double, calls: Int = 3, at t: Int64) throws {
        let hour = t - t % 3600
        for m in [nil, model] {
            _ = try redis.command(["HINCRBY", keys.bucket(m, .hour, start: hour), "cost_n", String(calls)])
            _ = try redis.command(["HINCRBY", keys.bucket(m, .hour, start: hour), "cost_nusd", String(BucketCounts.nanos(usd))])
        }
        _ = try redis.command(["SADD", keys.models(hour: hour), model])
    }

    @Test func eachThresholdOncePerPeriodAcrossTwoProcessesAndARestart() throws {
        let ra = try RedisServer.shared.connection(), rb = try RedisServer.shared.connection()
        let sa = Sink(), sb = Sink()
        let a = process(sa), b = process(sb)
        let t0 = Double(day + 10 * 3600)

        // $1.20 over two models: the all-models $1 threshold, no model at $1.50.
        try spend(ra, "m1", usd: 0.6, at: day + 9 * 3600)
        try spend(ra, "m2", usd: 0.6, at: day + 10 * 3600)
        // Both read no active alert, then B announces while A waits: A's announcement must lose.
        a.spendWatcher.beforeAnnounce = { try? b.evaluateAll(on: rb, now: t0 + 1) }
        try a.evaluateAll(on: ra, now: t0 + 2)
        a.spendWatcher.beforeAnnounce = nil
        #expect(sb.take() == ["firing * $1.00"])
        #expect(sa.take() == [])
        try a.evaluateAll(on: ra, now: t0 + 3)
        try b.evaluateAll(on: rb, now: t0 + 4)
        #expect(sa.summary + sb.summary == [])
        #expect(sa.firingNow == ["* $1.00"] && sb.firingNow == ["* $1.00"])

        // An hour later: $2.20 in all, m1 at $1.60.
        try spend(rb, "m1", usd: 1.0, at: day + 11 * 3600)
        try b.evaluateAll(on: rb, now: t0 + 3601)
        try a.evaluateAll(on: ra, now: t0 + 3602)
        #expect(sb.take().sorted() == ["firing * $2.00", "firing m1 $1.50"])
        #expect(sa.take() == [])

        // A restarts: a new process, nothing held in memory; it announces nothing, sees all three firing.
        let sc = Sink()
        let c = process(sc)
        try c.evaluateAll(on: ra, now: t0 + 3700)
        #expect(sc.take() == [])
        #expect(sc.firingNow == ["* $1.00", "* $2.00", "m1 $1.50"])

        // A reload drops the $2 threshold: its alert resolves once, as withdrawn; B, still asking for
        // it, does not announce it again in this period.
        let sd = Sink()
        let d = process(sd, rules: [SpendRule(period: .days(1), thresholds: [1]), Self.rules[1]])
        try d.evaluateAll(on: ra, now: t0 + 3800)
        #expect(sd.take() == ["resolved * $2.00"])
        try b.evaluateAll(on: rb, now: t0 + 3801)
        #expect(sb.take() == [])

        // The day is over: each alert still firing resolves once, with the day's final spend.
        let next = Double(day + 86400 + 60)
        try c.evaluateAll(on: ra, now: next)
        try b.evaluateAll(on: rb, now: next + 1)
        try a.evaluateAll(on: ra, now: next + 2)
        let resolved = sc.got.withLock { $0 } + sb.got.withLock { $0 } + sa.got.withLock { $0 }
        #expect(resolved.map { "\($0.state) \($0.modelField) \(AlertTransition.format($0.threshold, .spend))" }.sorted()
            == ["resolved * $1.00", "resolved m1 $1.50"])
        #expect(resolved.first { $0.model == nil }?.value == 2.2)
        #expect(resolved.first { $0.model == "m1" }?.value == 1.6)
        #expect(resolved.allSatisfy { $0.message.hasSuffix("the period is over") })
        _ = sc.take(); _ = sb.take(); _ = sa.take()
        #expect(sa.firingNow.isEmpty && sb.firingNow.isEmpty)

        // A new day, a new period: its thresholds are announced again, as new episodes.
        try spend(ra, "m2", usd: 1.1, at: day + 86400 + 3600)
        try a.evaluateAll(on: ra, now: next + 3600)
        try b.evaluateAll(on: rb, now: next + 3601)
        let again = sa.got.withLock { $0 } + sb.got.withLock { $0 }
        #expect(again.map { "\($0.state) \($0.modelField) \(AlertTransition.format($0.threshold, .spend))" } == ["firing * $1.00"])
        #expect(again.first?.fingerprint != resolved.first { $0.model == nil }?.fingerprint)
    }

    @Test func hoursAreReadOnceAndLateCostsAreSeenAtTheNextFullRead() throws {
        let redis = try RedisServer.shared.connection()
        let sink = Sink()
        let e = process(sink, rules: [SpendRule(period: .days(1), thresholds: [5])])
        let t0 = Double(day + 20 * 3600)
        try spend(redis, "m", usd: 4, at: day + 2 * 3600)
        try e.evaluateAll(on: redis, now: t0)
        #expect(e.spendWatcher.hoursRead == 21)
        // A lagging host commits $2 into an hour long closed: not read again at once (only the last
        // two hours are), but at the next full read, and announced once.
        try spend(redis, "m", usd: 2, at: day + 3 * 3600)
        try e.evaluateAll(on: redis, now: t0 + 10)
        #expect(e.spendWatcher.hoursRead == 2)
        #expect(sink.summary == [])
        try e.evaluateAll(on: redis, now: t0 + SpendWatcher.refreshEvery)
        #expect(e.spendWatcher.hoursRead == 21)
        #expect(sink.take() == ["firing * $5.00"])
        try e.evaluateAll(on: redis, now: t0 + 2 * SpendWatcher.refreshEvery)
        #expect(sink.take() == [])
    }

    /// A host without the rule (an old configuration, a reload rolling out) leaves the others'
    /// alerts firing; they resolve when their period is over.
    @Test func aProcessWithoutTheRuleWithdrawsNothing() throws {
        let redis = try RedisServer.shared.connection()
        let sa = Sink(), sb = Sink()
        let a = process(sa, rules: [SpendRule(period: .hour, thresholds: [1])]), b = process(sb, rules: [])
        let t0 = Double(day + 5 * 3600 + 60)
        try spend(redis, "m", usd: 1, at: day + 5 * 3600)
        try a.evaluateAll(on: redis, now: t0)
        try b.evaluateAll(on: redis, now: t0 + 1)
        try a.evaluateAll(on: redis, now: t0 + 2)
        #expect(sa.take() == ["firing * $1.00"] && sb.take() == [])
        #expect(sa.firingNow == ["* $1.00"])
        try b.evaluateAll(on: redis, now: t0 + 3600)
        #expect(sb.take() == ["resolved * $1.00"])
        try a.evaluateAll(on: redis, now: t0 + 3601)
        #expect(sa.take() == [] && sa.firingNow == [])
    }

    /// A week and a day that begin on the same Monday share the period's announced set: the day's
    /// announcement must not shorten its life to the day's, or the week could be announced again.
    @Test func periodsBeginningTogetherKeepTheLongerLife() throws {
        let redis = try RedisServer.shared.connection()
        let sink = Sink()
        let monday: Int64 = 20_003 * 86400  // 2024-10-07
        let e = process(sink, rules: [SpendRule(period: .week, thresholds: [1]), SpendRule(period: .days(1), thresholds: [1], scope: .model)])
        try spend(redis, "m", usd: 1, at: monday + 600)
        try e.evaluateAll(on: redis, now: Double(monday + 700))
        #expect(sink.take() == ["firing * $1.00", "firing m $1.00"])
        let ttl = try redis.command(["TTL", keys.spendAnnounced(start: monday)]).integer ?? 0
        #expect(ttl > 7 * 86400, "\(ttl)")
    }

    /// A script that ran but whose reply was lost: the next evaluation finds this process's mark
    /// and announces the firing (or the resolution) then: late, never twice, never lost.
    @Test func aLostReplyIsSettledAtTheNextEvaluation() throws {
        let redis = try RedisServer.shared.connection()
        let sink = Sink()
        let e = process(sink, rules: [SpendRule(period: .hour, thresholds: [1])])
        let t0 = Double(day + 7 * 3600 + 60)
        try spend(redis, "m", usd: 1, at: day + 7 * 3600)
        nonisolated(unsafe) var lose = true
        e.spendWatcher.afterScript = { () throws(RedisError) in
            if lose { lose = false; throw RedisError(.io, "reply lost (test)") }
        }
        #expect(throws: RedisError.self) { try e.evaluateAll(on: redis, now: t0) }
        #expect(sink.take() == [])
        try e.evaluateAll(on: redis, now: t0 + 10)
        #expect(sink.take() == ["firing * $1.00"])
        try e.evaluateAll(on: redis, now: t0 + 20)
        #expect(sink.take() == [])
        // Another process does not announce it either.
        let other = Sink()
        try process(other, rules: [SpendRule(period: .hour, thresholds: [1])]).evaluateAll(on: redis, now: t0 + 30)
        #expect(other.take() == [])
        // The resolution, lost the same way.
        lose = true
        #expect(throws: RedisError.self) { try e.evaluateAll(on: redis, now: t0 + 3600) }
        #expect(sink.take() == [])
        try e.evaluateAll(on: redis, now: t0 + 3610)
        #expect(sink.take() == ["resolved * $1.00"])
        try e.evaluateAll(on: redis, now: t0 + 3620)
        #expect(sink.take() == [])
    }

    /// At +05:30 the day's last UTC hour bucket (18:00-19:00) belongs to the next day: an alert raised
    /// at 18:15 UTC belongs to a period that is not over, and does not resolve at once.
    @Test func aHalfHourZoneRaisesAlertsOfThePeriodInProgress() throws {
        let redis = try RedisServer.shared.connection()
        let sink = Sink()
        let e = process(sink, rules: [SpendRule(period: .days(1), utcOffset: 19800, thresholds: [1])])
        try spend(redis, "m", usd: 1, at: day + 18 * 3600 + 600)
        try e.evaluateAll(on: redis, now: Double(day + 18 * 3600 + 900))
        try e.evaluateAll(on: redis, now: Double(day + 18 * 3600 + 910))
        #expect(sink.take() == ["firing * $1.00"])
        #expect(sink.firingNow == ["* $1.00"])
    }
}
