import Foundation

/// A real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port, routing every
/// alert to a webhook receiver the test runs (python3's http.server, writing each notification as a
/// JSON line), with `group_wait: 0s` so notifications come at once.
final class AlertmanagerServer: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let dir: String
    let port: Int
    let hookPort: Int
    private var server: pid_t?
    private var hook: pid_t = 0

    var url: String { "http://127.0.0.1:\(port)" }
    var notificationsFile: String { dir + "/notifications.jsonl" }

    init() throws {
        let binary = "/usr/bin/prometheus-alertmanager"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Failure(description: "Alertmanager is not installed: run `apt-get install prometheus-alertmanager` (scripts/install-deps.sh does)")
        }
        dir = "/tmp/aimon-am-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        port = RedisServer.freePort()
        hookPort = RedisServer.freePort()
        let receiver = """
        import http.server, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                with open(sys.argv[2], 'ab') as f:
                    f.write(body.replace(b'\\n', b' ') + b'\\n')
                self.send_response(200)
                self.end_headers()
            def log_message(self, *args):
                pass
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
        """
        try receiver.write(toFile: dir + "/receiver.py", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: dir + "/notifications.jsonl", contents: nil)
        hook = try Subprocess.spawn(["/usr/bin/python3", dir + "/receiver.py", String(hookPort), dir + "/notifications.jsonl"], output: "/dev/null")
        let config = """
        route:
          receiver: hook
          group_by: [alertname, model]
          group_wait: 0s
          group_interval: 1s
          repeat_interval: 1h
        receivers:
          - name: hook
            webhook_configs:
              - url: http://127.0.0.1:\(hookPort)/
                send_resolved: true
        """
        try config.write(toFile: dir + "/alertmanager.yml", atomically: true, encoding: .utf8)
        try start()
        guard Self.waitForPort(hookPort) else { throw Failure(description: "the webhook receiver did not start") }
    }

    func start() throws {
        let log = dir + "/alertmanager.log"
        server = try Subprocess.spawn(["/usr/bin/prometheus-alertmanager", "--config.file=\(dir)/alertmanager.yml", "--storage.path=\(dir)/data",
                                 "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=", "--log.level=warn"], output: log)
        guard Self.waitForPort(port) else { throw Failure(description: "Alertmanager did not start; see \(log)") }
    }

    func stop() {
        guard let server else { return }
        Subprocess.terminate(server)
        self.server = nil
    }

    /// The notifications received so far, parsed.
    func notifications() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: notificationsFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Each alert of each notification: (status, labels, annotations).
    func alerts(model: String) -> [(status: String, labels: [String: String], annotations: [String: String])] {
        notifications().flatMap { n -> [(status: String, labels: [String: String], annotations: [String: String])] in
            ((n["alerts"] as? [[String: Any]]) ?? []).compactMap { a in
                let labels = (a["labels"] as? [String: String]) ?? [:]
                guard labels["model"] == model else { return nil }
                return ((a["status"] as? String) ?? "", labels, (a["annotations"] as? [String: String]) ?? [:])
            }
        }
    }

    deinit {
        stop()
        Subprocess.terminate(hook)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Waits (up to 30 s) until something accepts connections on the port.
    static func waitForPort(_ port: Int) -> Bool {
        for _ in 0..<300 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(port).bigEndian
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            close(fd)
            if rc == 0 { return true }
            usleep(100_000)
        }
        return false
    }
}
