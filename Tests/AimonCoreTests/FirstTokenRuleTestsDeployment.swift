import AimonCore
import Testing

@Suite struct DeploymentRuleTests {
    /// A pair is judged only by the rules asked to look at deployments; a model by all its rules.
    @Test func pairsGetOnlyTheirRules() {
        var engine = RuleEngine.defaults
        for i in engine.rules.indices where engine.rules[i].type == .consecutiveFailures { engine.rules[i].deployments = true }
        #expect(engine.rules(for: Deployment.pair("m", "eu")).map(\.type) == [.consecutiveFailures])
        #expect(engine.rules(for: "m").count == AlertType.allCases.count - 1)  // all per-model rules
        #expect(RuleEngine.defaults.rules(for: Deployment.pair("m", "eu")).isEmpty)
    }
}
