import AimonCore
import AimonSamples
import Foundation
import Testing

/// A Redis that wants a password: every command says so once and names where the password goes,
/// instead of "unreachable" or a warning every second.
@Suite(.serialized) struct RedisAuthTests {
    /// A private server with `requirepass` set (the shared one is left alone).
    func protectedServer() throws -> RedisServer {
        let server = try RedisServer()
        let c = try server.connection()
        #expect(try c.command(["CONFIG", "SET", "requirepass", "s3cret"]) == .status("OK"))
        return server
    }

    /// Commands Redis refused for want of a password (INFO errorstats), the daemon's tries.
    func refusedForNoAuth(_ server: RedisServer) -> Int {
        guard let c = try? RedisConnection(url: try RedisURL(parsing: "redis://:s3cret@127.0.0.1:\(server.port)/0")),
              let info = try? c.command(["INFO", "errorstats"]).text else { return 0 }
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("errorstat_NOAUTH:count=") }
        return line.flatMap { Int($0.dropFirst("errorstat_NOAUTH:count=".count)) } ?? 0
    }

    @Test func reportsSayAPasswordIsWantedAndWhereItGoes() throws {
        let server = try protectedServer()
        let ws = Workspace()
        let none = ws.writeConfig(redis: server.url)
        let r = try runAimon(["stats", "--config", none])
        #expect(r.status == 69, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("requires a password") && r.stderr.contains("redis.url"), "\(r.stderr)")
        let wrong = ws.writeConfig(redis: "redis://:nope@127.0.0.1:\(server.port)/0")
        let w = try runAimon(["stats", "--config", wrong])
        #expect(w.status == 69, "\(w.status) \(w.stderr)")
        #expect(w.stderr.contains("refused the password") && !w.stderr.contains("unreachable"), "\(w.stderr)")
        let right = ws.writeConfig(redis: "redis://:s3cret@127.0.0.1:\(server.port)/0")
        #expect(try runAimon(["stats", "--config", right]).status == 0)
    }

    @Test func theDaemonSaysItOnceAndRetries() throws {
        let server = try protectedServer()
        let ws = Workspace()
        let config = ws.writeConfig(redis: server.url, extra: "alerts:\n  database: none")
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        // Several tries, then a look at what was logged.
        #expect(eventually(timeout: 30) { refusedForNoAuth(server) >= 4 })
        daemon.terminate()
        daemon.waitUntilExit()
        let log = (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "requires a password").count - 1 == 1, "\(log)")
        #expect(log.contains("redis.url") && !log.contains("unreachable"), "\(log)")
    }
}

/// A Redis that stops replying (a stalled server, a frozen VM) is named as such, with the timeout.
@Suite struct RedisStallTests {
    @Test func noReplyWithinTheTimeoutIsSaidSo() throws {
        // A listening socket that never answers: the kernel completes the connection, nobody replies.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        #expect(listen(fd, 4) == 0)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let url = try RedisURL(parsing: "redis://127.0.0.1:\(port)/0")
        do throws(RedisError) {
            _ = try RedisConnection(url: url, timeout: 0.3)
            Issue.record("a connection to a server that never replies succeeded")
        } catch {
            #expect(error.kind == .io)
            #expect(error.message.contains("no reply within redis.timeout (0.3 s)"), "\(error.message)")
        }
    }
}

/// `check-config --connect`: one line per thing the configuration names, like nginx -t.
@Suite(.serialized) struct ConnectCheckTests {
    @Test func everyCheckPassesAgainstTheRealParts() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: sqlite://\(ws.path("alerts.db"))")
        let r = try runAimon(["check-config", "--config", config, "--connect"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        for check in ["redis", "redis version", "redis commands", "alert table", "journal"] {
            #expect(r.stdout.contains("ok     \(check):"), "\(check): \(r.stdout)")
        }
        #expect(r.stdout.contains("ok     redis version: Redis 7."), "\(r.stdout)")
        // The scratch keys are gone.
        let keys = try RedisServer.shared.connection().command(["KEYS", ws.prefix + ":check:*"]).array ?? []
        #expect(keys.isEmpty)
    }

    @Test func whatFailsIsNamedAndExits69() throws {
        let ws = Workspace()
        let down = ws.writeConfig(redis: "redis://127.0.0.1:1/0", extra: "alerts:\n  database: none")
        let r = try runAimon(["check-config", "--config", down, "--connect"])
        #expect(r.status == 69, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("FAILED redis: cannot connect to Redis"), "\(r.stdout)")

        // A user whose ACL refuses PFADD (sent from aimon's scripts) and UNLINK.
        let server = try RedisServer()
        let admin = try server.connection()
        #expect(try admin.command(["ACL", "SETUSER", "aimon", "on", ">pw", "~*", "+@all", "-pfadd", "-unlink"]) == .status("OK"))
        let limited = ws.writeConfig(redis: "redis://aimon:pw@127.0.0.1:\(server.port)/0", extra: "alerts:\n  database: none")
        let l = try runAimon(["check-config", "--config", limited, "--connect"])
        #expect(l.status == 69, "\(l.stdout)\(l.stderr)")
        #expect(l.stdout.contains("ok     redis: reachable") && l.stdout.contains("password accepted"), "\(l.stdout)")
        #expect(l.stdout.contains("FAILED redis commands: the ACL refuses PFADD, UNLINK"), "\(l.stdout)")
    }
}

/// Least privilege: an ACL user that may touch only aimon's key prefix and the commands aimon uses,
/// its password in a systemd credential (`$CREDENTIALS_DIRECTORY`), not in the YAML. The daemon and
/// the CLI work with it; the user cannot touch other keys. The ACL line is Docs/operations.md's.
@Suite struct RedisACLTests {
    /// The `ACL SETUSER aimon ...` line of Docs/operations.md, with this test's password and prefix:
    /// the documented line is the one tested.
    static func rules(prefix: String, password: String) throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("Docs/operations.md"), encoding: .utf8)
        guard let line = doc.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("ACL SETUSER aimon ") }) else {
            throw RedisServer.Failure(description: "no ACL SETUSER line in Docs/operations.md")
        }
        return line.split(separator: " ").dropFirst(3).map { word in
            word == ">PASSWORD" ? ">" + password : word == "~aimon:*" ? "~\(prefix):*" : String(word)
        }
    }

    @Test func anACLUserLimitedToThePrefixWithACredentialPassword() throws {
        let server = try RedisServer()
        let ws = Workspace()
        let rules = try Self.rules(prefix: ws.prefix, password: "c4red-\(ws.prefix)")
        #expect(rules.contains("~\(ws.prefix):*") && rules.contains(">c4red-\(ws.prefix)"))
        _ = try server.connection().command(["ACL", "SETUSER", "aimon"] + rules)
        let credentials = ws.path("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try "c4red-\(ws.prefix)\n".write(toFile: credentials + "/redis-password", atomically: true, encoding: .utf8)
        let config = ws.writeConfig(redis: server.url, extra: """
        alerts:
          database: sqlite://\(ws.path("alerts.db"))
          evaluate_interval: 1s
        """)
        try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "  key_prefix:", with: "  username: aimon\n  password_file: redis-password\n  key_prefix:")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let env = ["CREDENTIALS_DIRECTORY": credentials]
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"), environment: env)
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        // Calls, and an outage so that the alert rules write their states too.
        AlertIntegrationTests.publish(ws, "gw", (0..<30).map { ServicesTests.line("acl", ok: $0 < 20, at: Date().timeIntervalSince1970 - 30 + Double($0)) })
        let admin = try server.connection()
        #expect(eventually(timeout: 30) { committedLines(admin, prefix: ws.prefix, host: ws.host) == 30 })
        #expect(eventually(timeout: 30) {
            ((try? runAimon(["alerts", "--config", config, "--active", "--json"], environment: env))?.stdout ?? "").contains("consecutive_failures")
        })
        for command in [["stats"], ["system"], ["trend", "--days", "2"], ["status"], ["check-config", "--connect"]] {
            let r = try runAimon(command + ["--config", config], environment: env)
            #expect(r.status == 0, "\(command): \(r.status) \(r.stderr) \(r.stdout)")
        }
        // Nothing aimon sent was refused: Redis logs every command its ACL denies.
        let denied = try admin.command(["ACL", "LOG"])
        #expect(denied.array?.isEmpty == true, "\(denied)")
        // The user is held to the prefix.
        let user = try RedisConnection(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: server.port), username: "aimon", password: "c4red-\(ws.prefix)"))
        for refused in [["SET", "other:key", "x"], ["FLUSHALL"], ["CONFIG", "GET", "requirepass"]] {
            guard case .error = try user.command(refused) else { Issue.record("\(refused) was allowed"); continue }
        }
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        let log = (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? ""
        #expect(!log.contains("NOPERM") && !log.contains("no permissions"), "\(log)")
        // Outside the service, a credential's name is looked up where the unit loads it from.
        let r = try runAimon(["check-config", "--config", config], environment: ["CREDENTIALS_DIRECTORY": ""])
        #expect(r.status == 78 && r.stderr.contains("cannot read /etc/aimon/credentials/redis-password"), "\(r.stderr)")
    }
}
