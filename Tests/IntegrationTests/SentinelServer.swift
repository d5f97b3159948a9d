import AimonCore
import Foundation

/// A Redis Sentinel (`redis-server sentinel.conf --sentinel`, what Debian's redis-sentinel runs)
/// watching one master, with short timeouts so that a test sees a failover within seconds.
final class SentinelServer: @unchecked Sendable {
    let port: Int
    let dir: String
    private var process: Process?

    init(master: String, masterPort: Int) throws {
        port = RedisServer.freePort()
        dir = NSTemporaryDirectory() + "aimon-sentinel-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let conf = """
        port \(port)
        bind 127.0.0.1
        dir \(dir)
        logfile \(dir)/sentinel.log
        sentinel monitor \(master) 127.0.0.1 \(masterPort) 2
        sentinel down-after-milliseconds \(master) 1000
        sentinel failover-timeout \(master) 5000
        sentinel parallel-syncs \(master) 1
        """
        try conf.write(toFile: dir + "/sentinel.conf", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        p.arguments = [dir + "/sentinel.conf", "--sentinel"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let c = try? connection(), (try? c.command(["PING"])) == .status("PONG") { return }
            usleep(20_000)
        }
        throw RedisServer.Failure(description: "sentinel on port \(port) did not answer within 20 s; see \(dir)/sentinel.log")
    }

    func connection() throws -> RedisConnection { try RedisConnection(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port)), timeout: 1) }

    var log: String { (try? String(contentsOfFile: dir + "/sentinel.log", encoding: .utf8)) ?? "" }

    deinit {
        if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
