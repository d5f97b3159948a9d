import AimonSamples
import Foundation
import Synchronization

/// A TCP proxy in front of Redis that misbehaves on purpose, for the chaos test: it stalls replies
/// past the client's timeout, cuts connections in the middle of a command, and delivers a command
/// late, after the client gave up on it (what a Redis that stalls on fork or fsync does to a commit).
///
/// Each commit the client sends draws a fault with probability `rate` while chaos is on (the kinds in
/// turn), any other request a cut with a third of it; every fault is counted, so a test can check
/// that it really happened.
final class ChaosProxy: @unchecked Sendable {
    enum Fault: CaseIterable { case stallReply, cutRequest, lateRequest }

    struct State {
        var chaos = false
        var rate = 0.0
        var rng = SplitMix64(seed: 1)
        var injected: [Fault: Int] = [:]
        var turn = 0
    }

    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    /// How long a stalled reply or a late request is held (longer than the client's timeout).
    private let hold: Double
    let state = Mutex(State())

    init(upstreamPort: Int, hold: Double, seed: UInt64) throws {
        self.upstreamPort = upstreamPort
        self.hold = hold
        state.withLock { $0.rng = SplitMix64(seed: seed) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }) == 0,
              listen(fd, 64) == 0 else { throw RedisServer.Failure(description: "proxy: cannot listen") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    func setChaos(_ on: Bool, rate: Double = 0.15) { state.withLock { $0.chaos = on; $0.rate = rate } }
    var injected: [Fault: Int] { state.withLock { $0.injected } }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = UInt16(port).bigEndian
        return a
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { if errno == EINTR { continue }; return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(port: upstreamPort)
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
            guard ok else { close(client); close(upstream); continue }
            let conn = Connection(client: client, upstream: upstream)
            Thread.detachNewThread { [self] in pumpRequests(conn) }
            Thread.detachNewThread { [self] in pumpReplies(conn) }
        }
    }

    /// One proxied connection; its descriptors are closed when both pumps are done.
    final class Connection: @unchecked Sendable {
        let client: Int32
        let upstream: Int32
        let stallReplies = Atomic<Bool>(false)
        private let pumps = Atomic<Int>(2)

        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }

        func dropClient() { shutdown(client, Int32(SHUT_RDWR)) }
        func dropBoth() { shutdown(client, Int32(SHUT_RDWR)); shutdown(upstream, Int32(SHUT_RDWR)) }

        func pumpDone() {
            if pumps.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                close(client)
                close(upstream)
            }
        }
    }

    /// A fault for a chunk, or none. Replies are stalled and requests delayed only for commits (a
    /// script, EVALSHA, or a transaction, EXEC), where a lost reply matters; any request may be cut.
    private func draw(_ chunk: [UInt8], _ n: Int) -> (Fault?, Double) {
        let script = chunk[0..<n].firstRange(of: Self.evalsha) != nil || chunk[0..<n].firstRange(of: Self.exec) != nil
        return state.withLock { s in
            // Other requests (reconnects, reads, the evaluation's) fail a third as often: each of them
            // failing as often as commits kept the daemon in reconnect backoff so long that, on a
            // loaded machine, too few commits were sent to see every kind of fault on them.
            guard s.chaos, s.rng.nextDouble() < (script ? s.rate : s.rate / 3) else { return (nil, 0) }
            // For scripts, the kinds in turn, so that each happens about as often as the others.
            var f = Fault.cutRequest
            if script {
                f = Fault.allCases[s.turn % Fault.allCases.count]
                s.turn += 1
            }
            s.injected[f, default: 0] += 1
            return (f, s.rng.nextDouble())
        }
    }

    static let evalsha = Array("EVALSHA".utf8)
    static let exec = Array("$4\r\nEXEC\r\n".utf8)

    private func pumpRequests(_ c: Connection) {
        defer { c.pumpDone() }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(c.client, &buffer, buffer.count)
            if n <= 0 { c.dropBoth(); return }
            let (fault, u) = draw(buffer, n)
            switch fault {
            case nil:
                guard writeAll(c.upstream, buffer, n) else { c.dropBoth(); return }
            case .stallReply:
                // The request reaches Redis; its reply is held until the client has given up.
                c.stallReplies.store(true, ordering: .releasing)
                guard writeAll(c.upstream, buffer, n) else { c.dropBoth(); return }
            case .cutRequest:
                // Part of the request, then the connection breaks: Redis never sees a whole command.
                _ = writeAll(c.upstream, buffer, max(0, Int(Double(n) * u) - 1))
                c.dropBoth()
                return
            case .lateRequest:
                // The client's connection breaks now; the request reaches Redis later, on the old
                // connection, after the client may have reconnected and sent it again.
                c.dropClient()
                usleep(useconds_t(hold * (0.5 + u) * 1_000_000))
                _ = writeAll(c.upstream, buffer, n)
                usleep(200_000)  // its reply, read and dropped by the other pump
                c.dropBoth()
                return
            }
        }
    }

    private func pumpReplies(_ c: Connection) {
        defer { c.pumpDone() }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(c.upstream, &buffer, buffer.count)
            if n <= 0 { c.dropClient(); return }
            if c.stallReplies.load(ordering: .acquiring) {
                usleep(useconds_t(hold * 1_000_000))
                c.dropBoth()
                return
            }
            if !writeAll(c.client, buffer, n) { continue }  // the client is gone: drain what Redis says
        }
    }

    private func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var sent = 0
        while sent < count {
            // MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE for the test runner.
            let w = buffer.withUnsafeBytes { send(fd, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
            if w < 0 && errno == EINTR { continue }
            if w <= 0 { return false }
            sent += w
        }
        return true
    }
}
