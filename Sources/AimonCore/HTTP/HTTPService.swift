import CMicroHTTPD
import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's HTTP endpoint (`http.listen`):
/// - `/metrics` for Prometheus, `/healthz` for probes (both from the telemetry snapshot: nothing is
///   computed per line read);
/// - `/api/v1/stats|system|trend|alerts`: the JSON of `aimon <report> --json`, same parameters;
/// - `/`: the status page.
/// GET (and HEAD) only: other methods get 405, other paths 404. With `http.bearer_token_file` or
/// `http.basic_auth_users` every path but `/healthz` wants credentials (401 otherwise).
///
/// libmicrohttpd serves it on two threads of its own, event-driven: a slow or idle client holds a
/// connection (closed after 10 s idle, 64 at once), never the daemon; request line and headers over
/// 16 KiB get 431. Reports read Redis on the endpoint's own connections, so a report waiting on a
/// slow Redis holds one of the two threads, and `/metrics` still answers on the other.
public final class HTTPService: Service, @unchecked Sendable {
    public let name = "http"
    public let config: Config.HTTP
    private let telemetry: Telemetry
    private let logger: Logger
    private let staleAfter: @Sendable () -> Double
    private let clock: @Sendable () -> Double
    private let auth: HTTPAuth
    let backend: ReportBackend
    private let stopSignal = StopSignal(waker: Waker())

    /// `staleAfter`: seconds without a beat after which a service is not healthy (the notifier's rule).
    public init(config: Config, telemetry: Telemetry, logger: Logger, clock: @escaping @Sendable () -> Double = { wallClock() },
                staleAfter: @escaping @Sendable () -> Double) {
        self.config = config.http ?? Config.HTTP(address: "127.0.0.1", port: 9464)
        self.telemetry = telemetry
        self.logger = logger
        self.staleAfter = staleAfter
        self.clock = clock
        auth = HTTPAuth(self.config)
        backend = ReportBackend(config: config)
    }

    /// A reload that keeps `http` as it was: reports read the new Redis, keys and alert table.
    public func update(_ config: Config) { backend.update(config) }

    public func stop() { stopSignal.stop() }

    public func run() throws {
        if let why = cmhd_load() {
            throw ServiceExit(name: name, why: "cannot start: http.listen needs libmicrohttpd, which cannot be loaded: \(String(cString: why)); install libmicrohttpd12")
        }
        let context = Unmanaged.passRetained(self).toOpaque()
        guard let daemon = cmhd_start(config.address, config.port, { context, connection, url, method in
            let me = Unmanaged<HTTPService>.fromOpaque(context!).takeUnretainedValue()
            return me.answer(connection!, url: url.map { String(cString: $0) } ?? "/", method: method.map { String(cString: $0) } ?? "")
        }, context, 10, 64, 16 * 1024, 2) else {
            Unmanaged<HTTPService>.fromOpaque(context).release()
            throw ServiceExit(name: name, why: "cannot listen on \(config.address):\(config.port) (http.listen): \(String(cString: strerror(errno)))")
        }
        logger.info("serving the status page, /api/v1, /metrics and /healthz", metadata: [
            "listen": "\(config.address):\(config.port)", "url": "\(config.externalURL)",
            "authentication": "\(auth.required ? (auth.users.isEmpty ? "bearer token" : "basic") : "none")"])
        while !stopSignal.sleep(3600) {}
        cmhd_stop(daemon)
        Unmanaged<HTTPService>.fromOpaque(context).release()
    }

    public struct Response: Equatable {
        public var status: Int32
        public var type: String
        public var body: String
        /// One more header (Allow, WWW-Authenticate).
        public var header: (String, String)?

        init(_ status: Int32, _ type: String, _ body: String, header: (String, String)? = nil) {
            self.status = status
            self.type = type
            self.body = body
            self.header = header
        }

        static func text(_ status: Int32, _ body: String, header: (String, String)? = nil) -> Response {
            Response(status, "text/plain; charset=utf-8", body + "\n", header: header)
        }

        public static func == (a: Response, b: Response) -> Bool {
            a.status == b.status && a.type == b.type && a.body == b.body && a.header?.0 == b.header?.0 && a.header?.1 == b.header?.1
        }
    }

    static let jsonType = "application/json; charset=utf-8"

    /// What a request gets. `argument` gives a query argument, `authorization` the header.
    func route(path: String, method: String, argument: (String) -> String? = { _ in nil }, authorization: String? = nil) -> Response {
        guard method == "GET" || method == "HEAD" else { return .text(405, "only GET", header: ("Allow", "GET, HEAD")) }
        if path != "/healthz" && !auth.allows(authorization) {
            return .text(401, "credentials needed (http.bearer_token_file or http.basic_auth_users)", header: ("WWW-Authenticate", auth.challenge))
        }
        switch path {
        case "/metrics":
            return Response(200, MetricsText.contentType, MetricsText.render(telemetry.figures, version: AimonVersion.current))
        case "/healthz":
            let (healthy, text) = health(telemetry.figures, now: monotonicSeconds())
            return .text(healthy ? 200 : 503, text)
        case "/", "/index.html":
            return Response(200, StatusPage.contentType, statusPage(argument: argument).render())
        default:
            guard let query = ReportQuery.api(path: path, argument: argument) else {
                return .text(404, "not found: aimon serves /, /api/v1/stats, /api/v1/system, /api/v1/trend, /api/v1/alerts, /metrics and /healthz")
            }
            do {
                let answer = try backend.answer(try query.get(), now: clock())
                return Response(200, Self.jsonType, answer.json.pretty + "\n")
            } catch {
                let status: Int32 = switch error.kind {
                case .badRequest: 400
                case .noTable: 404
                case .unavailable: 503
                case .failed: 500
                }
                if status >= 500 { logger.warning("\(path): \(error.message)") }
                return Response(status, Self.jsonType, JSONValue.object([("error", .string(error.message))]).pretty + "\n")
            }
        }
    }

    /// The status page as of now: figures over `?hours=` (default 1, at most 48: the page reloads
    /// itself), sparklines over 24 hours.
    func statusPage(argument: (String) -> String?) -> StatusPage {
        let hours = argument("hours").flatMap(Double.init).flatMap { $0 > 0 && $0 <= 48 ? $0 : nil } ?? 1
        let f = telemetry.figures
        let now = clock()
        var page = StatusPage(host: backend.config.hostID, version: AimonVersion.current, now: now, hours: hours, rows: [],
                              firing: f.firing, figures: f)
        do {
            (page.rows, page.more) = try backend.statusModels(hours: hours, sparkHours: 24, limit: 100, now: now)
        } catch {
            page.readError = error.message
        }
        return page
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
        let r = route(path: url, method: method, argument: { key in cmhd_argument(connection, key).map { String(cString: $0) } },
                      authorization: cmhd_header(connection, "Authorization").map { String(cString: $0) })
        let bytes = Array(r.body.utf8)
        return bytes.withUnsafeBufferPointer { b in
            // HEAD gets the length GET would (libmicrohttpd sends no body for HEAD).
            cmhd_respond(connection, UInt32(r.status), r.type, b.baseAddress, b.count, r.header?.0, r.header?.1)
        }
    }
}
