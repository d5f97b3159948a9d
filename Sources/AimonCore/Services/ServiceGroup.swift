import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A long-running part of the daemon with one owner, in the shape of swift-service-lifecycle's
/// `Service`: `run()` does the work until `stop()` is asked (from any thread) and returns, or throws
/// a fault a retry cannot fix.
///
/// Each service runs on a thread of its own rather than as a task: its work is blocking I/O (hiredis,
/// files, libpq) that would hold a thread of Swift's cooperative pool, which has two on this machine.
public protocol Service: AnyObject, Sendable {
    /// Short and stable: thread name, heartbeat key, log metadata.
    var name: String { get }
    func run() throws
    func stop()
}

/// Runs services each on its own named thread, and stops them in the reverse order of their start,
/// each within a deadline (swift-service-lifecycle's `ServiceGroup`, on threads).
public final class ServiceGroup: Sendable {
    /// Called on the service's thread when its `run()` returned (error nil) or threw; `asked`: the
    /// group stopped it.
    public typealias Exit = @Sendable (_ service: any Service, _ error: (any Error)?, _ asked: Bool) -> Void

    private final class Running: Sendable {
        let service: any Service
        let rank: Int
        let done = DispatchSemaphore(value: 0)
        let asked = Atomic<Bool>(false)
        init(_ s: any Service, rank: Int) { service = s; self.rank = rank }
    }
    private let running = Mutex<[Running]>([])
    private let onExit: Exit

    public init(onExit: @escaping Exit = { _, _, _ in }) { self.onExit = onExit }

    /// Services running now, by rank, then in the order they started.
    public var services: [any Service] { running.withLock { $0.map(\.service) } }

    /// Starts `service` on a thread of its own. `rank`: its place in the start order (a service
    /// started later to replace another, after a reload, takes the rank of the one it replaces).
    public func start(_ service: any Service, rank: Int = 0) {
        let r = Running(service, rank: rank)
        running.withLock { list in
            list.append(r)
            list.sort { $0.rank < $1.rank }  // stable: equal ranks keep their start order
        }
        let onExit = self.onExit
        startThread(name: "aimon-" + service.name) { [weak self] in
            var failure: (any Error)?
            do { try service.run() } catch { failure = error }
            self?.running.withLock { list in list.removeAll { $0 === r } }
            onExit(service, failure, r.asked.load(ordering: .acquiring))
            r.done.signal()
        }
    }

    /// Asks `service` to stop and waits up to `timeout` seconds for its `run()` to return; false
    /// when it did not return in time (it keeps running; the caller decides).
    /// `by`: how to ask, when not by `service.stop()` (a writer retired into its successor).
    @discardableResult
    public func stop(_ service: any Service, timeout: Double, by ask: (() -> Void)? = nil) -> Bool {
        guard let r = running.withLock({ $0.first { $0.service === service } }) else { return true }
        r.asked.store(true, ordering: .releasing)
        if let ask { ask() } else { service.stop() }
        return r.done.wait(timeout: .now() + timeout) == .success
    }

    /// Stops every service, highest rank (last started) first, each within `timeout`; the names of
    /// those that did not return.
    @discardableResult
    public func stopAll(timeout: (any Service) -> Double) -> [String] {
        var late: [String] = []
        for s in services.reversed() where !stop(s, timeout: timeout(s)) { late.append(s.name) }
        return late
    }
}

@_silgen_name("pthread_setname_np")
private func setThreadName(_ thread: pthread_t, _ name: UnsafePointer<CChar>) -> Int32

/// Runs `body` on a new detached thread named `name` (15 bytes at most are kept: `top -H` shows it).
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(_ n: String, _ b: @escaping @Sendable () -> Void) { name = n; body = b }
    }
    let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        _ = setThreadName(pthread_self(), String(box.name.utf8.prefix(15))!)
        box.body()
        return nil
    }, box)
    precondition(rc == 0, "cannot start a thread: \(String(cString: strerror(rc)))")
    pthread_detach(thread)
}
