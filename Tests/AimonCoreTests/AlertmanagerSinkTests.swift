import Foundation
import Testing
@testable import AimonCore

@Suite struct AlertmanagerSinkTests {
    @Test func theSectionParses() throws {
        let c = try ConfigLoader.parse("""
        sources:
          - path: /x.jsonl
        alerts:
          alertmanager:
            urls: [http://am-1:9093/, "https://am-2:9093"]
            resend_interval: 30s
            timeout: 2s
            queue_size: 50
            extra_labels: {team: llm, env: prod}
        """)
        let am = try #require(c.alerts.alertmanager)
        #expect(am.urls == ["http://am-1:9093", "https://am-2:9093"])
        #expect(am.resendInterval == 30 && am.timeout == 2 && am.queueSize == 50)
        #expect(am.extraLabels == ["team": "llm", "env": "prod"])
        #expect(try ConfigLoader.parse("sources:\n  - path: /x.jsonl\n").alerts.alertmanager == nil)
    }

    @Test(arguments: [
        ("urls: []", "alerts.alertmanager.urls"),
        ("urls: [am-1:9093]", "alerts.alertmanager.urls[0]"),
        ("urls: [http://a:9093]\n    resend_interval: 0s", "alerts.alertmanager.resend_interval"),
        ("urls: [http://a:9093]\n    extra_labels: {severity: x}", "alerts.alertmanager.extra_labels.severity"),
        ("urls: [http://a:9093]\n    extra_labels: {9lives: x}", "alerts.alertmanager.extra_labels.9lives"),
        ("urls: [http://a:9093]\n    retries: 3", "alerts.alertmanager.retries"),
    ])
    func mistakesAreNamed(text: String, key: String) {
        do {
            _ = try ConfigLoader.parse("sources:\n  - path: /x.jsonl\nalerts:\n  alertmanager:\n    \(text)\n")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(key), "\(error.description)")
        }
    }

    /// The v2 API's alert: labels without a host, annotations, startsAt the episode's start, and an
    /// endsAt that lets Alertmanager resolve an alert that stops coming (or the resolution time).
    @Test func anAlertAsAlertmanagerGetsIt() throws {
        var config = AlertsConfig.Alertmanager(urls: ["http://a:9093"])
        config.extraLabels = ["team": "llm"]
        let t = AlertTransition(kind: .firing, type: .consecutiveFailures, model: "gpt-4o", severity: .critical, value: 7,
                                threshold: 5, window: 600, sample: 7, fingerprint: "00000000000000ab",
                                episodeStart: 1_795_759_000, at: 1_795_759_000, notifyCount: 1)
        let firing = try JSONSerialization.jsonObject(with: Data(AlertmanagerSink.alert(t, config: config, now: 1_795_759_010, resolved: false).rendered.utf8)) as! [String: Any]
        #expect(firing["labels"] as? [String: String] == ["alertname": "consecutive_failures", "model": "gpt-4o", "severity": "critical", "team": "llm"])
        let annotations = firing["annotations"] as? [String: String] ?? [:]
        #expect(annotations["summary"] == t.message && annotations["value"] == "7" && annotations["threshold"] == "5")
        #expect(annotations["window"] == "10m" && annotations["fingerprint"] == "00000000000000ab")
        #expect(firing["startsAt"] as? String == AlertRow.timestamp(1_795_759_000))
        #expect(firing["endsAt"] as? String == AlertRow.timestamp(1_795_759_010 + 240))
        var resolved = t
        resolved.kind = .resolved
        resolved.model = nil
        resolved.at = 1_795_759_300
        let r = try JSONSerialization.jsonObject(with: Data(AlertmanagerSink.alert(resolved, config: config, now: 1_795_759_300, resolved: true).rendered.utf8)) as! [String: Any]
        #expect((r["labels"] as? [String: String])?["model"] == nil)  // all models: no model label
        #expect(r["endsAt"] as? String == AlertRow.timestamp(1_795_759_300))
        #expect(r["generatorURL"] == nil)  // no status page without http
        // With the status page: its row of the alert.
        let linked = try JSONSerialization.jsonObject(with: Data(AlertmanagerSink.alert(t, config: config, statusPage: "https://aimon.example/",
                                                                                        now: 1_795_759_010, resolved: false).rendered.utf8)) as! [String: Any]
        #expect(linked["generatorURL"] as? String == "https://aimon.example/#00000000000000ab")
    }
}
