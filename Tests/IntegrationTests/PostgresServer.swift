import Foundation

/// A private PostgreSQL cluster on a free loopback port, in its own folder, started and stopped by
/// the tests (PLATFORM.md: initdb runs as the `postgres` user when the tests run as root).
final class PostgresServer: @unchecked Sendable {
    let port: Int
    let dir: String
    let bin: String

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// A new cluster; with `standbyOf`, a streaming replica of that one (pg_basebackup -R: read-only
    /// until promoted).
    init(standbyOf primary: PostgresServer? = nil) throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let v = versions.compactMap(Int.init).max() else {
            throw Failure(description: "PostgreSQL is not installed: run `apt-get install postgresql` (.ci/run does)")
        }
        bin = "/usr/lib/postgresql/\(v)/bin"
        port = RedisServer.freePort()
        dir = "/tmp/aimon-pg-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if getuid() == 0 {
            guard let pw = getpwnam("postgres") else { throw Failure(description: "no 'postgres' user to run initdb as") }
            chown(dir, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
        if let primary {
            try run("pg_basebackup", ["-h", "127.0.0.1", "-p", "\(primary.port)", "-U", "postgres", "-D", dir + "/data", "-R", "-X", "stream", "-c", "fast"])
            try start()
            return
        }
        try run("initdb", ["-D", dir + "/data", "-A", "trust", "-U", "postgres", "--no-sync"])
        try start()
        try run("createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "aimon"])
    }

    /// A standby becomes the primary.
    func promote() throws {
        try run("pg_ctl", ["-D", dir + "/data", "-w", "-t", "60", "promote"])
    }

    var uri: String { "postgres://postgres:secret@127.0.0.1:\(port)/aimon" }

    func start() throws {
        try run("pg_ctl", ["-D", dir + "/data", "-l", dir + "/server.log", "-w", "-t", "60",
                           "-o", "-p \(port) -k \(dir) -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
    }

    /// Stops at once (`-m fast`): connections are cut, as in an outage.
    func stop() throws {
        try run("pg_ctl", ["-D", dir + "/data", "-w", "-m", "fast", "stop"])
    }

    /// Rows of a query, via psql (columns separated by |).
    func query(_ sql: String) throws -> [[String]] {
        let out = try run("psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", "aimon", "-At", "-c", sql])
        return out.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    deinit {
        try? stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs a PostgreSQL program to completion (as `postgres` when root) and returns its output.
    ///
    /// Runs a PostgreSQL program to completion (see `Subprocess` for why not Foundation's Process).
    @discardableResult
    private func run(_ program: String, _ args: [String]) throws -> String {
        let argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", bin + "/" + program] + args : [bin + "/" + program] + args
        let outFile = dir + "/.out-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: outFile) }
        let status = Subprocess.wait(try Subprocess.spawn(argv, output: outFile))
        let out = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw Failure(description: "\(program) \(args.joined(separator: " ")) failed (status \(status)): \(out); see \(dir)/server.log")
        }
        return out
    }
}
