import Synchronization

/// What ingest tells evaluation after each committed batch: the models it touched and the runs of
/// failures it ended. Small by construction: posts merge into one map by model, so a long catch-up
/// of many batches is one entry per model, never a queue of batches.
public final class EvaluationMailbox: Sendable {
    public struct Post: Sendable {
        public var touched: Set<String> = []
        public var runs: [String: [RunsEnded]] = [:]
        /// Touched models whose batch carried a counted failure or ended a run of them: evaluated
        /// ahead of the others (their alerts are the ones a second matters for).
        public var urgent: Set<String> = []
        public var isEmpty: Bool { touched.isEmpty && runs.isEmpty }
    }

    private let box = Mutex(Post())
    /// Woken by each post (the evaluation loop waits on it).
    public let waker = Waker()

    public init() {}

    public func post(runs: [String: RunsEnded], touched: Set<String>, urgent: Set<String> = []) {
        guard !runs.isEmpty || !touched.isEmpty else { return }
        box.withLock { p in
            p.touched.formUnion(touched)
            p.urgent.formUnion(urgent)
            for (model, r) in runs { p.runs[model, default: []].append(r) }
        }
        waker.wake()
    }

    /// Everything posted since the last take.
    public func take() -> Post { box.withLock { p in defer { p = Post() }; return p } }
}
