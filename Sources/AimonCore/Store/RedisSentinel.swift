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

    /// Asks the sentinels in turn where the master is, and connects to the first answer that is a
    /// master (with `template`'s credentials and database): a sentinel that is down, or that still
    /// names a demoted master, does not stop the others from being heard.
    public func connect(template: RedisURL, timeout: Double) throws(RedisError) -> RedisConnection {
        var problems: [String] = []
        var tried = Set<String>()
        for a in addresses {
            let url = RedisURL(endpoint: .tcp(host: a.host, port: a.port), username: username, password: password)
            let address: (host: String, port: Int)
            do {
                let sentinel = try RedisConnection(url: url, timeout: timeout)
                let reply = try sentinel.command(["SENTINEL", "get-master-addr-by-name", master])
                if case let .error(e) = reply { problems.append("sentinel \(a.host):\(a.port): \(e)"); continue }
                guard let parts = reply.array, parts.count == 2, let host = parts[0].text, let port = parts[1].text.flatMap({ Int($0) }) else {
                    problems.append("sentinel \(a.host):\(a.port) does not know a master named '\(master)'")
                    continue
                }
                address = (host, port)
            } catch {
                problems.append(error.message)
                continue
            }
            guard tried.insert("\(address.host):\(address.port)").inserted else { continue }
            var target = template
            target.endpoint = .tcp(host: address.host, port: address.port)
            do throws(RedisError) {
                let redis = try RedisConnection(url: target, timeout: timeout)
                let role = try redis.command(["ROLE"])
                if case let .error(e) = role, e.hasPrefix("NOPERM") {
                    throw RedisError(.authentication, "Redis at \(target) refuses ROLE to aimon's user, which redis.sentinel needs: "
                        + "add +role to its ACL (Docs/operations.md)")
                }
                if role.array?.first?.text == "master" { return redis }
                problems.append("\(address.host):\(address.port), named master by sentinel \(a.host):\(a.port), says it is "
                    + "\(role.array?.first?.text ?? "\(role)") (a failover in progress)")
            } catch where error.kind == .authentication {
                throw error
            } catch {
                problems.append(error.message)
            }
        }
        throw RedisError(.connection, "no master '\(master)' found through the sentinels (\(problems.joined(separator: "; "))): "
            + "retrying; check redis.sentinel (master name, addresses, password) if it lasts")
    }
}
