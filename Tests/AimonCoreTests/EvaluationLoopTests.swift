import Logging
import Synchronization
import Testing
@testable import AimonCore

/// The rule engine as the evaluation loop sees it: what it was asked, and injected failures.
final class FakeRules: RuleEvaluating {
    var connected = false
    var touched: Set<String> = []
    var calls: [String] = []
    var failures: [RedisError] = []
    var connects = 0
    /// Runs inside each evaluation (a test advances its clock: an evaluation that takes time).
    var during: () -> Void = {}
    let telemetry: Telemetry
    init(telemetry: Telemetry) { self.telemetry = telemetry }

    var isConnected: Bool { connected }
    func connect() throws(RedisError) {
        guard !connected else { return }
        connects += 1
        connected = true
    }
    func disconnect() { connected = false }
    var urgent: Set<String> = []
    func note(_ post: EvaluationMailbox.Post) {
        touched.formUnion(post.touched)
        urgent.formUnion(post.urgent)
    }
    var hasTouched: Bool { !touched.isEmpty }
    var hasUrgent: Bool { !urgent.isEmpty }
    private func attempt(_ what: String) throws(RedisError) {
        if !failures.isEmpty { throw failures.removeFirst() }
        calls.append(what)
        during()
        telemetry.update { $0.evaluation.evaluations += 1 }
    }
    /// Runs inside a pass over every model, as the real one runs `between` after each part.
    var midPass: () -> Void = {}
    func evaluateAll(now: Double, between: () throws(RedisError) -> Void) throws(RedisError) {
        try attempt("all@\(Int(now))")
        touched = []
        urgent = []
        midPass()
        try between()
    }
    func evaluateTouched(now: Double) throws(RedisError) {
        try attempt("touched:\(touched.sorted().joined(separator: ","))@\(now)")
        touched = []
        urgent = []
    }
    func evaluateUrgent(now: Double) throws(RedisError) {
        try attempt("urgent:\(urgent.sorted().joined(separator: ","))@\(now)")
        touched.subtract(urgent)
        urgent = []
    }
    func update(config: AlertsConfig, sinks: [any AlertSink]) { calls.append("update") }
}

/// The evaluation loop stepped by hand: the clock is the test's, no Redis, no waiting.
@Suite struct EvaluationLoopTests {
    final class Clock: Sendable {
        let now = Mutex(1000.0)
        func set(_ t: Double) { now.withLock { $0 = t } }
    }

    func loop(_ clock: Clock, interval: Double = 10, minGap: Double = 0.05) -> (EvaluationService, FakeRules, Telemetry) {
        let telemetry = Telemetry()
        let rules = FakeRules(telemetry: telemetry)
        var config = AlertsConfig.defaults
        config.evaluateInterval = interval
        config.minGap = minGap
        let service = EvaluationService(rules: rules, config: config, slotKey: "", slotOffset: 0, telemetry: telemetry,
                                        logger: quietLogger, clock: { clock.now.withLock { $0 } })
        return (service, rules, telemetry)
    }

    @Test func everyModelOnSlotsAndTouchedModelsBetween() {
        let clock = Clock()
        let (s, rules, telemetry) = loop(clock)
        #expect(s.tick() == 1010)  // evaluated at start; the next slot at 1010
        #expect(rules.calls == ["all@1000"])
        s.mailbox.post(runs: [:], touched: ["m1"])
        clock.set(1000.01)
        #expect(s.tick() == 1000.05)  // within min_gap of the last evaluation: waits for it
        clock.set(1000.06)
        _ = s.tick()
        #expect(rules.calls == ["all@1000", "touched:m1@1000.06"])
        clock.set(1010)
        _ = s.tick()
        #expect(rules.calls.last == "all@1010")
        #expect(telemetry.figures.evaluation.missed == 0)
        #expect(telemetry.figures.beats["evaluation"] != nil)
    }

    /// Evaluations of touched models pace themselves: one that took 20 ms waits 4 times that before
    /// the next (min_gap is 5 ms), so with many models under steady load the engine takes at most a
    /// quarter of its thread instead of reading every model after every batch.
    @Test func touchedEvaluationsWaitAMultipleOfWhatTheLastOneCost() {
        let clock = Clock()
        let (s, rules, _) = loop(clock, minGap: 0.005)
        _ = s.tick()
        clock.set(1000.01)
        s.mailbox.post(runs: [:], touched: ["m1"])
        rules.during = { clock.set(1000.03) }  // this evaluation takes 20 ms
        _ = s.tick()
        #expect(rules.calls.last == "touched:m1@1000.01")
        rules.during = {}
        s.mailbox.post(runs: [:], touched: ["m1"])
        #expect(abs(s.tick() - 1000.09) < 1e-9)  // 1000.01 + 4 x 0.02
        clock.set(1000.05)
        _ = s.tick()
        #expect(rules.calls.last == "touched:m1@1000.01")  // not yet
        clock.set(1000.09)
        _ = s.tick()
        #expect(rules.calls.last == "touched:m1@1000.09")
        // A cheap one brings the gap back to min_gap.
        s.mailbox.post(runs: [:], touched: ["m2"])
        #expect(abs(s.tick() - 1000.095) < 1e-9)
    }

    /// Models whose batches carried failures do not wait for the pace of the others: after a
    /// touched evaluation that took 100 ms (the next waits 400 ms), a failing model is evaluated at
    /// once, alone; the healthy ones keep their turn.
    @Test func failingModelsGoAheadOfTheHealthyOnes() {
        let clock = Clock()
        let (s, rules, _) = loop(clock, minGap: 0.005)
        _ = s.tick()
        clock.set(1000.01)
        s.mailbox.post(runs: [:], touched: ["h1", "h2"])
        rules.during = { clock.set(1000.11) }  // a thousand healthy models: 100 ms
        _ = s.tick()
        rules.during = {}
        clock.set(1000.12)
        s.mailbox.post(runs: [:], touched: ["h1", "f"], urgent: ["f"])
        #expect(abs(s.tick() - 1000.41) < 1e-9)  // the healthy one's turn; f went at once
        #expect(rules.calls.suffix(2) == ["touched:h1,h2@1000.01", "urgent:f@1000.12"])
        clock.set(1000.2)
        _ = s.tick()
        #expect(rules.calls.count == 3)
        clock.set(1000.42)
        _ = s.tick()
        #expect(rules.calls.last == "touched:h1@1000.42")
    }

    /// A pass over every model takes long with many models: a failing model posted meanwhile is
    /// evaluated between its parts, not after it.
    @Test func failingModelsAreEvaluatedInTheMiddleOfAPassOverAll() {
        let clock = Clock()
        let (s, rules, _) = loop(clock, minGap: 0.005)
        rules.midPass = {
            clock.set(1000.3)
            s.mailbox.post(runs: [:], touched: ["h", "f"], urgent: ["f"])
        }
        _ = s.tick()
        #expect(rules.calls == ["all@1000", "urgent:f@1000.3"])
        #expect(rules.hasTouched)  // h waits for its turn
    }

    /// A long stall (Redis down, a slow evaluation) counts the slots that passed without one.
    @Test func slotsThatPassWithoutAnEvaluationAreCountedAsMissed() {
        let clock = Clock()
        let (s, rules, telemetry) = loop(clock)
        _ = s.tick()
        rules.failures = [RedisError(.connection, "Connection refused")]
        clock.set(1010)
        let retry = s.tick()  // fails: retried after a backoff, on a new connection
        #expect(!rules.isConnected && retry > 1010)
        #expect(telemetry.figures.evaluation.failures == 1)
        clock.set(1041)  // the slots at 1020, 1030 and 1040 passed
        #expect(s.tick() == 1050)
        #expect(rules.calls.last == "all@1041")
        #expect(telemetry.figures.evaluation.missed == 3)
        #expect(rules.connects == 2)
    }

    /// A batch touched while the timer is far: evaluated at once, however long ingest takes.
    @Test func aPostWakesTheLoopWithoutWaitingForTheTimer() {
        let clock = Clock()
        let (s, rules, _) = loop(clock, interval: 60)
        _ = s.tick()
        clock.set(1001)
        s.mailbox.post(runs: [:], touched: ["outage"])
        #expect(s.mailbox.waker.wait(timeout: 0))  // the post woke it
        _ = s.tick()
        #expect(rules.calls.last == "touched:outage@1001.0")
    }

    @Test func aReloadIsTakenBetweenTwoEvaluations() {
        let clock = Clock()
        let (s, rules, _) = loop(clock)
        _ = s.tick()
        var config = AlertsConfig.defaults
        config.evaluateInterval = 30
        s.update(config: config, sinks: [])
        clock.set(1010)
        _ = s.tick()
        #expect(rules.calls == ["all@1000", "update", "all@1010"])
        #expect(s.tick() == 1020)  // the next slot of the new interval, from the offset
    }
}

/// The notifier's watchdog: fed only while every watched service beats.
@Suite struct NotifierLivenessTests {
    @Test func aServiceThatStopsBeatingWithholdsThePing() {
        let telemetry = Telemetry()
        let log = CapturedLog()
        let n = NotifierService(notifier: ServiceNotifier(), telemetry: telemetry, watched: ["ingest", "evaluation"],
                                longestCall: 0.5, logger: log.logger)
        #expect(n.staleAfter == 4)  // four Redis calls of 0.5 s, a second, and an idle wait of a second
        // The default redis.timeout (5 s): the idle services wake every 5 s, which the staleness allows for.
        #expect(Telemetry.idleWait(longestCall: 0.5) == 1)
        #expect(Telemetry.idleWait(longestCall: 5) == 5)
        #expect(Telemetry.idleWait(longestCall: 30) == 5)
        #expect(NotifierService.staleness(watchdogInterval: nil, longestCall: 5) == 26)
        #expect(NotifierService.staleness(watchdogInterval: 60, longestCall: 0.5) == 60)
        telemetry.beat("ingest", now: 100)
        telemetry.beat("evaluation", now: 100)
        #expect(n.alive(telemetry.figures, now: 103))
        telemetry.beat("ingest", now: 104)
        #expect(!n.alive(telemetry.figures, now: 105))  // evaluation silent for 5 s
        #expect(log.lines.contains { $0.contains("the evaluation service has shown no progress") })
        telemetry.beat("evaluation", now: 105)
        #expect(n.alive(telemetry.figures, now: 105.5))
        #expect(log.lines.contains { $0.contains("the evaluation service makes progress again") })
    }

    /// A reload that shortens redis.timeout shortens the staleness only once the services began
    /// under the old one could have beaten under the new: one old staleness later. A longer one
    /// applies at once.
    @Test func aShorterStalenessWaitsForTheServicesOfTheOldOne() {
        let telemetry = Telemetry()
        let n = NotifierService(notifier: ServiceNotifier(), telemetry: telemetry, watched: ["ingest"],
                                longestCall: 5, logger: quietLogger)
        #expect(n.staleAfter == 26)
        telemetry.beat("ingest", now: 100)
        n.update(longestCall: 0.5, now: 101)  // the ingest may be 5 s into an idle wait of 5 s
        #expect(n.alive(telemetry.figures, now: 106))  // silent for 6 s: not stale yet
        telemetry.beat("ingest", now: 110)
        #expect(n.alive(telemetry.figures, now: 126))
        #expect(!n.alive(telemetry.figures, now: 128))  // from 101 + 26: 4 s, and silent for 18
        #expect(n.staleAfter == 4)
        n.update(longestCall: 5, now: 128)
        #expect(n.staleAfter == 26)  // longer: at once
    }

    @Test func statusSaysWhatOperatorsAskFirst() {
        let telemetry = Telemetry()
        let n = NotifierService(notifier: ServiceNotifier(), telemetry: telemetry, watched: [], longestCall: 0.5, logger: quietLogger)
        telemetry.update { f in
            f.files.open = 3
            f.ingest.lines = 500
            f.ingest.redisConnected = true
            f.ingest.badLines[.invalidJSON] = 2
            f.sinks["alert_table"] = Telemetry.Sink(trouble: "alert table failing (1 writes queued, 2 failed attempts): down")
            f.evaluation.lastAlert = "firing consecutive_failures m"
        }
        let line = n.statusLine(telemetry.figures, now: 10)
        #expect(line == "tailing 3 files, 0 lines/s, 0 bytes unread, Redis ok, 500 lines so far, 2 bad (invalid_json 2), "
                + "alert table failing (1 writes queued, 2 failed attempts): down, last alert: firing consecutive_failures m")
    }
}
