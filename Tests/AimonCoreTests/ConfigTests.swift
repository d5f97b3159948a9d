import Foundation
import Testing
@testable import AimonCore

@Suite struct ConfigTests {
    @Test func fullExampleParses() throws {
        let c = try ConfigLoader.parse("""
        host_id: gw-1
        sources:
          - path: /var/log/gateway/*.jsonl
            format: native
            start_at: beginning
          - path: /var/log/other.jsonl
        redis:
          url: redis://:s3cret@10.0.0.5:6380/2
          key_prefix: mon
          timeout: 2s
        retention:
          minute_buckets: 24h
          hour_buckets: 10d
        ingest:
          max_line_bytes: 64KiB
          sweep_interval: 500ms
          rotate_wait: 5s
        """, hostname: "ignored")
        #expect(c.hostID == "gw-1")
        #expect(c.sources == [.init(path: "/var/log/gateway/*.jsonl", format: .preset(.native), startAt: .beginning),
                              .init(path: "/var/log/other.jsonl", format: .preset(.native), startAt: .end)])
        #expect(c.redis.url == RedisURL(endpoint: .tcp(host: "10.0.0.5", port: 6380), password: "s3cret", database: 2))
        #expect(c.redis.keyPrefix == "mon" && c.redis.timeout == 2)
        #expect(c.retention == Retention(minuteBuckets: 86400, hourBuckets: 864000))
        #expect(c.ingest.maxLineBytes == 65536 && c.ingest.sweepInterval == 0.5)
        #expect(c.ingest.rotateWait == 5)
    }

    @Test func defaultsApply() throws {
        let c = try ConfigLoader.parse("sources:\n  - path: /x.jsonl\n", hostname: "myhost")
        #expect(c.hostID == "myhost")
        #expect(c.retention == Retention(minuteBuckets: 48 * 3600, hourBuckets: 35 * 86400))
        #expect(c.redis.url.description == "redis://127.0.0.1:6379/0" && c.redis.keyPrefix == "aimon")
        #expect(c.ingest.maxLineBytes == 1 << 20)
        #expect(c.ingest.rotateWait == 60)
    }

    @Test func everyProblemIsNamedWithKeyAndLine() {
        do {
            _ = try ConfigLoader.parse("""
            sources:
              - path: relative/*.jsonl
                format: nginxx
                start_at: middle
            redis:
              url: http://localhost
            retention:
              minute_buckets: forever
            sourcs: []
            """)
            Issue.record("an invalid config was accepted")
        } catch {
            let text = error.problems.map(\.description)
            #expect(text.contains { $0.hasPrefix("line 2: sources[0].path:") })
            #expect(text.contains { $0.hasPrefix("line 3: sources[0].format: unknown format 'nginxx'") })
            #expect(text.contains { $0.hasPrefix("line 4: sources[0].start_at:") })
            #expect(text.contains { $0.hasPrefix("line 6: redis.url:") })
            #expect(text.contains { $0.hasPrefix("line 8: retention.minute_buckets: 'forever' is not a duration") })
            #expect(text.contains { $0.hasPrefix("line 9: sourcs: unknown key (did you mean 'sources'?)") })
            #expect(error.problems.count == 6)
        }
    }

    @Test func missingSourcesAndBadYAML() {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("redis:\n  url: redis://x\n") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("sources: [\n") }
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("") }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/aimon.yaml") }
    }

    /// A path that cannot be read as a file says why (a folder read as empty used to be "the file is
    /// empty; at least one source is needed"); so does a file too large to be a configuration.
    @Test func aConfigThatCannotBeReadSaysWhy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aimon-config-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try ConfigLoader.load(path: dir.path)
            Issue.record("a folder was read as a configuration")
        } catch {
            #expect("\(error)".contains("cannot read the file"), "\(error)")
            #expect("\(error)".contains("Is a directory"), "\(error)")
        }
        let big = dir.appendingPathComponent("big.yaml")
        try Data(repeating: 0x20, count: ConfigLoader.maxFileBytes + 1).write(to: big)
        do {
            _ = try ConfigLoader.load(path: big.path)
            Issue.record("a file over the limit was read")
        } catch {
            #expect("\(error)".contains("larger than"), "\(error)")
        }
    }

    @Test func pathResolution() {
        #expect(ConfigLoader.resolvePath("/a.yaml", environment: ["AIMON_CONFIG": "/b.yaml"]) == "/a.yaml")
        #expect(ConfigLoader.resolvePath(nil, environment: ["AIMON_CONFIG": "/b.yaml"]) == "/b.yaml")
        #expect(ConfigLoader.resolvePath(nil, environment: [:]) == "/etc/aimon/aimon.yaml")
    }

    @Test func redisURLs() throws {
        #expect(try RedisURL(parsing: "redis://127.0.0.1:6379/0") == RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6379)))
        #expect(try RedisURL(parsing: "redis://host") == RedisURL(endpoint: .tcp(host: "host", port: 6379)))
        #expect(try RedisURL(parsing: "redis://user:p%40ss@h:1/3") == RedisURL(endpoint: .tcp(host: "h", port: 1), username: "user", password: "p@ss", database: 3))
        #expect(try RedisURL(parsing: "redis://[::1]:7000") == RedisURL(endpoint: .tcp(host: "::1", port: 7000)))
        #expect(try RedisURL(parsing: "unix:///run/redis.sock?db=4") == RedisURL(endpoint: .unix(path: "/run/redis.sock"), database: 4))
        for bad in ["http://x", "redis://h:99999", "redis://h/x", "unix://relative.sock", "redis://", "rediss://h"] {
            #expect(throws: RedisURL.Invalid.self, "\(bad)") { try RedisURL(parsing: bad) }
        }
        #expect(try RedisURL(parsing: "redis://:pw@h:1/0").description == "redis://***@h:1/0")
    }

    /// Absurd quantities are refused with their key, never a crash of check-config or the daemon.
    @Test(arguments: [
        ("retention:\n  hour_buckets: 1e300d", "retention.hour_buckets"),
        ("retention:\n  minute_buckets: 99999999999999999999w", "retention.minute_buckets"),
        ("ingest:\n  batch_bytes: 9223372036854775807GiB", "ingest.batch_bytes"),
        ("ingest:\n  max_line_bytes: 99999999999999999999", "ingest.max_line_bytes"),
        ("redis:\n  timeout: 1e300s", "redis.timeout"),
        ("ingest:\n  sweep_interval: 1e308d", "ingest.sweep_interval"),
        ("ingest:\n  rotate_wait: 2d", "ingest.rotate_wait"),
        ("rules:\n  slow_response: {window: 1e300d}", "rules.slow_response.window"),
        ("alerts:\n  evaluate_interval: 1e300d", "alerts.evaluate_interval"),
    ])
    func absurdQuantitiesAreRefused(text: String, key: String) {
        do {
            _ = try ConfigLoader.parse("sources:\n  - path: /x/*.jsonl\n" + text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.problems.contains { $0.key == key }, "\(error.description)")
        }
    }

    @Test func quantities() {
        #expect(Quantities.duration("48h") == 172800)
        #expect(Quantities.duration("35d") == 3024000)
        #expect(Quantities.duration("500ms") == 0.5)
        #expect(Quantities.duration("5m") == 300)
        #expect(Quantities.duration("90") == 90)
        #expect(Quantities.duration("-1s") == nil && Quantities.duration("abc") == nil)
        #expect(Quantities.size("1MiB") == 1 << 20 && Quantities.size("512KiB") == 512 << 10 && Quantities.size("100") == 100)
        #expect(Quantities.size("1.5MiB") == nil)
    }

    @Test func performanceLevels() {
        #expect(PerformanceLevel.of(successRate: nil, avgResponseTime: nil).0 == .unknown)
        #expect(PerformanceLevel.of(successRate: 0.99, avgResponseTime: 1.9).0 == .excellent)
        #expect(PerformanceLevel.of(successRate: 0.99, avgResponseTime: 2.1).0 == .good)
        #expect(PerformanceLevel.of(successRate: 0.95, avgResponseTime: 5).0 == .good)
        #expect(PerformanceLevel.of(successRate: 0.92, avgResponseTime: 1).0 == .fair)
        #expect(PerformanceLevel.of(successRate: 0.99, avgResponseTime: 9).0 == .poor)
        #expect(PerformanceLevel.of(successRate: 0.5, avgResponseTime: nil).0 == .poor)
    }
}
