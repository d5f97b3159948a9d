/// `redis.sentinel`: where to ask for the master. hiredis has no Sentinel support; the discovery is
/// two commands: `SENTINEL get-master-addr-by-name` to a sentinel, then `ROLE` to the address it
/// gives, which must say `master` (a sentinel can answer with the old master for a moment during a
/// failover). Every new connection asks again, so a failover is followed at the next reconnect,
/// and a `-READONLY` reply (a demoted master) drops the connection (RedisError.needsNewConnection).
public struct RedisSentinel: Equatable, Sendable, CustomStringConvertible {
    /// The master's name in the sentinels' configuration (`sentinel monitor NAME ...`).
    public var master: String
    /// The sentinels, asked in this order.
    public var addresses: [(host: String, port: Int)]
    /// The sentinels' own credentials (`requirepass` in sentinel.conf), when they have some.
    public var username: String?
    public var password: String?

    public init(master: String, addresses: [(host: String, port: Int)], username: String? = nil, password: String? = nil) {
        self.master = master
        self.addresses = addresses
        self.username = username
        self.password = password
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.master == b.master && a.username == b.username && a.password == b.password
            && a.addresses.map { "\($0.host):\($0.port)" } == b.addresses.map { "\($0.host):\($0.port)" }
    }

    public var description: String {
        "sentinel master '\(master)' via " + addresses.map { "\($0.host.contains(":") ? "[\($0.host)]" : $0.host):\($0.port)" }.joined(separator: ",")
    }

    /// The master's address as the first sentinel that answers knows it.
    public func masterAddress(timeout: Double) throws(RedisError) -> (host: String, port: Int) {
        var problems: [String] = []
        for a in addresses {
            let url = RedisURL(endpoint: .tcp(host: a.host, port: a.port), username: username, password: password)
            do {
                let sentinel = try RedisConnection(url: url, timeout: timeout)
                let reply = try sentinel.command(["SENTINEL", "get-master-addr-by-name", master])
                if case let .error(e) = reply { problems.append("\(a.host):\(a.port): \(e)"); continue }
                guard let parts = reply.array, parts.count == 2, let host = parts[0].text, let port = parts[1].text.flatMap({ Int($0) }) else {
                    problems.append("\(a.host):\(a.port) does not know a master named '\(master)'")
                    continue
                }
                return (host, port)
            } catch {
                problems.append(error.message)
            }
        }
        throw RedisError(.connection, "no sentinel told where master '\(master)' is (\(problems.joined(separator: "; "))): "
            + "check redis.sentinel (master name, addresses, password)")
    }

    /// Connects to the master with `template`'s credentials and database, and checks it is one.
    public func connect(template: RedisURL, timeout: Double) throws(RedisError) -> RedisConnection {
        let address = try masterAddress(timeout: timeout)
        var url = template
        url.endpoint = .tcp(host: address.host, port: address.port)
        let redis = try RedisConnection(url: url, timeout: timeout)
        let role = try redis.command(["ROLE"])
        guard let first = role.array?.first?.text, first == "master" else {
            throw RedisError(.connection, "the sentinels name \(address.host):\(address.port) as master '\(master)', but it says it is "
                + "\(role.array?.first?.text ?? "\(role)"): a failover is in progress; asking again")
        }
        return redis
    }
}
