/// aimon's configuration: one YAML file (Docs/configuration.md), checked before use.
public struct Config: Equatable, Sendable {
    public struct Source: Equatable, Sendable {
        public var path: String
        /// The preset, `fields:` over it, and which failure classes count (`count_as_failure:`).
        public var format: SourceFormat
        public var startAt: StartPosition

        public init(path: String, format: SourceFormat = .preset(.native), startAt: StartPosition = .end) {
            self.path = path
            self.format = format
            self.startAt = startAt
        }
    }

    public struct Redis: Equatable, Sendable {
        /// Where Redis is; with `sentinel`, only its credentials and database are used.
        public var url: RedisURL
        public var keyPrefix: String
        /// Seconds allowed to connect and for each reply.
        public var timeout: Double
        /// `redis.sentinel`: the master is asked of the sentinels at each new connection.
        public var sentinel: RedisSentinel?
        /// `redis.min_replicas`: each commit waits (WAIT) until this many replicas have it, at most
        /// `minReplicasTimeout` seconds; 0: no wait.
        public var minReplicas = 0
        public var minReplicasTimeout = 1.0

        /// A new connection: to `url`, or to the master the sentinels name.
        public func connect() throws(RedisError) -> RedisConnection {
            if let sentinel { return try sentinel.connect(template: url, timeout: timeout) }
            return try RedisConnection(url: url, timeout: timeout)
        }

        /// The longest a new connection can take: every sentinel asked, then the master (the watchdog's budget).
        public var longestConnect: Double { timeout * Double((sentinel?.addresses.count ?? 0) * 2 + 1) }

        /// Where Redis is, for logs and errors (no password).
        public var location: String { sentinel?.description ?? url.description }
    }

    public struct Ingest: Equatable, Sendable {
        public var maxLineBytes: Int
        /// Bytes read (at most) into one batch before it is committed.
        public var batchBytes: Int
        /// Seconds between two sweeps (the safety net behind inotify).
        public var sweepInterval: Double
        /// Distinct model names kept; more are counted together, shown as "(other models)".
        public var maxModels: Int
        /// Seconds: latencies above are bad lines (`bad_latency`).
        public var maxLatency: Double
        /// Seconds: timestamps later than now plus this are bad lines (`future_timestamp`).
        public var maxClockSkew: Double
        /// Distinct error messages kept per model and hour; the rest are counted together.
        public var maxErrorMessages: Int
        /// Seconds a model keeps its place under `max_models` after it was last seen.
        public var modelTTL: Double
        /// Distinct (model, deployment) pairs kept; more are counted under "(other deployments)".
        public var maxDeployments = 1000
        /// Seconds a file rotated away or deleted stays open once read to its end and idle: a writer
        /// may still hold it.
        public var rotateWait: Double = 60
        /// Seconds at least between two commits of lines that trickle in (`ingest.commit_interval`):
        /// a host writing a line at a time would otherwise commit each one, and Redis pays about
        /// 0.2-0.5 ms per commit (Docs/capacity.md). Catching up is not slowed: full batches go at once.
        public var commitInterval: Double = 0.01

        /// The value domains of records (RecordLimits.swift).
        public var limits: RecordLimits { RecordLimits(maxLatency: maxLatency, maxClockSkew: maxClockSkew) }
    }

    /// `http:`: the endpoint for Prometheus and health checks (nil: no server).
    public struct HTTP: Equatable, Sendable {
        /// An IPv4 address; other than loopback only with authentication.
        public var address: String
        public var port: UInt16
        /// How people reach the status page (`http.external_url`), for Alertmanager's
        /// `generatorURL`; default `http://address:port/`.
        public var externalURL: String
        /// `Authorization: Bearer <token>` (read from `http.bearer_token_file`).
        public var bearerToken: String?
        /// Basic auth users and their crypt(3) hashes (`http.basic_auth_users`).
        public var basicUsers: [String: String] = [:]

        public init(address: String, port: UInt16, externalURL: String? = nil, bearerToken: String? = nil, basicUsers: [String: String] = [:]) {
            self.address = address
            self.port = port
            self.externalURL = externalURL ?? "http://\(address):\(port)/"
            self.bearerToken = bearerToken
            self.basicUsers = basicUsers
        }

        public var authenticates: Bool { bearerToken != nil || !basicUsers.isEmpty }
    }

    public var hostID: String
    public var sources: [Source]
    public var http: HTTP?
    public var redis: Redis
    public var retention: Retention
    public var ingest: Ingest
    public var alerts: AlertsConfig
    public var logLevel: String
    /// `prices:` (USD per million tokens) for logs without a cost.
    public var prices = Prices()

    public static let defaultPath = "/etc/aimon/aimon.yaml"

    /// The defaults, with the given sources.
    public static func defaults(sources: [Source] = [], hostID: String = Config.hostname()) -> Config {
        Config(
            hostID: hostID,
            sources: sources,
            http: nil,
            redis: Redis(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6379)), keyPrefix: "aimon", timeout: 5),
            retention: Retention(),
            ingest: Ingest(maxLineBytes: 1 << 20, batchBytes: 32 << 20, sweepInterval: 1, maxModels: 1000,
                           maxLatency: RecordLimits.default.maxLatency, maxClockSkew: RecordLimits.default.maxClockSkew,
                           maxErrorMessages: 50, modelTTL: 86_400),
            alerts: .defaults,
            logLevel: "info")
    }

    public static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "localhost" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var keys: KeySchema { KeySchema(prefix: redis.keyPrefix) }
}

#if canImport(Glibc)
import Glibc
#endif
