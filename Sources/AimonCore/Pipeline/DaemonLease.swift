#if canImport(Glibc)
import Glibc
#endif

/// The mark a running `aimon run` keeps in its host's checkpoint hash (field `~run`): one daemon per
/// `host_id`, and `aimon replay` can tell which files a running daemon holds and refuse them.
///
/// The lease says `<expires> <pid>@<machine>` and is renewed every `renewEvery` seconds to `length`
/// seconds ahead; a daemon that stops cleanly removes it, one that crashes leaves it to expire (or to
/// its successor on the same machine, which sees that pid is gone).
public struct DaemonLease: Sendable {
    public static let field = WindowStore.markerPrefix + "run"
    public static let length: Double = 60
    public static let renewEvery: Double = 10

    public let key: String
    /// `<pid>@<machine>`
    public let owner: String

    /// `keepFor`: seconds the checkpoint hash is kept after each renewal (`retention.hour_buckets`).
    public init(key: String, owner: String = DaemonLease.currentOwner(), keepFor: Int64 = 35 * 86400) {
        self.key = key
        self.owner = owner
        self.keepFor = keepFor
    }

    private let keepFor: Int64

    public static func currentOwner() -> String { "\(getpid())@\(Config.hostname())" }

    /// A lease as stored.
    public struct Holder: Equatable, Sendable, CustomStringConvertible {
        public var expires: Double
        public var owner: String
        public var text: String

        public init?(_ text: String) {
            let parts = text.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let t = Double(parts[0]) else { return nil }
            expires = t
            owner = String(parts[1])
            self.text = text
        }

        public func isLive(now: Double) -> Bool { expires >= now }

        /// A process on this machine that no longer exists.
        public var isDeadHere: Bool {
            let parts = owner.split(separator: "@", maxSplits: 1)
            guard parts.count == 2, String(parts[1]) == Config.hostname(), let pid = Int32(parts[0]) else { return false }
            return kill(pid, 0) == -1 && errno == ESRCH
        }

        public var description: String { "\(owner) (lease until \(AlertRow.timestamp(expires)))" }
    }

    /// Takes or renews the lease; returns the other live holder when there is one. A holder that is
    /// a dead process on this machine is taken over at once.
    public func acquire(now: Double, on redis: RedisConnection) throws(RedisError) -> Holder? {
        var staleText = ""
        for _ in 0..<2 {
            let reply = try redis.evaluate(Self.acquireScript, keys: [key],
                                           arguments: [owner, String(Int64(now + Self.length)), String(Int64(now)), staleText, String(keepFor)])
            if case let .error(e) = reply { throw RedisError(.reply, "cannot take the daemon lease: \(e)") }
            guard let items = reply.array, items.first?.text != "ok" else { return nil }
            guard let text = items.count > 1 ? items[1].text : nil, let holder = Holder(text) else {
                throw RedisError(.protocolViolation, "unexpected reply to the lease script: \(reply)")
            }
            guard holder.isDeadHere else { return holder }
            staleText = holder.text
        }
        return nil
    }

    /// Removes the lease if it is still this process's.
    public func release(on redis: RedisConnection) throws(RedisError) {
        _ = try redis.evaluate(Self.releaseScript, keys: [key], arguments: [owner])
    }

    /// The live lease of `key`, if any (what `aimon replay` looks at).
    public static func holder(in markers: [String: String], now: Double) -> Holder? {
        markers[field].flatMap(Holder.init).flatMap { $0.isLive(now: now) ? $0 : nil }
    }

    /// KEYS[1]: the checkpoint hash. ARGV: owner, expires, now, the text of a holder known dead (""),
    /// the hash's TTL: a running daemon keeps its checkpoints alive, even over months of an idle log.
    static let acquireScript = """
    local cur = redis.call('HGET', KEYS[1], '\(field)')
    if cur and cur ~= ARGV[4] then
      local expires, who = string.match(cur, '^(%d+) (.+)$')
      if who ~= ARGV[1] and expires and tonumber(expires) >= tonumber(ARGV[3]) then return {'held', cur} end
    end
    redis.call('HSET', KEYS[1], '\(field)', ARGV[2] .. ' ' .. ARGV[1])
    redis.call('EXPIRE', KEYS[1], ARGV[5])
    return {'ok'}
    """

    static let releaseScript = """
    local cur = redis.call('HGET', KEYS[1], '\(field)')
    if cur and string.match(cur, '^%d+ (.+)$') == ARGV[1] then redis.call('HDEL', KEYS[1], '\(field)') end
    return 0
    """
}
