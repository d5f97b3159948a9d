#if canImport(Glibc)
import Glibc
#endif
import Yams

/// `redis.sentinel`, and secrets read from files (`redis.password_file`, systemd credentials).
extension Checker {
    /// `redis.sentinel: {master, addresses, username, password, password_file}`.
    mutating func sentinel(_ m: Node.Mapping, node: Node) -> RedisSentinel? {
        let key = "redis.sentinel"
        allowOnly(m, ["master", "addresses", "username", "password", "password_file"], in: key)
        var master: String?
        if let n = m["master"], let s = string(n, key: "\(key).master") {
            if s.isEmpty || s.contains(where: { $0 == " " || $0.isNewline }) { fail("\(key).master", n, "must be the master's name, as in sentinel.conf") }
            else { master = s }
        } else if m["master"] == nil {
            fail("\(key).master", node, "is missing: the master's name in the sentinels' configuration (sentinel monitor NAME ...)")
        }
        var addresses: [(host: String, port: Int)] = []
        if let n = m["addresses"] {
            var items: [Node] = []
            if case let .sequence(seq) = n { items = Array(seq) } else { items = [n] }
            for (i, item) in items.enumerated() {
                guard let s = string(item, key: "\(key).addresses[\(i)]") else { continue }
                if let a = Self.hostPort(s, defaultPort: 26379) { addresses.append(a) }
                else { fail("\(key).addresses[\(i)]", item, "'\(s)' is not host:port (e.g. 10.0.0.5:26379, [::1]:26379)") }
            }
        }
        if addresses.isEmpty, m["addresses"] != nil || master != nil {
            fail("\(key).addresses", m["addresses"] ?? node, "must list the sentinels, e.g. [10.0.0.5:26379, 10.0.0.6:26379, 10.0.0.7:26379]")
        }
        var password: String?
        if let n = m["password"], let s = string(n, key: "\(key).password") { password = s }
        if let n = m["password_file"], let s = string(n, key: "\(key).password_file") { password = secret(s, key: "\(key).password_file", node: n) }
        var username: String?
        if let n = m["username"], let s = string(n, key: "\(key).username") { username = s }
        guard let master, !addresses.isEmpty else { return nil }
        return RedisSentinel(master: master, addresses: addresses, username: username, password: password)
    }

    /// `host:port`, `[v6]:port`, or `host` (the default port).
    static func hostPort(_ text: String, defaultPort: Int) -> (host: String, port: Int)? {
        var host = Substring(text), port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if host.filter({ $0 == ":" }).count > 1 {
            return nil  // an IPv6 address needs brackets: [::1]:26379
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        return (String(host), port)
    }

    /// A secret from a file: an absolute path, or a bare name of a systemd credential
    /// (`LoadCredential=NAME:...` in the unit: the file `$CREDENTIALS_DIRECTORY/NAME`; outside the
    /// service, as for the CLI, `/etc/aimon/credentials/NAME`, where the unit loads it from). Its
    /// first line, without the line break.
    /// Where the unit loads credentials from (`LoadCredential=`), and the CLI reads them.
    static let credentialStore = "/etc/aimon/credentials"

    mutating func secret(_ name: String, key: String, node: Node) -> String? {
        let path: String
        if name.hasPrefix("/") {
            path = name
        } else if !name.isEmpty, !name.contains("/") {
            let dir = getenv("CREDENTIALS_DIRECTORY").map { String(cString: $0) } ?? ""
            path = (dir.isEmpty ? Self.credentialStore : dir) + "/" + name
        } else {
            fail(key, node, "'\(name)' must be an absolute path, or the name of a systemd credential")
            return nil
        }
        switch SecretFile.read(path) {
        case let .success(text):
            let first = text.prefix { $0 != "\n" && $0 != "\r" && $0 != "\r\n" }
            guard !first.isEmpty else {
                fail(key, node, "\(path) is empty: it must hold the secret on its first line")
                return nil
            }
            return String(first)
        case let .failure(why):
            fail(key, node, "cannot read \(path): \(why) (the user aimon runs as must be able to read it; keep it mode 0600 or 0640)")
            return nil
        }
    }
}
