import Dispatch
import Synchronization

/// Asks a service's loop to stop, and lets it sleep (backoff) without missing the request.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)
    private let waker: Waker

    public init(waker: Waker) { self.waker = waker }

    public var isStopped: Bool { flag.load(ordering: .acquiring) }

    public func stop() {
        if !flag.exchange(true, ordering: .acquiringAndReleasing) {
            semaphore.signal()
            waker.wake()
        }
    }

    /// Sleeps up to `seconds`; returns true if a stop was asked meanwhile.
    public func sleep(_ seconds: Double) -> Bool {
        if isStopped { return true }
        if semaphore.wait(timeout: .now() + seconds) == .success {
            semaphore.signal()  // keep it signalled for any later sleep
            return true
        }
        return isStopped
    }
}
