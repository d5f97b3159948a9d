import CMicroHTTPD
import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's HTTP endpoint (`http.listen`, loopback only): `/metrics` for Prometheus and
/// `/healthz` for load balancers and probes. GET (and HEAD) only; other methods get 405, other
/// paths 404.
///
/// libmicrohttpd serves it on its own thread, event-driven: a slow or idle client holds a
/// connection (closed after 10 s idle, 64 at once), never the daemon; request line and headers
/// over 16 KiB get 431. Each answer renders a telemetry snapshot: nothing is computed per line read.
public final class HTTPService: Service, @unchecked Sendable {
    public let name = "http"
    public let config: Config.HTTP
    private let telemetry: Telemetry
    private let logger: Logger
    private let staleAfter: @Sendable () -> Double
    private let stopSignal = StopSignal(waker: Waker())

    /// `staleAfter`: seconds without a beat after which a service is not healthy (the notifier's rule).
    public init(config: Config.HTTP, telemetry: Telemetry, logger: Logger, staleAfter: @escaping @Sendable () -> Double) {
        self.config = config
        self.telemetry = telemetry
        self.logger = logger
        self.staleAfter = staleAfter
    }

    public func stop() { stopSignal.stop() }

    public func run() throws {
        let context = Unmanaged.passRetained(self).toOpaque()
        guard let daemon = cmhd_start(config.address, config.port, { context, connection, url, method in
            let me = Unmanaged<HTTPService>.fromOpaque(context!).takeUnretainedValue()
            return me.answer(connection!, url: url.map { String(cString: $0) } ?? "/", method: method.map { String(cString: $0) } ?? "")
        }, context, 10, 64, 16 * 1024) else {
            Unmanaged<HTTPService>.fromOpaque(context).release()
            throw ServiceExit(name: name, why: "cannot listen on \(config.address):\(config.port) (http.listen): \(String(cString: strerror(errno)))")
        }
        logger.info("serving /metrics and /healthz", metadata: ["listen": "\(config.address):\(config.port)"])
        while !stopSignal.sleep(3600) {}
        cmhd_stop(daemon)
        Unmanaged<HTTPService>.fromOpaque(context).release()
    }

    /// What a request gets: (status, content type, body).
    func route(path: String, method: String) -> (Int32, String, String) {
        guard method == "GET" || method == "HEAD" else { return (405, "text/plain; charset=utf-8", "only GET\n") }
        switch path {
        case "/metrics":
            return (200, MetricsText.contentType, MetricsText.render(telemetry.figures, version: AimonVersion.current))
        case "/healthz":
            let (healthy, text) = health(telemetry.figures, now: monotonicSeconds())
            return (healthy ? 200 : 503, "text/plain; charset=utf-8", text + "\n")
        default:
            return (404, "text/plain; charset=utf-8", "not found: aimon serves /metrics and /healthz\n")
        }
    }

    /// Healthy while Redis answers ingest and every service beats (the watchdog's rule).
    func health(_ f: Telemetry.Figures, now: Double) -> (Bool, String) {
        var problems: [String] = []
        if !f.ingest.redisConnected { problems.append("Redis unreachable") }
        for (service, beat) in f.beats.sorted(by: { $0.key < $1.key }) where now - beat > staleAfter() {
            problems.append("the \(service) service has shown no progress for \(Int(now - beat)) s")
        }
        if !f.ingestReady { problems.append("starting") }
        return problems.isEmpty ? (true, "ok") : (false, problems.joined(separator: "; "))
    }

    private func answer(_ connection: OpaquePointer, url: String, method: String) -> Int32 {
        let (status, type, body) = route(path: url, method: method)
        let bytes = Array(body.utf8)
        return bytes.withUnsafeBufferPointer { b in
            cmhd_respond(connection, UInt32(status), type, b.baseAddress, method == "HEAD" ? 0 : b.count, status == 405 ? "GET, HEAD" : nil)
        }
    }
}
