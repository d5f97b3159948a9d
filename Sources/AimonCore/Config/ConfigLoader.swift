import Yams
#if canImport(Glibc)
import Glibc
#endif

/// Reads and checks a configuration file. Every problem is collected, with its key and line, so one
/// run of `aimon check-config` shows them all.
public enum ConfigLoader {
    /// The file to use: `--config`, else `$AIMON_CONFIG`, else the default path.
    public static func resolvePath(_ option: String?, environment: [String: String]) -> String {
        option ?? environment["AIMON_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? Config.defaultPath
    }

    /// A configuration is a few kilobytes: anything past this is not one (a log given by mistake).
    public static let maxFileBytes = 4 << 20

    public static func load(path: String, hostname: String = Config.hostname()) throws(ConfigError) -> Config {
        func unreadable(_ why: String) -> ConfigError {
            ConfigError(file: path, problems: [.init(key: "", line: nil, message:
                "cannot read the file: \(why) (give another with --config PATH or AIMON_CONFIG; config/aimon.yaml is an example)")])
        }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readPrefix(path, limit: maxFileBytes + 1) } catch { throw unreadable(String(cString: strerror(error.errno))) }
        if bytes.count > maxFileBytes { throw unreadable("it is larger than \(maxFileBytes >> 20) MiB, which no configuration is") }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path, hostname: hostname)
    }

    public static func parse(_ text: String, file: String = "<config>", hostname: String = Config.hostname()) throws(ConfigError) -> Config {
        var checker = Checker()
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError(file: file, problems: [.init(key: "", line: nil, message: "not valid YAML: \(error)")])
        }
        var config = Config.defaults(hostID: hostname)
        guard let root else {
            throw ConfigError(file: file, problems: [.init(key: "sources", line: nil, message: "the file is empty; at least one source is needed")])
        }
        guard let top = checker.mapping(root, key: "") else { throw ConfigError(file: file, problems: checker.problems) }
        checker.allowOnly(top, ["host_id", "sources", "redis", "retention", "ingest", "log_level", "thresholds", "rules", "alerts", "http", "prices"], in: "")
        if let n = top["prices"], let m = checker.mapping(n, key: "prices") { config.prices = checker.prices(m) }
        if let n = top["http"], let m = checker.mapping(n, key: "http") { config.http = checker.http(m, node: n) }

        if let n = top["host_id"], let s = checker.string(n, key: "host_id") {
            if s.isEmpty { checker.fail("host_id", n, "must not be empty") } else { config.hostID = s }
        }
        if let n = top["log_level"], let s = checker.string(n, key: "log_level") {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            if levels.contains(s) { config.logLevel = s } else { checker.fail("log_level", n, "must be one of \(levels.joined(separator: ", "))") }
        }

        if let n = top["sources"] {
            if case let .sequence(seq) = n {
                if seq.isEmpty { checker.fail("sources", n, "must list at least one source") }
                for (i, item) in seq.enumerated() {
                    if let s = checker.source(item, key: "sources[\(i)]") { config.sources.append(s) }
                }
            } else {
                checker.fail("sources", n, "must be a list of sources, e.g.\n      sources:\n        - path: /var/log/gateway/*.jsonl")
            }
        } else {
            checker.fail("sources", root, "is missing: list the gateway log files to read (see config/aimon.yaml)")
        }

        if let n = top["redis"], let m = checker.mapping(n, key: "redis") {
            checker.allowOnly(m, ["url", "key_prefix", "timeout", "sentinel", "username", "password_file", "min_replicas",
                                  "min_replicas_timeout"], in: "redis")
            if let n = m["min_replicas"], let s = checker.string(n, key: "redis.min_replicas") {
                if let v = Int(s), (0...16).contains(v) { config.redis.minReplicas = v }
                else { checker.fail("redis.min_replicas", n, "must be a whole number from 0 to 16 (replicas each commit waits for)") }
            }
            if let t = checker.duration(m["min_replicas_timeout"], key: "redis.min_replicas_timeout") {
                if t < 0.01 || t > 60 { checker.fail("redis.min_replicas_timeout", m["min_replicas_timeout"]!, "must be between 10ms and 60s") }
                else { config.redis.minReplicasTimeout = t }
            }
            if let u = m["url"], let s = checker.string(u, key: "redis.url") {
                do { config.redis.url = try RedisURL(parsing: s) } catch { checker.fail("redis.url", u, error.description) }
            }
            if let n = m["username"], let s = checker.string(n, key: "redis.username") {
                if s.isEmpty || s.contains(where: { $0 == " " || $0.isNewline }) { checker.fail("redis.username", n, "must be an ACL user name") }
                else { config.redis.url.username = s }
            }
            if let n = m["password_file"], let s = checker.string(n, key: "redis.password_file"),
               let secret = checker.secret(s, key: "redis.password_file", node: n) {
                if config.redis.url.password != nil {
                    checker.fail("redis.password_file", n, "redis.url has a password too: keep it in one place (the file)")
                } else { config.redis.url.password = secret }
            }
            if let n = m["sentinel"], let sm = checker.mapping(n, key: "redis.sentinel") {
                config.redis.sentinel = checker.sentinel(sm, node: n)
                if case .unix = config.redis.url.endpoint, m["url"] != nil {
                    checker.fail("redis.url", m["url"]!, "with redis.sentinel, redis.url gives only the master's password, user and database (redis://:PASSWORD@-/DB): the sentinels say where it is")
                }
            }
            if let p = m["key_prefix"], let s = checker.string(p, key: "redis.key_prefix") {
                if s.isEmpty || s.contains(where: { $0 == " " || $0 == "{" || $0 == "}" }) {
                    checker.fail("redis.key_prefix", p, "must be non-empty, without spaces or braces")
                } else { config.redis.keyPrefix = s }
            }
            if let t = checker.duration(m["timeout"], key: "redis.timeout") {
                if t <= 0 { checker.fail("redis.timeout", m["timeout"]!, "must be more than 0") } else { config.redis.timeout = t }
            }
        }

        if config.redis.minReplicas > 0, config.redis.minReplicasTimeout >= config.redis.timeout, let m = top["redis"] {
            checker.fail("redis.min_replicas_timeout", m, "must be shorter than redis.timeout (\(AlertRule.durationText(config.redis.timeout))): the wait is one reply")
        }

        if let n = top["retention"], let m = checker.mapping(n, key: "retention") {
            checker.allowOnly(m, ["minute_buckets", "hour_buckets"], in: "retention")
            if let v = checker.duration(m["minute_buckets"], key: "retention.minute_buckets") {
                config.retention.minuteBuckets = Int64(v)
            }
            if let v = checker.duration(m["hour_buckets"], key: "retention.hour_buckets") {
                config.retention.hourBuckets = Int64(v)
            }
            if config.retention.minuteBuckets < 3600 {
                checker.fail("retention.minute_buckets", m["minute_buckets"] ?? n, "must be at least 1h (the rules look back one hour)")
            }
            if config.retention.hourBuckets < config.retention.minuteBuckets {
                checker.fail("retention.hour_buckets", m["hour_buckets"] ?? n, "must be at least retention.minute_buckets")
            }
        }

        if let n = top["ingest"], let m = checker.mapping(n, key: "ingest") {
            checker.allowOnly(m, ["max_line_bytes", "batch_bytes", "sweep_interval", "max_models", "max_deployments", "model_ttl", "max_latency",
                                  "max_clock_skew", "max_error_messages", "rotate_wait", "commit_interval"], in: "ingest")
            if let v = checker.duration(m["commit_interval"], key: "ingest.commit_interval") {
                if v > 1 { checker.fail("ingest.commit_interval", m["commit_interval"]!, "must be at most 1s (alerts wait for it)") }
                else { config.ingest.commitInterval = v }
            }
            if let v = checker.size(m["max_line_bytes"], key: "ingest.max_line_bytes") {
                if v < 64 || v > 1 << 30 { checker.fail("ingest.max_line_bytes", m["max_line_bytes"]!, "must be between 64 bytes and 1GiB") } else { config.ingest.maxLineBytes = v }
            }
            if let v = checker.size(m["batch_bytes"], key: "ingest.batch_bytes") {
                if v < 4096 || v > 1 << 30 { checker.fail("ingest.batch_bytes", m["batch_bytes"]!, "must be between 4KiB and 1GiB") } else { config.ingest.batchBytes = v }
            }
            if let v = checker.duration(m["sweep_interval"], key: "ingest.sweep_interval") {
                if v < 0.1 || v > 60 { checker.fail("ingest.sweep_interval", m["sweep_interval"]!, "must be between 100ms and 60s") } else { config.ingest.sweepInterval = v }
            }
            if let node = m["max_deployments"], let s = checker.string(node, key: "ingest.max_deployments") {
                if let v = Int(s), v >= 1, v <= 1_000_000 { config.ingest.maxDeployments = v }
                else { checker.fail("ingest.max_deployments", node, "must be a whole number from 1 to 1000000") }
            }
            if let node = m["max_models"], let s = checker.string(node, key: "ingest.max_models") {
                if let v = Int(s), v >= 1 { config.ingest.maxModels = v } else { checker.fail("ingest.max_models", node, "must be a whole number, at least 1") }
            }
            if let v = checker.duration(m["model_ttl"], key: "ingest.model_ttl") {
                if v < 3600 { checker.fail("ingest.model_ttl", m["model_ttl"]!, "must be at least 1h (the rules look back one hour)") }
                else { config.ingest.modelTTL = v }
            }
            if let node = m["max_error_messages"], let s = checker.string(node, key: "ingest.max_error_messages") {
                if let v = Int(s), (1...10_000).contains(v) { config.ingest.maxErrorMessages = v }
                else { checker.fail("ingest.max_error_messages", node, "must be a whole number from 1 to 10000") }
            }
            if let v = checker.duration(m["max_latency"], key: "ingest.max_latency") {
                if v < 1 || v > RecordLimits.latencyCeiling {
                    checker.fail("ingest.max_latency", m["max_latency"]!, "must be between 1s and 24h (longer calls are bad lines, bad_latency)")
                } else { config.ingest.maxLatency = v }
            }
            if let v = checker.duration(m["rotate_wait"], key: "ingest.rotate_wait") {
                if v > 86_400 { checker.fail("ingest.rotate_wait", m["rotate_wait"]!, "must be at most 24h") } else { config.ingest.rotateWait = v }
            }
            if let v = checker.duration(m["max_clock_skew"], key: "ingest.max_clock_skew") {
                if v > RecordLimits.clockSkewCeiling {
                    checker.fail("ingest.max_clock_skew", m["max_clock_skew"]!, "must be at most 24h (later timestamps are bad lines, future_timestamp)")
                } else { config.ingest.maxClockSkew = v }
            }
        }

        config.alerts = checker.alerts(top, retention: config.retention)

        if !checker.problems.isEmpty { throw ConfigError(file: file, problems: checker.problems) }
        return config
    }
}

/// Walks the YAML node tree, recording problems instead of stopping at the first.
struct Checker {
    var problems: [ConfigError.Problem] = []

    mutating func fail(_ key: String, _ node: Node, _ message: String) {
        problems.append(.init(key: key, line: node.mark?.line, message: message))
    }

    mutating func mapping(_ node: Node, key: String) -> Node.Mapping? {
        if case let .mapping(m) = node { return m }
        fail(key, node, key.isEmpty ? "the file must be a YAML mapping (key: value lines)" : "must be a mapping of keys")
        return nil
    }

    mutating func string(_ node: Node, key: String) -> String? {
        if case let .scalar(s) = node { return s.string }
        fail(key, node, "must be a single value")
        return nil
    }

    mutating func duration(_ node: Node?, key: String) -> Double? {
        guard let node, let s = string(node, key: key) else { return nil }
        if let v = Quantities.duration(s) { return v }
        fail(key, node, "'\(s)' is not a duration (e.g. 30s, 5m, 48h, 35d), or is over ten years")
        return nil
    }

    mutating func size(_ node: Node?, key: String) -> Int? {
        guard let node, let s = string(node, key: key) else { return nil }
        if let v = Quantities.size(s) { return v }
        fail(key, node, "'\(s)' is not a size (e.g. 1048576, 512KiB, 1MiB), or is too large")
        return nil
    }

    mutating func allowOnly(_ m: Node.Mapping, _ allowed: [String], in section: String) {
        for (k, _) in m {
            guard let name = k.string else { continue }
            if !allowed.contains(name) {
                let path = section.isEmpty ? name : "\(section).\(name)"
                let hint = allowed.first { Self.close(name, $0) }.map { " (did you mean '\($0)'?)" } ?? ""
                fail(path, k, "unknown key\(hint); known here: \(allowed.joined(separator: ", "))")
            }
        }
    }

    mutating func source(_ node: Node, key: String) -> Config.Source? {
        guard let m = mapping(node, key: key) else { return nil }
        allowOnly(m, ["path", "format", "fields", "success", "count_as_failure", "start_at"], in: key)
        var path: String?
        if let p = m["path"], let s = string(p, key: "\(key).path") {
            if s.hasPrefix("/") { path = s } else { fail("\(key).path", p, "'\(s)' must be an absolute path or glob, e.g. /var/log/gateway/*.jsonl") }
        } else if m["path"] == nil {
            fail("\(key).path", node, "is missing: the file or glob to read")
        }
        let format = sourceFormat(m, node: node, key: key)
        var startAt = StartPosition.end
        if let n = m["start_at"], let s = string(n, key: "\(key).start_at") {
            if let v = StartPosition(rawValue: s) { startAt = v } else { fail("\(key).start_at", n, "must be 'end' or 'beginning'") }
        }
        guard let path else { return nil }
        return Config.Source(path: path, format: format, startAt: startAt)
    }

    /// Names one edit apart, or one a prefix of the other: likely typos.
    static func close(_ a: String, _ b: String) -> Bool {
        if a.hasPrefix(b) || b.hasPrefix(a) { return true }
        let x = Array(a), y = Array(b)
        guard abs(x.count - y.count) <= 1 else { return false }
        var prev = Array(0...y.count)
        for i in 1...max(x.count, 1) where !x.isEmpty {
            var cur = [i] + [Int](repeating: 0, count: y.count)
            for j in 1...max(y.count, 1) where !y.isEmpty {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[y.count] <= 2
    }
}

extension Checker {
    /// `prices: {MODEL: {input: 2.5, output: 10, cached_input: 1.25}}`, USD per million tokens.
    mutating func prices(_ m: Node.Mapping) -> Prices {
        var out = Prices()
        for (k, v) in m {
            guard let model = k.string else { continue }
            let key = "prices.\(model)"
            guard let pm = mapping(v, key: key) else { continue }
            allowOnly(pm, ["input", "output", "cached_input"], in: key)
            func usd(_ name: String) -> Double? {
                guard let n = pm[name], let s = string(n, key: "\(key).\(name)") else { return nil }
                if let d = Double(s), d >= 0, d <= 10_000 { return d }
                fail("\(key).\(name)", n, "'\(s)' must be USD per million tokens, from 0 to 10000 (e.g. 2.5)")
                return nil
            }
            let input = usd("input"), output = usd("output"), cached = usd("cached_input")
            guard pm["input"] != nil, pm["output"] != nil else {
                fail(key, v, "needs input and output (USD per million tokens), e.g. {input: 2.5, output: 10}")
                continue
            }
            if let input, let output { out.byModel[model] = Prices.Price(input: input, output: output, cachedInput: cached) }
        }
        return out
    }

    /// `http: {listen: 127.0.0.1:9464, external_url, bearer_token_file, basic_auth_users}`.
    mutating func http(_ m: Node.Mapping, node: Node) -> Config.HTTP? {
        allowOnly(m, ["listen", "external_url", "bearer_token_file", "basic_auth_users"], in: "http")
        guard let n = m["listen"], let s = string(n, key: "http.listen") else {
            fail("http.listen", node, "is needed: the address and port to serve /metrics, the API and the status page on, e.g. 127.0.0.1:9464")
            return nil
        }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]), port > 0 else {
            fail("http.listen", n, "'\(s)' is not address:port, e.g. 127.0.0.1:9464")
            return nil
        }
        let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil && (0...255).contains($0!) }) else {
            fail("http.listen", n, "'\(host)' is not an IPv4 address (e.g. 127.0.0.1, or 0.0.0.0 for every interface)")
            return nil
        }
        // Every interface: a link to 0.0.0.0 would lead nowhere; the host's name is a better guess.
        var http = Config.HTTP(address: host, port: port, externalURL: host == "0.0.0.0" ? "http://\(Config.hostname()):\(port)/" : nil)
        if let u = m["external_url"], let url = string(u, key: "http.external_url") {
            if (url.hasPrefix("http://") || url.hasPrefix("https://")) && url.count > 8 && !url.contains(" ") {
                http.externalURL = url.hasSuffix("/") ? url : url + "/"
            } else {
                fail("http.external_url", u, "'\(url)' is not an http(s) URL: how people reach the status page, e.g. https://aimon.example.com/")
            }
        }
        if let t = m["bearer_token_file"], let path = string(t, key: "http.bearer_token_file") {
            switch SecretFile.read(path) {
            case let .success(token) where token.count >= 16 && !token.contains(where: { $0 == " " || $0 == "\n" }):
                http.bearerToken = token
            case .success:
                fail("http.bearer_token_file", t, "\(path) must hold one token of at least 16 characters without spaces (e.g. from: openssl rand -hex 32)")
            case let .failure(why):
                fail("http.bearer_token_file", t, "cannot read \(path): \(why)")
            }
        }
        if let u = m["basic_auth_users"], let users = mapping(u, key: "http.basic_auth_users") {
            for (k, v) in users {
                guard let user = k.string, let hash = string(v, key: "http.basic_auth_users.\(k.string ?? "")") else { continue }
                let key = "http.basic_auth_users.\(user)"
                if user.isEmpty || user.contains(":") {
                    fail(key, k, "a user name must not be empty nor hold ':'")
                } else if let why = PasswordHash.unavailable {
                    fail(key, v, "cannot be checked: libcrypt cannot be loaded (\(why)); install libcrypt1")
                } else if !PasswordHash.isSupported(hash) {
                    fail(key, v, "must be a crypt(3) hash, e.g. from: mkpasswd -m bcrypt (bcrypt $2b$, yescrypt $y$ or sha512-crypt $6$), never the password itself")
                } else {
                    http.basicUsers[user] = hash
                }
            }
        }
        guard octets[0] == 127 || http.authenticates else {
            fail("http.listen", n, "'\(host)' is not a loopback address: other hosts may reach it, so set http.bearer_token_file or http.basic_auth_users (or listen on 127.0.0.1 behind a reverse proxy)")
            return nil
        }
        return http
    }
}

/// A secret kept in a file of its own (mode 0600, or a systemd credential): its content, without
/// the trailing newline.
public enum SecretFile {
    public static func read(_ path: String) -> Result<String, SecretFileError> {
        let bytes: [UInt8]
        do throws(SystemError) { bytes = try FileSystem.readPrefix(path, limit: 65537) } catch {
            return .failure(SecretFileError(String(cString: strerror(error.errno))))
        }
        guard bytes.count <= 65536 else { return .failure(SecretFileError("over 64 KiB: not a secret file")) }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return .success(text)
    }
}

public struct SecretFileError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
