import Testing
@testable import AimonCore

@Suite struct AlertConfigTests {
    func rule(_ c: Config, _ t: AlertType) -> AlertRule { c.alerts.engine.rules.first { $0.type == t }! }

    @Test func theSeedsThresholdsAreTheDefaults() throws {
        let c = try ConfigLoader.parse("sources:\n  - path: /x.jsonl\n")
        #expect(c.alerts.engine == RuleEngine.defaults)
        #expect(rule(c, .consecutiveFailures).threshold == 5 && rule(c, .highHourlyFailures).threshold == 10)
        #expect(rule(c, .lowSuccessRate).threshold == 0.95 && rule(c, .slowResponse).threshold == 10)
        #expect(rule(c, .highErrorRate).threshold == 0.05)
        #expect(rule(c, .lowSuccessRate).minRequests == 20 && rule(c, .consecutiveFailures).minRequests == 0)
        #expect(rule(c, .highHourlyFailures).scope == .allModels && rule(c, .slowResponse).scope == .model)
        #expect(c.alerts.database == .sqlite(path: "/var/lib/aimon/alerts.db"))
    }

    @Test func everyRuleSettingParses() throws {
        let c = try ConfigLoader.parse("""
        sources:
          - path: /x.jsonl
        thresholds:
          consecutive_failures_max: 8
          success_rate_min: 90%
          avg_response_time_max: 2500ms
          error_rate_max: 0.1
        rules:
          slow_response:
            window: 15m
            min_requests: 50
            for: 2m
            keep_firing_for: 10m
            repeat_interval: 1h
            severity: critical
            models:
              "o1-preview": {threshold: 60s, min_requests: 5}
              legacy: {enabled: false}
          high_hourly_failures:
            enabled: false
          low_success_rate:
            clear_threshold: 0.97
        alerts:
          database: postgres://aimon:pw@db.internal:5432/alerts
          evaluate_interval: 30s
          min_gap: 250ms
          queue_size: 500
        """)
        #expect(rule(c, .consecutiveFailures).threshold == 8)
        #expect(rule(c, .lowSuccessRate).threshold == 0.9 && rule(c, .lowSuccessRate).clearThreshold == 0.97)
        let slow = rule(c, .slowResponse)
        #expect(slow.threshold == 2.5 && slow.window == 900 && slow.minRequests == 50 && slow.forDuration == 120)
        #expect(slow.keepFiringFor == 600 && slow.repeatInterval == 3600 && slow.severity == .critical)
        #expect(slow.applying(to: "o1-preview").threshold == 60 && slow.applying(to: "o1-preview").minRequests == 5)
        #expect(slow.applying(to: "legacy").enabled == false && slow.applying(to: "gpt").threshold == 2.5)
        #expect(rule(c, .highHourlyFailures).enabled == false)
        #expect(c.alerts.database == .postgres(uri: "postgres://aimon:pw@db.internal:5432/alerts"))
        #expect(c.alerts.database.description == "postgres://aimon:***@db.internal:5432/alerts")
        #expect(c.alerts.evaluateInterval == 30 && c.alerts.minGap == 0.25 && c.alerts.queueSize == 500)
    }

    @Test func mistakesAreNamedWithTheirKeyAndLine() {
        do {
            _ = try ConfigLoader.parse("""
            sources:
              - path: /x.jsonl
            thresholds:
              success_rate_min: 1.5
              consecutive_failures_max: 0
              avg_response_time: 5s
            rules:
              low_success_rate:
                window: 90s
                clear_threshold: 0.9
                severity: page
              consecutive_failures:
                scope: all
              slow_responses: {}
            alerts:
              database: mysql://x
            """)
            Issue.record("expected a ConfigError")
        } catch {
            let text = error.description
            #expect(text.contains("line 4: thresholds.success_rate_min: '1.5' must be a ratio from 0 to 1"))
            #expect(text.contains("line 5: thresholds.consecutive_failures_max: '0' must be a whole number, at least 1"))
            #expect(text.contains("thresholds.avg_response_time: unknown key (did you mean 'avg_response_time_max'?)"))
            #expect(text.contains("rules.low_success_rate.window: must be whole minutes"))
            #expect(text.contains("rules.low_success_rate.clear_threshold: must be on the healthy side of the threshold (95.0%)"))
            #expect(text.contains("rules.low_success_rate.severity: must be critical or warning"))
            #expect(text.contains("rules.consecutive_failures.scope: consecutive failures are counted per model"))
            #expect(text.contains("rules.slow_responses: unknown key (did you mean 'slow_response'?)"))
            #expect(text.contains("alerts.database: 'mysql://x' is not a database URL"))
        }
    }

    @Test func sqliteURLsMustNameAnAbsoluteFile() {
        #expect((try? AlertsConfig.Database(parsing: "sqlite:///var/lib/aimon/a.db")) == .sqlite(path: "/var/lib/aimon/a.db"))
        #expect((try? AlertsConfig.Database(parsing: "sqlite://relative.db")) == nil)
        #expect((try? AlertsConfig.Database(parsing: "none")) == AlertsConfig.Database.none)
    }
}
