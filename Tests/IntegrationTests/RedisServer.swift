import AimonCore
import Foundation

/// A private redis-server on a free loopback port, in its own folder, started and stopped by tests.
final class RedisServer: @unchecked Sendable {
    let port: Int
    let dir: String
    private var process: Process?

    /// One server shared by the tests that need no outage (each uses its own key prefix).
    static let shared: RedisServer = {
        do {
            let server = try RedisServer()
            atexit { RedisServer.shared.stop() }
            return server
        } catch { fatalError("\(error)") }
    }()

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// `arguments`: more redis-server options (e.g. `--replicaof 127.0.0.1 PORT`).
    init(persistent: Bool = false, arguments: [String] = []) throws {
        port = Self.freePort()
        dir = NSTemporaryDirectory() + "aimon-redis-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        self.persistent = persistent
        self.arguments = arguments
        try start()
    }

    private let persistent: Bool
    private let arguments: [String]

    /// Sends a signal to the server (SIGKILL: it dies without a word; SIGSTOP/SIGCONT: it freezes).
    func signal(_ s: Int32) {
        guard let p = process else { return }
        kill(p.processIdentifier, s)
        if s == SIGKILL { p.waitUntilExit(); process = nil }
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    func start() throws {
        guard let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first(where: FileManager.default.isExecutableFile) else {
            throw Failure(description: "redis-server is not installed: run `apt-get install redis-server` (.ci/run does)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        var args = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--logfile", dir + "/redis.log"]
        args += persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]
        p.arguments = args + arguments
        // Not the test runner's pipes: a server holding them open would keep `swift test` waiting.
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        // Await readiness: connect until it answers (bounded), rather than sleeping a guessed time.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let c = try? RedisConnection(url: try! RedisURL(parsing: url), timeout: 1),
               (try? c.command(["PING"])) == .status("PONG") { return }
            usleep(20_000)
        }
        throw Failure(description: "redis-server on port \(port) did not answer within 20 s; see \(dir)/redis.log")
    }

    /// Stops the server with SHUTDOWN (the append-only file is flushed) and waits for it to exit.
    /// Not by signal: a child of the test runner may inherit a mask that blocks SIGTERM.
    func stop() {
        guard let p = process else { return }
        if let c = try? connection() { _ = try? c.command(["SHUTDOWN"]) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        process = nil
    }

    func connection() throws -> RedisConnection { try RedisConnection(url: try RedisURL(parsing: url)) }

    deinit { stop(); try? FileManager.default.removeItem(atPath: dir) }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
