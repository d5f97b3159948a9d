import Testing
@testable import AimonCore

/// Failure classes in the windows and the rules: kept per class, counted as failures by the source's
/// policy, and left out of rates and runs when not counted.
@Suite struct FailureClassTests {
    let now = 1_795_773_600.0
    let retention = Retention()

    func call(_ outcome: CallOutcome, at t: Double) -> APICall {
        APICall(timestamp: t, model: "m", outcome: outcome, responseTime: 1)
    }

    @Test func bucketsKeepEveryClassAndCountThePolicysFailures() {
        var b = BucketCounts()
        for o in [CallOutcome.success, .success, .success, .clientError, .clientError, .rateLimited, .providerError] {
            b.add(call(o, at: now))
        }
        #expect(b.calls == 7 && b.successes == 3 && b.clientErrors == 2 && b.rateLimited == 1 && b.providerErrors == 1)
        #expect(b.failures == 2 && b.failedCalls == 4 && b.judged == 5)
        #expect(b.successRate == 0.6 && b.errorRate == 0.4)
        #expect(BucketCounts(values: b.fieldValues) == b)
        #expect(BucketCounts(fields: Dictionary(uniqueKeysWithValues: zip(BucketCounts.fieldNames, b.fieldValues))) == b)

        var strict = BucketCounts()
        let all = FailurePolicy([.clientError, .rateLimited, .providerError])
        for o in [CallOutcome.success, .clientError, .rateLimited, .providerError] { strict.add(call(o, at: now), policy: all) }
        #expect(strict.failures == 3 && strict.successRate == 0.25)

        var onlyClientErrors = BucketCounts()
        onlyClientErrors.add(call(.clientError, at: now))
        #expect(onlyClientErrors.successRate == nil && onlyClientErrors.errorRate == nil)
    }

    @Test func uncountedFailuresNeitherExtendNorEndARun() throws {
        var batch = WindowBatch(retention: retention)
        var models = ModelRegistry(capacity: 10)
        let policy = FailurePolicy([.providerError])  // rate limiting not counted for this source
        let outcomes: [CallOutcome] = [.providerError, .clientError, .providerError, .rateLimited, .providerError, .success, .clientError]
        for (i, o) in outcomes.enumerated() { try batch.add(call(o, at: now + Double(i)), policy: policy, registry: &models, now: now + 10) }
        let run = batch.runs["m"]!
        #expect(run.leading == 3 && run.trailing == 0 && run.sawSuccess)
        let minute = batch.minute[.init(model: "m", start: Int64(now))]!
        #expect(minute.failures == 3 && minute.rateLimited == 1 && minute.clientErrors == 2 && minute.successes == 1)
    }

    @Test func ratioRulesJudgeOnlyCountedCalls() {
        // 20 successes and 30 client errors: the model is fine; 19 successes and 1 provider error: 95%.
        var minutes = [WindowSnapshot.Minute](repeating: .init(), count: 60)
        minutes[59] = .init(calls: 50, successes: 20, failures: 0)
        var d = RuleEngine(rules: [AlertRule(.lowSuccessRate), AlertRule(.highErrorRate)])
        var steps = d.evaluate(model: "m", snapshot: WindowSnapshot(minutes: minutes), states: [:], now: now)
        #expect(steps.allSatisfy { $0.transitions.isEmpty })
        minutes[59] = .init(calls: 50, successes: 15, failures: 5)
        steps = d.evaluate(model: "m", snapshot: WindowSnapshot(minutes: minutes), states: [:], now: now)
        #expect(steps.flatMap(\.transitions).map(\.kind) == [.firing, .firing])
        #expect(steps.flatMap(\.transitions).map(\.sample) == [20, 20])
        #expect(steps.flatMap(\.transitions).first { $0.type == .lowSuccessRate }?.value == 0.75)
        // Below min_requests once client errors are left out: nothing to judge.
        minutes[59] = .init(calls: 100, successes: 10, failures: 5)
        d.rules = d.rules.map { var r = $0; r.minRequests = 20; return r }
        steps = d.evaluate(model: "m", snapshot: WindowSnapshot(minutes: minutes), states: [:], now: now)
        #expect(steps.allSatisfy { $0.transitions.isEmpty })
    }

    @Test func aSourcesPolicyDecidesWhatTheParsedCallsCount() throws {
        // End to end through the parser and the batch: the same nginx lines under two policies.
        let lines = [#"{"model":"m","status":200}"#, #"{"model":"m","status":429}"#, #"{"model":"m","status":400}"#, #"{"model":"m","status":503}"#]
        func fold(_ policy: FailurePolicy) throws -> BucketCounts {
            var batch = WindowBatch(retention: retention)
            var models = ModelRegistry(capacity: 10)
            let parser = SourceFormat(preset: .nginx, policy: policy).makeParser()
            for l in lines { try batch.add(try FormatFixtures.parse(l, with: parser).get(), policy: policy, registry: &models, now: now) }
            return batch.minute[.init(model: "m", start: Int64(now))]!
        }
        let byDefault = try fold(.default)
        #expect(byDefault.failures == 2 && byDefault.judged == 3 && byDefault.failedCalls == 3)
        let providerOnly = try fold(FailurePolicy([.providerError]))
        #expect(providerOnly.failures == 1 && providerOnly.judged == 2)
        #expect(FailurePolicy.default.classes == [.rateLimited, .providerError])
    }
}
