import AimonCore
import Testing

/// The rule engine stepped through time by hand: every rule fires once, at the right moment, and
/// resolves; nothing flaps; state survives a restart (DESIGN.md, decision 6).
@Suite struct RuleEngineTests {
    /// A window whose current minute holds `calls` calls, `fails` of them failed, with `latency` s each.
    static func window(calls: Int64, fails: Int64, latency: Double = 0.5) -> WindowSnapshot {
        var minutes = [WindowSnapshot.Minute](repeating: .init(), count: 60)
        minutes[59] = .init(calls: calls, successes: calls - fails, failures: fails, latencyCount: calls,
                            latencySumMicros: Int64((latency * 1e6).rounded()) * calls)
        return WindowSnapshot(minutes: minutes)
    }

    /// A run of `current` failures in progress; `peak`: a run of that length (number 1) ended since the last look.
    static func run(_ current: Int64, peak: Int64? = nil, last: Double, announced: Int64 = 0) -> WindowSnapshot {
        var s = window(calls: 0, fails: 0)
        s.run = .init(current: current, id: peak == nil ? 1 : 2, lastFailure: last, announced: announced,
                      ended: peak.map { [.init(length: $0, id: 1)] } ?? [])
        return s
    }

    /// Feeds snapshots in time order, carrying the state like the evaluator does, and collects what was announced.
    struct Driver {
        var engine: RuleEngine
        var states: [String: [AlertType: AlertState]] = [:]
        var log: [AlertTransition] = []

        init(_ rules: [AlertRule]) { engine = RuleEngine(rules: rules) }

        /// The announced run number per model, as the store keeps it.
        var announced: [String: Int64] = [:]

        @discardableResult
        mutating func step(_ model: String?, _ snapshot: WindowSnapshot, at now: Double) -> [AlertTransition.Kind] {
            var out: [AlertTransition.Kind] = []
            var snapshot = snapshot
            if snapshot.run != nil { snapshot.run!.announced = max(snapshot.run!.announced, announced[model ?? "*"] ?? 0) }
            for s in engine.evaluate(model: model, snapshot: snapshot, states: states[model ?? "*"] ?? [:], now: now) {
                if let id = s.announcedRun { announced[model ?? "*"] = max(announced[model ?? "*"] ?? 0, id) }
                states[model ?? "*", default: [:]][s.type] = s.new
                log += s.transitions
                out += s.transitions.map(\.kind)
            }
            return out
        }
    }

    static func only(_ type: AlertType, _ edit: (inout AlertRule) -> Void = { _ in }) -> [AlertRule] {
        var r = AlertRule(type)
        edit(&r)
        return [r]
    }

    @Test func consecutiveFailuresFireOnceAtTheThresholdAndResolveOnSuccess() {
        var d = Driver(Self.only(.consecutiveFailures) { $0.keepFiringFor = 0 })
        #expect(d.step("m", Self.run(4, last: 100), at: 100) == [])
        #expect(d.step("m", Self.run(5, last: 101), at: 101) == [.firing])
        #expect(d.step("m", Self.run(9, last: 110), at: 110) == [])
        #expect(d.step("m", Self.run(9, last: 110), at: 200) == [])
        #expect(d.step("m", Self.run(0, peak: 9, last: 110), at: 210) == [.resolved])
        #expect(d.log[0].value == 5 && d.log[0].severity == .critical && d.log[0].priority == 2)
        #expect(d.log[1].fingerprint == d.log[0].fingerprint)
        #expect(d.log[0].message == "Firing consecutive_failures for model m: 5 consecutive failures (threshold 5)")
    }

    @Test func aRunThatBeginsAndEndsInOneBatchFiresAndResolves() {
        var d = Driver(Self.only(.consecutiveFailures) { $0.keepFiringFor = 0 })
        // Eight failures then a success, read at once: the run is 0 now but reached 8.
        #expect(d.step("m", Self.run(0, peak: 8, last: 100), at: 100) == [.firing, .resolved])
        #expect(d.log[0].value == 8)
        #expect(d.log[1].value == 0)
        #expect(d.states["m"]?[.consecutiveFailures] == .inactive)
    }

    @Test func aRunAnnouncedByAnotherProcessIsNotAnnouncedAgain() {
        // Another process fired and resolved run 1; this one committed the success that ended it.
        var d = Driver(Self.only(.consecutiveFailures) { $0.keepFiringFor = 0 })
        #expect(d.step("m", Self.run(0, peak: 80, last: 100, announced: 1), at: 100) == [])
        // A run nobody announced yet is news, and the step says which run it announced.
        let steps = d.engine.evaluate(model: "m", snapshot: Self.run(0, peak: 80, last: 100, announced: 0), states: [:], now: 100)
        #expect(steps[0].transitions.map(\.kind) == [.firing, .resolved])
        #expect(steps[0].announcedRun == 1)
        // A run still in progress is announced under its own number.
        let live = d.engine.evaluate(model: "m", snapshot: Self.run(7, last: 100), states: [:], now: 100)
        #expect(live[0].announcedRun == 1 && live[0].new.phase == .firing)
    }

    @Test func runsBrokenBySingleSuccessesAreOneEpisode() {
        // A model failing 6 times, succeeding once, again and again: one outage, not an alert per run.
        var d = Driver(Self.only(.consecutiveFailures))
        var kinds: [AlertTransition.Kind] = []
        var t = 100.0
        for run in Int64(1)...10 {
            // Run number `run` ended at 6 failures (seen by this process); the episode announced the ones before.
            var s = Self.window(calls: 0, fails: 0)
            s.run = .init(current: 0, id: run + 1, lastFailure: t, announced: run - 1, ended: [.init(length: 6, id: run)])
            kinds += d.step("m", s, at: t)
            t += 5
        }
        #expect(kinds == [.firing])
        // A minute without a run reaching the threshold: resolved, once.
        kinds += d.step("m", Self.run(2, last: t), at: t)
        kinds += d.step("m", Self.run(2, last: t), at: t + 59)
        #expect(kinds == [.firing])
        kinds += d.step("m", Self.run(2, last: t), at: t + 60)
        #expect(kinds == [.firing, .resolved])
    }

    @Test func oldFailuresFillWindowsButAnnounceNothing() {
        var d = Driver(Self.only(.consecutiveFailures) { $0.keepFiringFor = 0 })
        // The run's last failure is an hour old: history (a replay, a first run over old files).
        #expect(d.step("m", Self.run(50, last: 1000), at: 1000 + 3600) == [])
        // A firing alert whose run goes stale (traffic stopped) resolves.
        #expect(d.step("m", Self.run(6, last: 5000), at: 5000) == [.firing])
        #expect(d.step("m", Self.run(6, last: 5000), at: 5000 + 599) == [])
        #expect(d.step("m", Self.run(6, last: 5000), at: 5000 + 601) == [.resolved])
        #expect(d.log.last?.message.contains("no failure in the last 10m") == true)
    }

    @Test func ratiosWaitForMinRequests() {
        var d = Driver(Self.only(.lowSuccessRate))
        #expect(d.step("m", Self.window(calls: 19, fails: 19), at: 100) == [])
        #expect(d.step("m", Self.window(calls: 20, fails: 2), at: 101) == [.firing])
        #expect(d.log[0].value == 0.9 && d.log[0].sample == 20)
        #expect(d.log[0].message == "Firing low_success_rate for model m: success rate 90.0% over 1h (20 calls) (threshold 95.0%)")
    }

    @Test func everyRuleFiresAtItsSeedThreshold() {
        let cases: [(AlertType, WindowSnapshot, WindowSnapshot)] = [
            (.highHourlyFailures, Self.window(calls: 100, fails: 9), Self.window(calls: 100, fails: 10)),
            (.lowSuccessRate, Self.window(calls: 100, fails: 5), Self.window(calls: 100, fails: 6)),
            (.highErrorRate, Self.window(calls: 100, fails: 5), Self.window(calls: 100, fails: 6)),
            (.slowResponse, Self.window(calls: 100, fails: 0, latency: 10), Self.window(calls: 100, fails: 0, latency: 10.01)),
        ]
        for (type, below, above) in cases {
            var d = Driver(Self.only(type))
            let model: String? = type.defaultScope == .allModels ? nil : "m"
            #expect(d.step(model, below, at: 100) == [], "\(type)")
            #expect(d.step(model, above, at: 101) == [.firing], "\(type)")
            #expect(d.log.first?.severity == .warning && d.log.first?.priority == 4)
        }
    }

    @Test func aValueHoveringAtTheThresholdDoesNotFlap() {
        var d = Driver(Self.only(.highErrorRate))
        var t = 1000.0
        var kinds: [AlertTransition.Kind] = []
        for i in 0..<40 {  // 10 s apart: 5% (fine), 6% (bad), alternating for 400 s
            kinds += d.step("m", Self.window(calls: 100, fails: i % 2 == 0 ? 6 : 5), at: t)
            t += 10
        }
        #expect(kinds == [.firing])
        // Clear for keep_firing_for (5 min): resolves once.
        for _ in 0..<31 { kinds += d.step("m", Self.window(calls: 100, fails: 1), at: t); t += 10 }
        #expect(kinds == [.firing, .resolved])
    }

    @Test func aFiringAlertWhoseValueMovesWritesNothing() {
        let engine = RuleEngine(rules: Self.only(.highErrorRate))
        let fired = engine.evaluate(model: "m", snapshot: Self.window(calls: 100, fails: 30), states: [:], now: 1)[0]
        let later = engine.evaluate(model: "m", snapshot: Self.window(calls: 100, fails: 40), states: [.highErrorRate: fired.new], now: 2)[0]
        #expect(fired.changed && !later.changed)  // no store write, no announcement
    }

    @Test func aClearThresholdGivesHysteresis() {
        var d = Driver(Self.only(.lowSuccessRate) { $0.clearThreshold = 0.98; $0.keepFiringFor = 0 })
        #expect(d.step("m", Self.window(calls: 100, fails: 10), at: 1) == [.firing])
        #expect(d.step("m", Self.window(calls: 100, fails: 3), at: 2) == [])  // 97%: not clear yet
        #expect(d.step("m", Self.window(calls: 100, fails: 2), at: 3) == [.resolved])
    }

    @Test func forHoldsBeforeFiringAndAShortBlipAnnouncesNothing() {
        var d = Driver(Self.only(.slowResponse) { $0.forDuration = 60 })
        #expect(d.step("m", Self.window(calls: 50, fails: 0, latency: 12), at: 0) == [.pending])
        #expect(d.step("m", Self.window(calls: 50, fails: 0, latency: 1), at: 30) == [])
        #expect(d.states["m"]?[.slowResponse]?.phase == .inactive)
        #expect(d.step("m", Self.window(calls: 50, fails: 0, latency: 12), at: 100) == [.pending])
        #expect(d.step("m", Self.window(calls: 50, fails: 0, latency: 12), at: 159) == [])
        #expect(d.step("m", Self.window(calls: 50, fails: 0, latency: 12), at: 160) == [.firing])
    }

    @Test func remindersComeAtTheRepeatInterval() {
        var d = Driver(Self.only(.highErrorRate) { $0.repeatInterval = 600 })
        var kinds: [AlertTransition.Kind] = []
        for t in stride(from: 0.0, through: 1800, by: 60) {
            kinds += d.step("m", Self.window(calls: 100, fails: 50), at: t)
        }
        #expect(kinds == [.firing, .reminder, .reminder, .reminder])
        #expect(d.log.map(\.notifyCount) == [1, 2, 3, 4])
        #expect(Set(d.log.map(\.fingerprint)).count == 1)
    }

    @Test func stateSurvivesARestart() {
        var d = Driver(Self.only(.lowSuccessRate))
        #expect(d.step("m", Self.window(calls: 100, fails: 50), at: 10) == [.firing])
        // A new process reads the state back from its stored form and sees the same condition.
        let stored = d.states["m"]![.lowSuccessRate]!.encoded
        var restarted = Driver(Self.only(.lowSuccessRate))
        restarted.states["m"] = [.lowSuccessRate: AlertState(encoded: stored)!]
        #expect(AlertState(encoded: stored) == d.states["m"]![.lowSuccessRate])
        #expect(restarted.step("m", Self.window(calls: 100, fails: 50), at: 20) == [])
        #expect(AlertState(encoded: "") == .inactive)
        #expect(AlertState(encoded: "firing|x") == nil)
    }

    @Test func ratioAlertsAreHeldBackDuringAnOutage() {
        var rules = AlertType.windowTypes.map(AlertRule.init)
        for i in rules.indices { rules[i].keepFiringFor = 0 }
        var d = Driver(rules)
        var outage = Self.window(calls: 100, fails: 30)
        outage.run = .init(current: 30, lastFailure: 100)
        #expect(d.step("m", outage, at: 100) == [.firing, .held, .held])
        #expect(d.log.map(\.type) == [.consecutiveFailures, .lowSuccessRate, .highErrorRate])
        #expect(d.log[1].message.hasSuffix("consecutive_failures is firing for this model and describes the same outage"))
        #expect(d.log[1].priority == 6)
        // Held stays quiet while the outage lasts.
        #expect(d.step("m", outage, at: 110) == [])
        // The run ends but the rates stay bad: now the ratio alerts are news.
        var after = Self.window(calls: 101, fails: 30)
        after.run = .init(current: 0, lastFailure: 100)
        #expect(d.step("m", after, at: 120) == [.resolved, .firing, .firing])
    }

    @Test func perModelOverridesAndDisabledRules() {
        var slow = AlertRule(.slowResponse)
        slow.overrides["o1"] = .init(threshold: 30)
        slow.overrides["legacy"] = .init(enabled: false)
        var d = Driver([slow])
        let twenty = Self.window(calls: 30, fails: 0, latency: 20)
        #expect(d.step("gpt", twenty, at: 1) == [.firing])
        #expect(d.step("o1", twenty, at: 1) == [])
        #expect(d.step("o1", Self.window(calls: 30, fails: 0, latency: 31), at: 2) == [.firing])
        #expect(d.log.last?.threshold == 30)
        #expect(d.step("legacy", Self.window(calls: 30, fails: 0, latency: 99), at: 3) == [])
    }

    @Test func alertsResolveWhenTrafficStops() {
        var d = Driver(Self.only(.lowSuccessRate) { $0.keepFiringFor = 120 })
        #expect(d.step("m", Self.window(calls: 100, fails: 50), at: 0) == [.firing])
        let empty = Self.window(calls: 0, fails: 0)
        #expect(d.step("m", empty, at: 3600) == [])
        #expect(d.step("m", empty, at: 3719) == [])
        #expect(d.step("m", empty, at: 3720) == [.resolved])
        #expect(d.log.last?.message == "Resolved low_success_rate for model m: no calls in the last 1h (threshold 95.0%); fired for 62m")
    }

    @Test func sanitisedTextCannotStartALineOrAField() {
        #expect(JournalText.sanitise("a\nMESSAGE=x\u{0}b") == "a\\x0aMESSAGE=x\\x00b")
        #expect(JournalText.sanitise(String(repeating: "é", count: 10), limit: 5) == "éé...")
        #expect(AlertTransition.format(0.951, .lowSuccessRate) == "95.1%")
        #expect(AlertTransition.format(12.345, .slowResponse) == "12.35 s")
    }
}

/// `slow_first_token`: judged on streamed calls only, by p95 or average.
@Suite struct FirstTokenRuleTests {
    /// `streamed` calls with first tokens at the given seconds, and `other` calls without one.
    static func window(_ ttfts: [Double], other: Int64 = 0) -> WindowSnapshot {
        var minutes = [WindowSnapshot.Minute](repeating: .init(), count: 10)
        var c = BucketCounts()
        for t in ttfts { c.add(APICall(model: "m", responseTime: t + 1, ttft: t)) }
        for _ in 0..<other { c.add(APICall(model: "m", responseTime: 0.5)) }
        minutes[9] = .init(calls: c.calls, successes: c.successes, failures: 0, latencyCount: c.latencyCount, latencySumMicros: c.latencySumMicros,
                           ttftCount: c.ttftCount, ttftSumMicros: c.ttftSumMicros, ttftHistogram: c.ttftHistogram)
        return WindowSnapshot(minutes: minutes)
    }

    @Test func p95OverStreamedCallsOnly() {
        let rule = AlertRule(.slowFirstToken)
        // 19 fast and one slow: p95 falls in the fast bucket; 20 calls are enough.
        let mostlyFast = Self.window(Array(repeating: 0.3, count: 19) + [9], other: 500)
        #expect(mostlyFast.observe(rule, now: 0).sample == 20)
        #expect((mostlyFast.observe(rule, now: 0).value ?? 99) < 0.64)
        // Half slow: p95 in the 5.12-10.24 s bucket, over the 3 s default.
        let slow = Self.window(Array(repeating: 0.3, count: 10) + Array(repeating: 6, count: 10), other: 500)
        let v = slow.observe(rule, now: 0).value ?? 0
        #expect(v > 5.12 && v <= 10.24)
        #expect(rule.breaches(v, rule.threshold))
        // Calls without a first token are no evidence: 500 of them and 19 streamed do not make 20.
        #expect(Self.window(Array(repeating: 6, count: 19), other: 500).observe(rule, now: 0).value == nil)
        // The average, when asked for.
        var avg = rule
        avg.statistic = .avg
        #expect(abs((slow.observe(avg, now: 0).value ?? 0) - 3.15) < 1e-9)
    }

    @Test func firesAndResolves() {
        var engine = RuleEngine(rules: [AlertRule(.slowFirstToken)])
        engine.rules[0].keepFiringFor = 0
        let fired = engine.evaluate(model: "m", snapshot: Self.window(Array(repeating: 5, count: 30)), states: [:], now: 1000)
        #expect(fired[0].transitions.map(\.kind) == [.firing])
        #expect(fired[0].transitions[0].message.contains("time to first token"))
        let resolved = engine.evaluate(model: "m", snapshot: Self.window(Array(repeating: 0.2, count: 30)), states: [.slowFirstToken: fired[0].new], now: 1060)
        #expect(resolved[0].transitions.map(\.kind) == [.resolved])
    }
}
