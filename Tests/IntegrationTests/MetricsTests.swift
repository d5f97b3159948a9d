import AimonCore
import AimonSamples
import Foundation
import Testing

/// `/metrics` and `/healthz` on a real daemon; a real Prometheus scrapes it.
@Suite struct MetricsTests {
    static func config(_ ws: Workspace, port: Int) -> String {
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
        alerts:
          database: none
          evaluate_interval: 1s
        http:
          listen: 127.0.0.1:\(port)
        log_level: notice
        """
        try! text.write(toFile: ws.path("aimon.yaml"), atomically: true, encoding: .utf8)
        return ws.path("aimon.yaml")
    }

    /// A real Prometheus scrapes aimon every second while it reads a generated log: the calls per
    /// model it stores equal the truth, and the exposition passes `promtool check metrics`.
    @Test func prometheusScrapesTheTruth() throws {
        let ws = Workspace()
        let port = RedisServer.freePort()
        var log = SampleLog(seed: 7)
        let now = Date().timeIntervalSince1970
        let lines = (0..<3000).map { log.line(at: now - 120 + Double($0) * 0.01) }
        ws.writeLog("gw.jsonl", lines)
        let prometheus = try PrometheusServer(target: "127.0.0.1:\(port)")
        let daemon = try startDaemon(config: Self.config(ws, port: port), log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }

        var truth: [String: Int] = [:]
        for (model, t) in log.truth { truth[model] = Int(t.calls) }
        var stored: [String: Int] = [:]
        #expect(eventually(timeout: 60) {
            stored = prometheus.vector("sum by (model) (aimon_calls_total)", label: "model")
            return stored == truth
        }, "\(stored) != \(truth)")
        // The exposition itself.
        let text = try HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/metrics")
        let check = try PrometheusServer.promtool(["check", "metrics"], input: text)
        #expect(check.status == 0, "\(check.output)")
        #expect(text.contains("aimon_call_duration_seconds_bucket{le=\"+Inf\","))
        #expect(prometheus.vector("aimon_redis_up", label: "job") == ["aimon": 1])

        // An outage, so that an alert fires; then every query of the Grafana dashboard returns data.
        AlertIntegrationTests.publish(ws, "outage", (0..<6).map { ServicesTests.line("outage", ok: false, at: Date().timeIntervalSince1970 + Double($0) * 0.001) })
        // Streamed calls with tokens and a cost, for the dashboard's LLM panels.
        AlertIntegrationTests.publish(ws, "llm", (0..<20).map { i in
            "{\"timestamp\":\"\(AlertRow.timestamp(Date().timeIntervalSince1970 + Double(i) * 0.001))\",\"model_name\":\"llm\",\"success\":true,"
                + "\"response_time\":1.5,\"ttft\":0.3,\"input_tokens\":100,\"output_tokens\":50,\"cost\":0.002}\n"
        })
        #expect(eventually(timeout: 30) { prometheus.vector("aimon_alert_firing", label: "model")["outage"] == 1 })
        let dashboard = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("contrib/grafana/aimon.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)) as? [String: Any]
        let panels = (json?["panels"] as? [[String: Any]]) ?? []
        #expect(panels.count >= 13)
        for panel in panels {
            for target in (panel["targets"] as? [[String: Any]]) ?? [] {
                let expr = ((target["expr"] as? String) ?? "").replacingOccurrences(of: "$__rate_interval", with: "1m")
                #expect(eventually(timeout: 30) { prometheus.count(expr) > 0 }, "\(panel["title"] ?? ""): \(expr)")
            }
        }
    }

    /// Bad requests get the right status and never stall the daemon.
    @Test func badRequestsAreRefusedAndDoNotStallIt() throws {
        let ws = Workspace()
        let port = RedisServer.freePort()
        ws.writeLog("gw.jsonl", [])
        let daemon = try startDaemon(config: Self.config(ws, port: port), log: ws.path("aimon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(AlertmanagerServer.waitForPort(port))
        // Idle clients that never finish a request hold nothing but their connections.
        let idle = (0..<10).map { _ in RawClient(port: port) }
        for c in idle { c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n") }
        #expect(eventually(timeout: 30) { (try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/healthz")) == "ok\n" })
        #expect(RawClient(port: port).request("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc").hasPrefix("HTTP/1.1 405"))
        #expect(RawClient(port: port).request("GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 404"))
        let huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 40_000) + "\r\n\r\n"
        #expect(RawClient(port: port).request(huge).hasPrefix("HTTP/1.1 431"))
        #expect(RawClient(port: port).request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        _ = idle
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    @Test func aListenAddressInUseIsNamed() throws {
        let ws = Workspace()
        let redisPort = Int(RedisServer.shared.url.split(separator: ":").last!.split(separator: "/").first!)!
        ws.writeLog("gw.jsonl", [])
        let text = try String(contentsOfFile: Self.config(ws, port: redisPort), encoding: .utf8)
        #expect(text.contains("listen: 127.0.0.1:\(redisPort)"))
        let r = try runAimon(["run", "--config", ws.path("aimon.yaml")])
        #expect(r.status == 1 && r.stderr.contains("cannot listen on 127.0.0.1:\(redisPort) (http.listen): Address already in use"), "\(r.stderr)")
    }
}

/// A TCP client that sends raw bytes: requests no HTTP library would send.
final class RawClient {
    let fd: Int32

    init(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Sends a request and returns the start of the answer ("" if none within 10 s).
    func request(_ text: String) -> String {
        send(text)
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
    }
}

/// A real Prometheus (Debian's `prometheus`) scraping one target every second.
final class PrometheusServer: @unchecked Sendable {
    let dir: String
    let port: Int
    private var pid: pid_t = 0

    init(target: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw AlertmanagerServer.Failure(description: "Prometheus is not installed: run `apt-get install prometheus` (scripts/install-deps.sh does)")
        }
        dir = "/tmp/aimon-prom-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        port = RedisServer.freePort()
        let config = """
        global:
          scrape_interval: 1s
        scrape_configs:
          - job_name: aimon
            static_configs:
              - targets: ['\(target)']
        """
        try config.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        pid = try Subprocess.spawn(["/usr/bin/prometheus", "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                                            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"], output: dir + "/prometheus.log")
        guard AlertmanagerServer.waitForPort(port) else { throw AlertmanagerServer.Failure(description: "Prometheus did not start; see \(dir)/prometheus.log") }
    }

    deinit {
        Subprocess.terminate(pid)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// An instant query's result, one number per value of `label`.
    func vector(_ query: String, label: String) -> [String: Int] {
        let q = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        guard let text = try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/api/v1/query?query=\(q)"),
              let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let data = obj["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else { return [:] }
        var out: [String: Int] = [:]
        for r in result {
            guard let metric = r["metric"] as? [String: String], let value = r["value"] as? [Any],
                  let s = value.last as? String, let v = Double(s) else { continue }
            out[metric[label] ?? ""] = Int(v)
        }
        return out
    }

    /// How many series an instant query returns (-1 when it fails, e.g. invalid PromQL).
    func count(_ query: String) -> Int {
        let q = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        guard let text = try? HTTPClient(timeout: 5).get("http://127.0.0.1:\(port)/api/v1/query?query=\(q)"),
              let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let data = obj["data"] as? [String: Any], let result = data["result"] as? [Any] else { return -1 }
        return result.count
    }

    /// Runs promtool with `input` on stdin.
    static func promtool(_ args: [String], input: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        p.arguments = args
        let stdin = Pipe(), out = Pipe()
        p.standardInput = stdin
        p.standardOutput = out
        p.standardError = out
        try p.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        stdin.fileHandleForWriting.closeFile()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
