import AimonCore
import AimonSamples
import Foundation
import Testing

/// The API and the status page of a real daemon, against the CLI and a real headless browser.
@Suite struct HTTPAPITests {
    static func config(_ ws: Workspace, port: Int, http extra: String = "") -> String {
        let text = """
        host_id: \(ws.host)
        sources:
          - path: \(ws.dir)/*.jsonl
            start_at: beginning
        redis:
          url: \(RedisServer.shared.url)
          key_prefix: \(ws.prefix)
        ingest:
          sweep_interval: 200ms
        rules:
          consecutive_failures: {keep_firing_for: 0s}   # resolves at the next success
        alerts:
          database: sqlite://\(ws.path("alerts.db"))
          evaluate_interval: 1s
        http:
          listen: 127.0.0.1:\(port)
        \(extra)
        log_level: notice
        """
        try! text.write(toFile: ws.path("aimon.yaml"), atomically: true, encoding: .utf8)
        return ws.path("aimon.yaml")
    }

    /// A log with history (the last 30 hours) and an outage now, read by a daemon; its alert fired.
    static func populated(_ ws: Workspace, port: Int, http extra: String = "") throws -> (Process, String, [String]) {
        var log = SampleLog(seed: 11)
        let now = Date().timeIntervalSince1970
        let lines = (0..<6000).map { log.line(at: now - 30 * 3600 + Double($0) * 17) }
        ws.writeLog("history.jsonl", lines)
        let config = Self.config(ws, port: port, http: extra)
        let daemon = try startDaemon(config: config, log: ws.path("aimon.log"))
        let redis = try RedisConnection(url: RedisURL(parsing: RedisServer.shared.url))
        #expect(eventually(timeout: 60) { committedLines(redis, prefix: ws.prefix, host: ws.host) == Int64(lines.count) })
        AlertIntegrationTests.publish(ws, "outage", (0..<40).map { AlertIntegrationTests.line("outage-model", ok: $0 < 10, at: now - 20 + Double($0) * 0.1) })
        #expect(eventually(timeout: 60) { committedLines(redis, prefix: ws.prefix, host: ws.host) == Int64(lines.count + 40) })
        return (daemon, config, Array(log.truth.keys) + ["outage-model"])
    }

    /// `/api/v1/<report>` equals `aimon <report> --json` with the same parameters. The two are read
    /// a moment apart: the API is asked before and after the CLI, and when both API answers agree
    /// (no minute boundary and no write between them) the CLI's must be the same text.
    @Test func theAPIAnswersWhatTheCLIPrints() throws {
        let ws = Workspace()
        let port = RedisServer.freePort()
        let (daemon, config, models) = try Self.populated(ws, port: port)
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(eventually(timeout: 30) {
            (try? runAimon(["alerts", "--config", config, "--active", "--json"]).stdout.contains("outage-model")) == true
        })
        let cases: [(api: String, cli: [String])] = [
            ("stats", ["stats"]),
            ("stats?hours=48", ["stats", "--hours", "48"]),
            ("stats?hours=72&model=outage-model", ["stats", "--hours", "72", "--model", "outage-model"]),
            ("system?hours=36", ["system", "--hours", "36"]),
            ("trend?days=3", ["trend", "--days", "3"]),
            ("trend?days=2&model=\(models[0].addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", ["trend", "--days", "2", "--model", models[0]]),
            ("alerts?active", ["alerts", "--active"]),
            ("alerts?since=2h&limit=5", ["alerts", "--since", "2h", "--limit", "5"]),
        ]
        let client = HTTPClient(timeout: 10)
        for c in cases {
            var compared = false
            for _ in 0..<5 where !compared {
                let before = try client.get("http://127.0.0.1:\(port)/api/v1/\(c.api)")
                let cli = try runAimon(c.cli + ["--config", config, "--json"])
                let after = try client.get("http://127.0.0.1:\(port)/api/v1/\(c.api)")
                #expect(cli.status == 0, "\(cli.stderr)")
                guard before == after else { continue }
                #expect(before == cli.stdout, "\(c.api)")
                compared = true
            }
            #expect(compared, "\(c.api): the API never answered twice alike")
        }
        // A resolved episode beside a firing one: `?active` (a key without a value) lists only
        // what still fires, as `--active` does.
        AlertIntegrationTests.publish(ws, "recovery", (0..<30).map { AlertIntegrationTests.line("outage-model", ok: true, at: Date().timeIntervalSince1970 - 1 + Double($0) * 0.01) })
        #expect(eventually(timeout: 30) {
            (try? runAimon(["alerts", "--config", config, "--json"]).stdout.contains("\"is_active\": false")) == true
        })
        for query in ["alerts?active", "alerts?active=true", "alerts?active&since=1h"] {
            let cli = try runAimon(["alerts", "--config", config, "--active", "--json"] + (query.contains("since") ? ["--since", "1h"] : []))
            #expect(try client.get("http://127.0.0.1:\(port)/api/v1/\(query)") == cli.stdout, "\(query)")
            #expect(!cli.stdout.contains("\"is_active\": false"))
        }
        // Every model of the log is in the stats, with its calls.
        let stats = try JSONSerialization.jsonObject(with: Data(try client.get("http://127.0.0.1:\(port)/api/v1/stats?hours=48").utf8)) as? [[String: Any]] ?? []
        #expect(Set(stats.compactMap { $0["model_name"] as? String }) == Set(models))

        // Parameters are checked as the CLI checks them; a failed read is not a 200.
        #expect(RawClient(port: port).request("GET /api/v1/stats?hours=0 HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 400"))
        #expect(RawClient(port: port).request("GET /api/v1/trend?days=x HTTP/1.1\r\nHost: x\r\n\r\n").contains("days 'x' is not a whole number"))
        // Windows longer than the buckets are kept hold a thread for nothing: refused.
        let long = RawClient(port: port).request("GET /api/v1/stats?hours=8000 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(long.hasPrefix("HTTP/1.1 400") && long.contains("hours must be at most 841 (retention.hour_buckets"), "\(long)")
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    /// The status page in a real headless browser (Debian's `chromium`): every model and the firing
    /// alert are in its DOM. `AIMON_SCREENSHOT=path` also saves a screenshot (Docs/status-page.png).
    @Test func theStatusPageInARealBrowser() throws {
        let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let browser else {
            Issue.record("chromium is not installed: run `apt-get install chromium` (scripts/install-deps.sh does)")
            return
        }
        let ws = Workspace()
        let port = RedisServer.freePort()
        let (daemon, _, models) = try Self.populated(ws, port: port)
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(eventually(timeout: 30) {
            (try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/").contains("class=\"alert critical\"")) == true
        })
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--user-data-dir=\(ws.path("chromium"))", "--window-size=1280,1000"]
        let dom = try Subprocess.run([browser] + flags + ["--dump-dom", "http://127.0.0.1:\(port)/"], timeout: 60)
        #expect(dom.status == 0, "\(dom.output.suffix(2000))")
        for model in models {
            #expect(dom.output.contains("data-model=\"\(StatusPage.escape(model))\""), "\(model) is not on the page")
        }
        #expect(dom.output.contains("<td>consecutive_failures</td><td>outage-model</td>") || dom.output.contains("<td>low_success_rate</td><td>outage-model</td>"))
        #expect(dom.output.contains("<svg class=\"spark\""))
        let shot = ProcessInfo.processInfo.environment["AIMON_SCREENSHOT"] ?? ws.path("status.png")
        let s = try Subprocess.run([browser] + flags + ["--hide-scrollbars", "--screenshot=\(shot)", "http://127.0.0.1:\(port)/"], timeout: 60)
        #expect(s.status == 0, "\(s.output.suffix(2000))")
        let png = (try? Data(contentsOf: URL(fileURLWithPath: shot))) ?? Data()
        #expect(png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "no screenshot")
    }

    /// On a non-loopback address with a token: a real client without it gets 401, with it the answer;
    /// `/healthz` stays open for probes.
    @Test func credentialsOnARealSocket() throws {
        let ws = Workspace()
        let port = RedisServer.freePort()
        try "0123456789abcdef0123\n".write(toFile: ws.path("token"), atomically: true, encoding: .utf8)
        ws.writeLog("gw.jsonl", [])
        var text = try String(contentsOfFile: Self.config(ws, port: port), encoding: .utf8)
        text = text.replacingOccurrences(of: "listen: 127.0.0.1:\(port)", with: "listen: 0.0.0.0:\(port)\n  bearer_token_file: \(ws.path("token"))")
        try text.write(toFile: ws.path("aimon.yaml"), atomically: true, encoding: .utf8)
        let daemon = try startDaemon(config: ws.path("aimon.yaml"), log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(eventually(timeout: 30) { (try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/healthz")) == "ok\n" })
        let refused = RawClient(port: port).request("GET /api/v1/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(refused.hasPrefix("HTTP/1.1 401") && refused.contains("WWW-Authenticate: Bearer realm=\"aimon\""), "\(refused)")
        #expect(RawClient(port: port).request("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n").hasPrefix("HTTP/1.1 401"))
        #expect(RawClient(port: port).request("GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef0123\r\n\r\n")
            .hasPrefix("HTTP/1.1 200"))
    }
}
