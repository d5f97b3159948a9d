import AimonCore
import Testing

@Suite struct DeploymentRuleTests {
    /// A pair is judged by the rules asked to look at deployments; the others are off for it.
    @Test func pairsGetOnlyTheirRules() {
        var engine = RuleEngine.defaults
        for i in engine.rules.indices where engine.rules[i].type == .consecutiveFailures { engine.rules[i].deployments = true }
        let pair = engine.rules(for: Deployment.pair("m", "eu"))
        #expect(pair.filter(\.enabled).map(\.type) == [.consecutiveFailures])
        #expect(engine.rules(for: "m").count == AlertType.windowTypes.count - 1)  // all per-model rules
        #expect(RuleEngine.defaults.rules(for: Deployment.pair("m", "eu")).allSatisfy { !$0.enabled })
    }

    /// A pair takes its model's overrides.
    @Test func pairsTakeTheirModelsOverrides() {
        var rule = AlertRule(.consecutiveFailures)
        rule.deployments = true
        rule.keepFiringFor = 0
        rule.overrides = ["quiet": .init(enabled: false)]
        let engine = RuleEngine(rules: [rule])
        let run = WindowSnapshot(minutes: [.init()], run: .init(current: 9, lastFailure: 1000))
        #expect(engine.evaluate(model: Deployment.pair("loud", "eu"), snapshot: run, states: [:], now: 1000)[0].transitions.map(\.kind) == [.firing])
        #expect(engine.evaluate(model: Deployment.pair("quiet", "eu"), snapshot: run, states: [:], now: 1000)[0].transitions.isEmpty)
    }

    /// Deployments turned off by a reload: a pair's firing episode resolves instead of staying open.
    @Test func turningDeploymentsOffResolvesPairAlerts() {
        var rule = AlertRule(.consecutiveFailures)
        rule.deployments = true
        let run = WindowSnapshot(minutes: [.init()], run: .init(current: 9, lastFailure: 1000))
        let fired = RuleEngine(rules: [rule]).evaluate(model: Deployment.pair("m", "eu"), snapshot: run, states: [:], now: 1000)[0]
        #expect(fired.new.phase == .firing)
        rule.deployments = false
        let after = RuleEngine(rules: [rule]).evaluate(model: Deployment.pair("m", "eu"), snapshot: run, states: [.consecutiveFailures: fired.new], now: 1010)[0]
        #expect(after.transitions.map(\.kind) == [.resolved] && after.new.phase == .inactive)
    }
}
