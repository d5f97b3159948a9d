import Foundation
import Testing
@testable import AimonCore

/// `redis.sentinel`, `redis.username`, and secrets from files, as the loader checks them.
@Suite(.serialized) struct RedisConfigTests {
    static func parse(_ yaml: String) throws(ConfigError) -> Config {
        try ConfigLoader.parse("sources:\n  - path: /x.jsonl\n" + yaml, hostname: "h")
    }

    static func problems(_ yaml: String) -> [String] {
        do { _ = try parse(yaml); return [] } catch { return error.problems.map(\.description) }
    }

    @Test func sentinel() throws {
        let c = try Self.parse("""
        redis:
          sentinel:
            master: mymaster
            addresses: [10.0.0.5:26379, "[::1]:26380", sentinel-3]
            password: s
          url: redis://:pw@ignored/2
        """)
        let s = try #require(c.redis.sentinel)
        #expect(s.master == "mymaster" && s.password == "s")
        #expect(s.addresses.map { "\($0.host):\($0.port)" } == ["10.0.0.5:26379", "::1:26380", "sentinel-3:26379"])
        #expect(c.redis.url.password == "pw" && c.redis.url.database == 2)
        #expect(c.redis.location == "sentinel master 'mymaster' via 10.0.0.5:26379,[::1]:26380,sentinel-3:26379")
        #expect(Self.problems("redis:\n  sentinel: {addresses: [a:1]}\n").contains { $0.contains("redis.sentinel.master: is missing") })
        #expect(Self.problems("redis:\n  sentinel: {master: m}\n").contains { $0.contains("redis.sentinel.addresses: must list the sentinels") })
        #expect(Self.problems("redis:\n  sentinel: {master: m, addresses: [a:0, b:x, \"c d\", \"::1\"]}\n").filter { $0.contains("is not host:port") }.count == 4)
        #expect(Self.problems("redis:\n  sentinel: {master: m, addresses: [a]}\n  url: unix:///run/redis.sock\n")
            .contains { $0.contains("with redis.sentinel, redis.url gives only") })
    }

    @Test func secretsFromFilesAndCredentials() throws {
        let dir = NSTemporaryDirectory() + "aimon-cred-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "from-file\nsecond line ignored\n".write(toFile: dir + "/pw", atomically: true, encoding: .utf8)
        try "from-credential\r\n".write(toFile: dir + "/redis-password", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/empty", atomically: true, encoding: .utf8)
        #expect(try Self.parse("redis:\n  password_file: \(dir)/pw\n  username: aimon\n").redis.url
            == RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6379), username: "aimon", password: "from-file"))
        setenv("CREDENTIALS_DIRECTORY", dir, 1)
        defer { unsetenv("CREDENTIALS_DIRECTORY") }
        #expect(try Self.parse("redis:\n  password_file: redis-password\n").redis.url.password == "from-credential")
        let pg = try Self.parse("alerts:\n  database: postgres://aimon@db/alerts\n  database_password_file: redis-password\n")
        #expect(pg.alerts.database == .postgres(uri: "postgres://aimon@db/alerts", password: "from-credential"))
        #expect("\(pg.alerts.database)" == "postgres://aimon@db/alerts")  // never printed
        #expect(Self.problems("redis:\n  password_file: nope\n").contains { $0.contains("cannot read \(dir)/nope") })
        #expect(Self.problems("redis:\n  password_file: \(dir)/empty\n").contains { $0.contains("is empty") })
        try String(repeating: "x", count: 65536).write(toFile: dir + "/full", atomically: true, encoding: .utf8)
        try String(repeating: "x", count: 65537).write(toFile: dir + "/big", atomically: true, encoding: .utf8)
        #expect(try Self.parse("redis:\n  password_file: \(dir)/full\n").redis.url.password?.utf8.count == 65536)
        #expect(Self.problems("redis:\n  password_file: \(dir)/big\n").contains { $0.contains("over 64 KiB: not a secret file") })
        #expect(Self.problems("redis:\n  password_file: rel/pw\n").contains { $0.contains("must be an absolute path, or the name of a systemd credential") })
        #expect(Self.problems("redis:\n  url: redis://:x@h/0\n  password_file: \(dir)/pw\n").contains { $0.contains("keep it in one place") })
        #expect(Self.problems("alerts:\n  database_password_file: \(dir)/pw\n").contains { $0.contains("applies to a PostgreSQL alert table") })
        unsetenv("CREDENTIALS_DIRECTORY")
        #expect(Self.problems("redis:\n  password_file: redis-password\n").contains { $0.contains("cannot read /etc/aimon/credentials/redis-password") })
    }

    @Test func replicasAndCommitInterval() throws {
        let c = try Self.parse("redis:\n  min_replicas: 2\n  min_replicas_timeout: 250ms\ningest:\n  commit_interval: 50ms\n")
        #expect(c.redis.minReplicas == 2 && c.redis.minReplicasTimeout == 0.25 && c.ingest.commitInterval == 0.05)
        let d = try Self.parse("")
        #expect(d.redis.minReplicas == 0 && d.ingest.commitInterval == 0.01)
        #expect(Self.problems("redis:\n  min_replicas: -1\n").contains { $0.contains("from 0 to 16") })
        #expect(Self.problems("redis:\n  min_replicas_timeout: 2m\n").contains { $0.contains("between 10ms and 60s") })
        #expect(Self.problems("ingest:\n  commit_interval: 2s\n").contains { $0.contains("at most 1s") })
        #expect(Self.problems("redis:\n  timeout: 1s\n  min_replicas: 1\n  min_replicas_timeout: 1s\n").contains { $0.contains("must be shorter than redis.timeout") })
    }
}
