/// Where Redis is: `redis://[:password@]host[:port][/db]`, `redis://user:password@host...` or
/// `unix:///path/redis.sock[?db=N]`.
public struct RedisURL: Equatable, Sendable, CustomStringConvertible {
    public enum Endpoint: Equatable, Sendable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    public var username: String?
    public var password: String?
    public var database: Int

    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
    }

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(Invalid) {
        if text.hasPrefix("unix://") {
            var rest = String(text.dropFirst("unix://".count))
            var db = 0
            if let q = rest.firstIndex(of: "?") {
                let query = rest[rest.index(after: q)...]
                rest = String(rest[..<q])
                for pair in query.split(separator: "&") {
                    let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    guard kv.count == 2, kv[0] == "db", let n = Int(kv[1]), n >= 0 else {
                        throw Invalid(description: "unsupported query '\(pair)' in '\(text)': only ?db=N is understood")
                    }
                    db = n
                }
            }
            guard rest.hasPrefix("/") else {
                throw Invalid(description: "'\(text)' must give an absolute socket path, e.g. unix:///run/redis/redis-server.sock")
            }
            self.init(endpoint: .unix(path: rest), database: db)
            return
        }
        guard text.hasPrefix("redis://") else {
            throw Invalid(description: "'\(text)' must start with redis:// or unix:// (rediss:// needs TLS, which hiredis 0.14 lacks)")
        }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = auth.firstIndex(of: ":") {
                let user = auth[..<colon]
                username = user.isEmpty ? nil : Self.percentDecode(user)
                password = Self.percentDecode(auth[auth.index(after: colon)...])
            } else {
                password = Self.percentDecode(auth)
            }
        }
        var db = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let n = Int(dbText), n >= 0 else {
                    throw Invalid(description: "database '\(dbText)' in '\(text)' is not a number (e.g. redis://127.0.0.1:6379/0)")
                }
                db = n
            }
        }
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {  // [ipv6]:port
            guard let close = host.firstIndex(of: "]") else {
                throw Invalid(description: "unclosed '[' in '\(text)'")
            }
            let after = host[host.index(after: close)...]
            let inside = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw Invalid(description: "port '\(after.dropFirst())' in '\(text)' is not 1-65535")
                }
                port = p
            }
            host = inside
        } else if let colon = host.lastIndex(of: ":") {
            let portText = host[host.index(after: colon)...]
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw Invalid(description: "port '\(portText)' in '\(text)' is not 1-65535")
            }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw Invalid(description: "no host in '\(text)'") }
        self.init(endpoint: .tcp(host: host, port: port), username: username, password: password, database: db)
    }

    static func percentDecode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == 0x25, it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The address without the password, for logs.
    public var description: String {
        switch endpoint {
        case let .tcp(host, port):
            let h = host.contains(":") ? "[\(host)]" : host
            return "redis://\(password == nil ? "" : "***@")\(h):\(port)/\(database)"
        case let .unix(path): return "unix://\(path)?db=\(database)"
        }
    }
}
