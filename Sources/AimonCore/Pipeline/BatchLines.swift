import Logging

/// The ingest thread's side of reading one batch (`IngestPipeline.readBatch`): every event of the
/// tailer goes to `take`, which folds the line here or gathers it into the next chunk for the fold
/// workers, hands full chunks over and takes them back in order.
///
/// One value, captured alone by the tailer's callback, so that a line costs no reference count and
/// no run-time exclusivity check. As a dozen local variables shared by local functions, every line
/// retained each variable's box (16 retains and releases a line) and checked each access at run
/// time: a seventh of the CPU of `aimon replay`.
struct BatchLines {
    var read: IngestPipeline.Read
    var registry: ModelRegistry
    var sampler: BadLineSampler
    /// Parse and fold seconds of the lines timed here (one in `Telemetry.Stages.sampleEvery`).
    var timing: (parse: Double, fold: Double) { tally.timing }
    /// The same, of the workers' lines (spent beside this thread's), and the seconds this thread
    /// waited for a worker.
    private(set) var workersTiming = (parse: 0.0, fold: 0.0)
    private(set) var waited = 0.0

    private var fold: LineFold
    /// The lines folded here that are bad or no call (put with `read`'s when the batch is finished).
    private var tally = LineTally()
    private let workers: FoldWorkers?
    private let policies: [FailurePolicy]
    private let limits: RecordLimits
    private let now: Double
    private let maxLineBytes: Int
    private let logger: Logger

    /// Chunks with a worker, in log order.
    private var inFlight: [FoldWorkers.Chunk] = []
    // The lines of the chunk being filled, swapped into a chunk when it is handed over (`fill`).
    private var bytes: [UInt8] = []
    private var ends: [Int] = []
    private var offsets: [Int64] = []
    private var files: [(first: Int, source: Int, path: String)] = []
    /// Held (not only its identity) so that a file closed within the batch cannot be taken for a new
    /// one at the same address.
    private var lastFile: TailedFile?

    /// `workers`: nil to fold every line here (a batch smaller than a chunk, or one core).
    init(read: IngestPipeline.Read, parsers: [any LineParser], registry: ModelRegistry, sampler: BadLineSampler,
         workers: FoldWorkers?, policies: [FailurePolicy], limits: RecordLimits, now: Double, maxLineBytes: Int, logger: Logger) {
        self.read = read
        self.registry = registry
        self.sampler = sampler
        self.fold = LineFold(parsers: parsers, policies: policies, limits: limits, now: now)
        self.workers = workers
        self.policies = policies
        self.limits = limits
        self.now = now
        self.maxLineBytes = maxLineBytes
        self.logger = logger
        workers?.begin(read.batch, registry: registry)
    }

    /// One event of the tailer.
    @inline(__always)
    mutating func take(_ file: TailedFile, _ event: LineSplitter.Event, end: Int64) {
        switch event {
        case let .line(line):
            read.lines += 1
            guard let workers else { return foldHere(line, source: file.sourceIndex, path: file.path, end: end) }
            if gather(line, end: end, file: file, workers) { handOver(workers) }
        case .overlong:
            read.overlong += 1
            if sampler.shouldLog("overlong", now: now) {
                logger.warning("skipping a line over max_line_bytes (\(maxLineBytes)); further ones are counted and sampled",
                               metadata: ["path": "\(file.path)", "end_offset": "\(end)"])
            }
        }
    }

    /// Once the tailer is read: every chunk taken back, the last lines (too few to hand over)
    /// folded here after them, in order, the workers' batches appended, and the batch finished.
    mutating func finish() {
        if let workers {
            while !inFlight.isEmpty { takeBack(inFlight.removeFirst(), workers) }
            let c = workers.chunk()
            fill(c)
            foldHere(c, from: 0)
            workers.recycle(c)
            workers.end(into: &read.batch, registry: &registry, now: now)
        }
        read.skipped += tally.skipped
        for (reason, n) in tally.bad { read.bad[reason, default: 0] += n }
        read.batch.finish()
    }

    /// Reading failed: chunks still with a worker are waited for (the workers' state is the next
    /// batch's).
    func abandon() {
        for c in inFlight { c.done.wait() }
    }

    // MARK: - Lines folded here

    /// One line folded here, with the registry itself. `path` is read only to log the line.
    @inline(__always)
    private mutating func foldHere(_ line: UnsafeBufferPointer<UInt8>, source: Int, path: @autoclosure () -> String, end: Int64) {
        switch fold.fold(line, source: source, into: &read.batch, registry: &registry, tally: &tally) {
        case .added, .skipped, .unplaced: break  // the registry itself places every name
        case let .late(multi): log(.late(multi: multi), path: path(), end: end, line: BadLineSampler.preview(line))
        case let .bad(error): log(.bad(error), path: path(), end: end, line: BadLineSampler.preview(line))
        }
    }

    /// A chunk's lines from `start` on, folded here.
    private mutating func foldHere(_ c: FoldWorkers.Chunk, from start: Int) {
        for i in start..<c.count {
            let file = c.file(of: i)
            c.line(i) { foldHere($0, source: file.source, path: file.path, end: c.offsets[i]) }
        }
    }

    private mutating func log(_ sample: FoldWorkers.Sample, path: String, end: Int64, line: @autoclosure () -> String) {
        switch sample {
        case let .bad(error):
            guard sampler.shouldLog(error.rawValue, now: now) else { return }
            logger.warning("skipping a bad line (\(error.rawValue)); further ones are counted and sampled",
                           metadata: ["path": "\(path)", "end_offset": "\(end)", "line": "\(line())"])
        case let .late(multi):
            guard sampler.shouldLog("late", now: now) else { return }
            let what = multi ? "calls" : "a line"
            logger.notice("dropping \(what) older than retention.hour_buckets (late); further ones are counted and sampled",
                          metadata: ["path": "\(path)", "end_offset": "\(end)", "line": "\(line())"])
        }
    }

    // MARK: - Lines folded by the workers

    /// One line copied into the chunk being filled; true once the chunk is full.
    @inline(__always)
    private mutating func gather(_ line: UnsafeBufferPointer<UInt8>, end: Int64, file: TailedFile, _ workers: FoldWorkers) -> Bool {
        if file !== lastFile {
            lastFile = file
            files.append((ends.count, file.sourceIndex, file.path))
        }
        bytes.append(contentsOf: line)
        ends.append(bytes.count)
        offsets.append(end)
        return bytes.count >= workers.chunkBytes || ends.count >= workers.chunkLines
    }

    /// The chunk filled, to the next worker (once `maxInFlight` are out, the oldest is taken back first).
    @inline(never)
    private mutating func handOver(_ workers: FoldWorkers) {
        if inFlight.count >= workers.maxInFlight { takeBack(inFlight.removeFirst(), workers) }
        let c = workers.chunk()
        fill(c, room: workers.chunkBytes)
        workers.submit(c, policies: policies, limits: limits, now: now)
        inFlight.append(c)
    }

    /// Hands the lines gathered to `chunk`, and takes its emptied arrays for the next ones. With
    /// `room`, makes room for that many bytes and a last line, so that filling a chunk copies no
    /// byte twice.
    private mutating func fill(_ chunk: FoldWorkers.Chunk, room: Int? = nil) {
        swap(&chunk.bytes, &bytes)
        swap(&chunk.ends, &ends)
        swap(&chunk.offsets, &offsets)
        swap(&chunk.files, &files)
        lastFile = nil
        if let room, bytes.capacity < room + 16384 { bytes.reserveCapacity(room + 16384) }
    }

    /// A chunk back from its worker, in log order: its runs, counts and samples, then the lines it
    /// left (folded here).
    private mutating func takeBack(_ c: FoldWorkers.Chunk, _ workers: FoldWorkers) {
        let t0 = monotonicSeconds()
        c.done.wait()
        waited += monotonicSeconds() - t0
        read.batch.appendRuns(c.runs)
        read.skipped += c.skipped
        for (reason, n) in c.bad { read.bad[reason, default: 0] += n }
        workersTiming.parse += c.timing.parse
        workersTiming.fold += c.timing.fold
        for s in c.samples { log(s.kind, path: c.file(of: s.line).path, end: c.offsets[s.line], line: s.preview) }
        if c.handled < c.count {
            foldHere(c, from: c.handled)
            workers.refresh(registry, batch: read.batch)  // names placed here, that the workers' snapshots do not know
        }
        workers.recycle(c)
    }
}
