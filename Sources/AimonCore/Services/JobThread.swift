import Dispatch
import Synchronization

/// A named thread that runs the jobs given to it, one at a time, in order: `top -H` shows what each
/// thread of the daemon is for (a dispatch queue's threads are all `-qos.overcommit`). It starts with
/// its first job and ends, once its jobs are done, when it is released.
final class JobThread: @unchecked Sendable {
    let name: String
    private let state: State

    /// What the thread itself holds (not the JobThread, whose release ends it).
    private final class State: Sendable {
        /// Jobs in order; nil asks the thread to end.
        let jobs = Mutex<[(@Sendable () -> Void)?]>([])
        let ready = DispatchSemaphore(value: 0)
        let started = Atomic<Bool>(false)
    }

    /// `name`: 15 bytes at most are kept.
    init(name: String) {
        self.name = name
        state = State()
    }

    deinit {
        guard state.started.load(ordering: .acquiring) else { return }
        state.jobs.withLock { $0.append(nil) }
        state.ready.signal()
    }

    /// Runs `job` on the thread after the jobs given before it.
    func run(_ job: @escaping @Sendable () -> Void) {
        let state = self.state
        if !state.started.exchange(true, ordering: .acquiringAndReleasing) {
            startThread(name: name) {
                while true {
                    state.ready.wait()
                    guard let job = state.jobs.withLock({ $0.removeFirst() }) else { return }
                    job()
                }
            }
        }
        state.jobs.withLock { $0.append(job) }
        state.ready.signal()
    }
}
