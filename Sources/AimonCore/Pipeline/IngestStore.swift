/// What ingest asks of Redis, over one connection it owns: its checkpoints and model registry, the
/// conditional commit of a batch, and the daemon lease. A protocol so the ingest loop's unit tests
/// step commits, failures and reconnects against a fake (integration tests use `RedisIngestStore`).
public protocol IngestStore: AnyObject {
    var isConnected: Bool { get }
    /// Connects if not connected (one try).
    func connect() throws(RedisError)
    /// Drops the connection: it broke, or is out of step.
    func disconnect()
    /// Connections made so far: a new one may reach another Redis (a failover).
    var connections: Int { get }
    /// Whether the last commit reached fewer replicas than `redis.min_replicas` in time.
    var replicasShort: Bool { get }
    /// This host's commit sequence as Redis holds it (CommitScript.swift).
    func commitSequence() throws(RedisError) -> Int64
    func loadCheckpoints() throws(RedisError) -> (checkpoints: [String: String], markers: [String: String])
    func loadModels(now: Int64) throws(RedisError) -> [String: Int64]
    func commit(_ commit: WindowStore.Commit) throws(RedisError) -> WindowStore.Outcome
    /// Takes or renews this host's daemon lease; the other live holder when there is one.
    func acquireLease(now: Double) throws(RedisError) -> DaemonLease.Holder?
    func releaseLease() throws(RedisError)
}

/// `IngestStore` on a real Redis through hiredis.
public final class RedisIngestStore: IngestStore {
    private let settings: Config.Redis
    private let store: WindowStore
    private let lease: DaemonLease
    private var redis: RedisConnection?

    public init(config: Config) {
        settings = config.redis
        store = WindowStore(keys: config.keys, retention: config.retention, host: config.hostID,
                            maxErrorMessages: config.ingest.maxErrorMessages, modelTTL: Int64(config.ingest.modelTTL))
        lease = DaemonLease(key: config.keys.checkpoints(host: config.hostID), keepFor: config.retention.hourBuckets)
    }

    public var isConnected: Bool { redis != nil }
    public private(set) var connections = 0

    public func connect() throws(RedisError) {
        if redis == nil {
            redis = try settings.connect()
            connections += 1
        }
    }

    public func commitSequence() throws(RedisError) -> Int64 { try store.commitSequence(on: connection()) }

    public func disconnect() { redis = nil }

    private func connection() throws(RedisError) -> RedisConnection {
        try connect()
        return redis!
    }

    public func loadCheckpoints() throws(RedisError) -> (checkpoints: [String: String], markers: [String: String]) {
        try store.loadCheckpoints(on: connection())
    }

    public func loadModels(now: Int64) throws(RedisError) -> [String: Int64] {
        try store.loadModels(now: now, on: connection())
    }

    public func commit(_ commit: WindowStore.Commit) throws(RedisError) -> WindowStore.Outcome {
        let redis = try connection()
        replicasShort = false
        let outcome = try store.commit(commit, on: redis)
        if settings.minReplicas > 0, case .applied = outcome {
            // Fewer replicas in time is not an error: the commit is on the master; the shortfall is
            // counted (an error reply too: check-config --connect says if the ACL refuses WAIT).
            let reply = try redis.command(["WAIT", String(settings.minReplicas), String(Int((settings.minReplicasTimeout * 1000).rounded()))])
            replicasShort = (reply.integer ?? 0) < Int64(settings.minReplicas)
        }
        return outcome
    }

    /// Whether the last commit reached fewer replicas than `redis.min_replicas` within its timeout.
    public private(set) var replicasShort = false

    public func acquireLease(now: Double) throws(RedisError) -> DaemonLease.Holder? {
        try lease.acquire(now: now, on: connection())
    }

    public func releaseLease() throws(RedisError) {
        guard let redis else { return }
        try lease.release(on: redis)
    }
}
