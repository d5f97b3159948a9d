import CByteScan
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Parses and folds a batch's lines on worker threads while the ingest thread reads on: the second
/// core on the hot path.
///
/// The ingest thread copies lines into chunks and hands each to a worker in turn. A worker folds its
/// chunks into a batch of its own, with parsers of its own and a snapshot of the model registry, so no
/// string or counter is shared between threads while lines are folded. Counts, users and error
/// messages do not depend on the order of the lines, so each worker's batch is appended once, when the
/// batch is read; failure runs do, so a worker takes its runs after each chunk and the ingest thread
/// appends them chunk by chunk, in log order (`FailureRun.append`). A line whose model or deployment
/// the snapshot cannot place stops the chunk there: the ingest thread folds the rest of it itself, in
/// order, with the real registry; the names it placed (an overflow's too) go to the workers' next
/// chunks (`refresh`). The batch that comes out is the one a single pass would fold (past the cap of
/// error messages, see `WindowBatch.append`). A chunk's bad and late lines are logged when it is taken
/// back (the same samples, a few chunks later than a line over `max_line_bytes` read beside them).
/// Each worker's batch holds, until the batch is read, the users and messages of its chunks.
///
/// Each worker is a thread of its own (`aimon-fold-N` in `top -H`, a `JobThread`), started with its
/// first chunk and ended when the workers are released. Ownership: a worker's state is touched only on its thread
/// while a batch is read, and by the ingest thread between batches, once every chunk has signalled
/// `done`.
final class FoldWorkers: @unchecked Sendable {
    /// Lines copied out of the tailer's buffer, and what folding them found.
    final class Chunk: @unchecked Sendable {
        var bytes: [UInt8] = []
        /// End of each line in `bytes` (the next starts there).
        var ends: [Int] = []
        /// Each line's end offset in its file (logged with a bad line).
        var offsets: [Int64] = []
        /// Runs of lines from one file: the first line's index, the file's source and path.
        var files: [(first: Int, source: Int, path: String)] = []
        /// A fresher registry snapshot for the worker, taken when the registry learned new names.
        var registry: ModelRegistry?

        // Written by the worker before `done`:
        /// Lines handled; the rest are left to the ingest thread (`unplaced`).
        var handled = 0
        var runs: [(name: String, pair: Bool, run: FailureRun)] = []
        var skipped: Int64 = 0
        var bad: [ParseFailure: Int64] = [:]
        /// The first line of each kind the log samples (a parse failure, or late), in line order.
        var samples: [(kind: Sample, line: Int, preview: String)] = []
        var timing = (parse: 0.0, fold: 0.0)
        let done = DispatchSemaphore(value: 0)

        var count: Int { ends.count }

        func line(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
            bytes.withUnsafeBufferPointer { all in body(UnsafeBufferPointer(rebasing: all[(i == 0 ? 0 : ends[i - 1])..<ends[i]])) }
        }

        /// The source and path of line `i`'s file.
        func file(of i: Int) -> (source: Int, path: String) {
            var k = files.count - 1
            while files[k].first > i { k -= 1 }
            return (files[k].source, files[k].path)
        }

        func reset() {
            bytes.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            offsets.removeAll(keepingCapacity: true)
            files.removeAll()
            registry = nil
            handled = 0
            runs = []
            skipped = 0
            bad = [:]
            samples = []
            timing = (0, 0)
        }
    }

    enum Sample: Hashable {
        case bad(ParseFailure)
        case late(multi: Bool)
    }

    private final class Worker: @unchecked Sendable {
        var parsers: [any LineParser] = []
        var batch: WindowBatch?
        var registry: ModelRegistry?
        /// Lines to the next one timed (`Telemetry.Stages.sampleEvery`), across chunks.
        var countdown = Telemetry.Stages.sampleEvery / 2
        let thread: JobThread

        init(_ index: Int) { thread = JobThread(name: "aimon-fold-\(index + 1)") }
    }

    /// Bytes a chunk holds before it is handed over.
    let chunkBytes: Int
    /// Lines a chunk holds at most (blank lines fill no bytes).
    let chunkLines: Int
    /// Chunks handed over and not yet taken back: bounds memory and how far reading runs ahead.
    let maxInFlight: Int
    private let workers: [Worker]
    private var next = 0
    /// A fresher registry snapshot for each worker's next chunk.
    private var fresh: [ModelRegistry?]
    private var spare: [Chunk] = []

    /// Lines folded by the workers (not left to the ingest thread), for tests.
    private(set) var linesFolded = 0

    init(workers: Int, chunkBytes: Int = 128 * 1024, chunkLines: Int = 4096, maxInFlight: Int = 4) {
        precondition(workers > 0)
        self.chunkBytes = chunkBytes
        self.chunkLines = chunkLines
        self.maxInFlight = maxInFlight
        self.workers = (0..<workers).map(Worker.init)
        fresh = Array(repeating: nil, count: workers)
    }

    /// Two workers where the process may use two cores or more (its CPU affinity and its cgroup's
    /// quota), else none. `AIMON_FOLD_THREADS` sets the number (0: none), for benchmarks.
    static func automatic() -> FoldWorkers? {
        let wanted = getenv("AIMON_FOLD_THREADS").flatMap { Int(String(cString: $0)) } ?? (usableCores() >= 2 ? 2 : 0)
        return wanted > 0 ? FoldWorkers(workers: wanted) : nil
    }

    /// Cores this process may use: the CPUs it may run on, bounded by its cgroup's CPU quota
    /// (systemd's `CPUQuota=`; cgroup v2, the process's own cgroup: a limit set on a parent slice
    /// is not seen).
    static func usableCores() -> Int {
        let affinity = Int(aimon_affinity_cpus())
        var cores = affinity > 0 ? affinity : Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if let quota = cgroupCPUQuota() { cores = min(cores, max(1, Int(quota.rounded(.down)))) }
        return cores
    }

    /// Cores' worth of CPU time the process's cgroup (v2) may use; nil without a limit.
    static func cgroupCPUQuota() -> Double? {
        guard let cgroup = readText("/proc/self/cgroup"),
              let line = cgroup.split(separator: "\n").first(where: { $0.hasPrefix("0::") }),
              let max = readText("/sys/fs/cgroup" + line.dropFirst(3) + "/cpu.max") else { return nil }
        return cpuMax(max)
    }

    /// A cgroup `cpu.max` ("QUOTA PERIOD", or "max PERIOD") as cores; nil without a limit.
    static func cpuMax(_ text: String) -> Double? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), period > 0 else { return nil }
        return quota / period
    }

    private static func readText(_ path: String) -> String? {
        (try? FileSystem.readPrefix(path, limit: 4096)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The parsers of each worker, for these sources' formats (between batches).
    func use(_ formats: [SourceFormat], limits: RecordLimits) {
        for w in workers { w.parsers = formats.map { $0.makeParser(limits: limits) } }
    }

    /// Starts a batch: each worker folds into `empty` with a snapshot of `registry`.
    func begin(_ empty: WindowBatch, registry: ModelRegistry) {
        let snapshot = registry.snapshot()
        for w in workers {
            w.batch = empty
            w.registry = snapshot
        }
        fresh = fresh.map { _ in nil }
    }

    /// The ingest thread placed names itself: each worker's next chunk carries a snapshot of the
    /// registry with the places `batch` gave names this batch (the overflow's too).
    func refresh(_ registry: ModelRegistry, batch: WindowBatch) {
        let snapshot = registry.snapshot(decided: batch.decisions())
        fresh = fresh.map { _ in snapshot }
    }

    func chunk() -> Chunk { spare.popLast() ?? Chunk() }

    /// Takes a chunk back for reuse, unless it grew past what chunks hold (a line of a megabyte).
    func recycle(_ chunk: Chunk) {
        linesFolded += chunk.handled
        chunk.reset()
        if chunk.bytes.capacity <= 2 * chunkBytes { spare.append(chunk) }
    }

    /// Hands a chunk to the next worker; it folds with `policies`, `limits` and `now`.
    func submit(_ chunk: Chunk, policies: [FailurePolicy], limits: RecordLimits, now: Double) {
        let w = workers[next]
        chunk.registry = fresh[next]
        fresh[next] = nil
        next = (next + 1) % workers.count
        w.thread.run {
            if let fresh = chunk.registry {
                var r = fresh
                r.keepPlaced(of: w.registry!)
                w.registry = r
            }
            var fold = LineFold(parsers: w.parsers, policies: policies, limits: limits, now: now)
            Self.fold(chunk, with: &fold, into: &w.batch!, registry: &w.registry!, countdown: &w.countdown)
            chunk.runs = w.batch!.takeRuns()
            chunk.done.signal()
        }
    }

    /// Folds a chunk's lines until one cannot be placed by the snapshot.
    private static func fold(_ chunk: Chunk, with fold: inout LineFold, into batch: inout WindowBatch, registry: inout ModelRegistry,
                             countdown: inout Int) {
        // Locals, not the chunk's properties: each read of a class's property is an access check
        // and a reference count.
        let ends = chunk.ends, files = chunk.files
        var seen: Set<Sample> = []
        var samples: [(kind: Sample, line: Int, preview: String)] = []
        var tally = LineTally(countdown: countdown)
        var handled = ends.count
        var run = 0
        var source = files.first?.source ?? 0
        chunk.bytes.withUnsafeBufferPointer { all in
            var start = 0
            for i in ends.indices {
                if run + 1 < files.count, files[run + 1].first <= i {
                    run += 1
                    source = files[run].source
                }
                let line = UnsafeBufferPointer(rebasing: all[start..<ends[i]])
                start = ends[i]
                let sample: Sample
                switch fold.fold(line, source: source, into: &batch, registry: &registry, tally: &tally) {
                case .added, .skipped: continue
                case .unplaced: handled = i; return
                case let .late(multi): sample = .late(multi: multi)
                case let .bad(error): sample = .bad(error)
                }
                if seen.insert(sample).inserted { samples.append((sample, i, BadLineSampler.preview(line))) }
            }
        }
        countdown = tally.countdown
        chunk.handled = handled
        chunk.skipped = tally.skipped
        chunk.bad = tally.bad
        chunk.samples = samples
        chunk.timing = tally.timing
    }

    /// Ends a batch once every chunk is back: appends the workers' batches (in any order: what is
    /// left in them does not depend on it) and tells `registry` the names their snapshots placed.
    func end(into batch: inout WindowBatch, registry: inout ModelRegistry, now: Double) {
        for w in workers {
            guard var part = w.batch, let snapshot = w.registry else { continue }
            w.batch = nil
            w.registry = nil
            part.finish()
            batch.append(part)
            registry.replay(snapshot, now: now)
        }
    }
}

