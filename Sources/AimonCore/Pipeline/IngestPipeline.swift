import Dispatch
import Logging
import Synchronization

/// The data path of DESIGN.md as a service on its own thread: tailer -> splitter -> parser -> batch
/// -> one conditional Redis commit per batch (window deltas + checkpoints), and again. It owns its
/// Redis connection (through `IngestStore`), its checkpoints and its model registry; it tells the
/// evaluation service what each committed batch touched (`EvaluationMailbox`), and reports every
/// figure to `Telemetry`.
///
/// Blocking by design: while Redis is unreachable the loop retries the same batch and reads at most
/// one batch more (a backlog's next batch is read while a commit lands), so memory stays bounded and
/// nothing is skipped. Stopping between commits loses nothing: the
/// next start resumes from the checkpoints in Redis.
public final class IngestPipeline: Service, @unchecked Sendable {
    public enum Mode: Sendable {
        /// Follow the configured sources forever (the daemon).
        case follow
        /// Read these files from their checkpoint (or start) to their end, then return (replay).
        case replay(paths: [String], format: SourceFormat)
    }

    public let name = "ingest"
    /// Ingest thread only (a reload's new configuration is handed over through `pendingConfig`).
    private var config: Config
    private let mode: Mode
    private let logger: Logger
    private let clock: @Sendable () -> Double
    public let waker: Waker
    public let stopSignal: StopSignal
    public let telemetry: Telemetry
    private let store: any IngestStore
    private let mailbox: EvaluationMailbox?
    private let pendingConfig = Mutex<Config?>(nil)
    /// Lasting faults are logged twice, then once a minute with a count (ingest thread only).
    private var repeats = RepeatLimiter()
    private var session: Session?
    private let stall: Bool
    /// Threads that parse and fold beside this one (nil: one core); tests set their own.
    var foldWorkers = FoldWorkers.automatic()
    /// Whether the next batch goes to the fold workers: the last one had enough lines per slot.
    private var foldsPay = true
    /// Below this many lines per model or pair in a batch, the workers' slots (made, then put
    /// together) cost more than the lines they fold beside this thread (1,000 models at 200k lines/s,
    /// about 20 lines each a batch, took 13 points of a core more with workers, for no gain).
    static let linesPerSlotForWorkers: Int64 = 64

    /// - Parameters:
    ///   - store: Redis (`RedisIngestStore` on `config.redis` when nil); tests pass a fake.
    ///   - telemetry: shared with the other services of the process.
    ///   - mailbox: where committed batches are announced to evaluation (none in replay).
    public init(config: Config, mode: Mode, logger: Logger, store: (any IngestStore)? = nil, telemetry: Telemetry = Telemetry(),
                mailbox: EvaluationMailbox? = nil, waker: Waker = Waker(), clock: @escaping @Sendable () -> Double = { wallClock() }) {
        self.config = config
        self.mode = mode
        self.logger = logger
        self.clock = clock
        self.store = store ?? RedisIngestStore(config: config)
        self.telemetry = telemetry
        self.mailbox = mailbox
        self.waker = waker
        self.stopSignal = StopSignal(waker: waker)
        self.stall = FaultInjection.stalls("ingest")
    }

    public var stats: IngestStats { telemetry.figures.ingest }

    public func stop() { stopSignal.stop() }

    private var follow: Bool { if case .follow = mode { return true } else { return false } }

    /// Reload: the new configuration, applied between two batches. Sources kept keep their files
    /// and positions; see `Tailer.update`. Only for changes `restartReasons` finds none in.
    public func apply(_ new: Config) {
        pendingConfig.withLock { $0 = new }
        waker.wake()
    }

    /// Settings a running ingest cannot take over (they name another store, or shape what is already
    /// open or in memory): a change of any of them restarts ingest from the checkpoints in Redis.
    public static func restartReasons(from old: Config, to new: Config) -> [String] {
        var out: [String] = []
        if old.hostID != new.hostID { out.append("host_id") }
        if old.redis != new.redis { out.append("redis") }
        if old.retention != new.retention { out.append("retention") }
        if old.ingest.maxLineBytes != new.ingest.maxLineBytes { out.append("ingest.max_line_bytes") }
        if old.ingest.maxModels != new.ingest.maxModels { out.append("ingest.max_models") }
        if old.ingest.maxDeployments != new.ingest.maxDeployments { out.append("ingest.max_deployments") }
        if old.ingest.modelTTL != new.ingest.modelTTL { out.append("ingest.model_ttl") }
        if old.ingest.maxErrorMessages != new.ingest.maxErrorMessages { out.append("ingest.max_error_messages") }
        return out
    }

    /// What the loop carries from one batch to the next.
    struct Session {
        var tailer: Tailer
        var parsers: [any LineParser]
        var policies: [FailurePolicy]
        var registry: ModelRegistry
        /// Patterns of the sources this host has started (a marker in Redis says so).
        var started: Set<String>
        /// Marker fields the next commit writes (sources started or removed).
        var markers: [String: String]
        var sampler = BadLineSampler(interval: 10)
        var lastSweep: Double
        var lastLease: Double
        var lastPrune = -Double.infinity
        /// The last poll left files unread (the budget ran out).
        var more = true
        /// A sweep ran this turn: look again at once.
        var swept = false
    }

    // MARK: - The loop

    /// Runs until stopped (follow) or until the files are read (replay). Throws only for problems a
    /// retry cannot fix (`IngestError`, a file that fails to read in replay...).
    public func run() throws {
        defer {
            waitForInflight()
            if follow { try? store.releaseLease() }
        }
        guard try prepare() else { return }
        while !stopSignal.isStopped, try turn() { waitForLines() }
        // A commit sent before the stop is tried, as every batch read is.
        _ = try land()
        try finish()
    }

    /// Takes the lease (follow), loads the checkpoints and opens the files; false when stopped first.
    func prepare() throws -> Bool {
        telemetry.beat(name)
        // The lease first: checkpoints read while another daemon of this host still ran would be stale.
        if follow, !(try holdLease()) { return false }
        guard let loaded = try loadState() else { return false }
        let sources: [TailSource]
        let formats: [SourceFormat]
        switch mode {
        case .follow:
            sources = config.sources.map { TailSource(pattern: $0.path, startAt: $0.startAt) }
            formats = config.sources.map(\.format)
        case let .replay(paths, format):
            try refuseFilesADaemonHolds(paths, loaded)
            sources = paths.map { TailSource(pattern: $0, startAt: .beginning) }
            formats = paths.map { _ in format }
        }
        // Sources this host started before: `start_at: end` does not apply to them again.
        let started = Set(loaded.markers.keys.filter { $0.hasPrefix(Self.sourceMarker) }.map { String($0.dropFirst(Self.sourceMarker.count)) })
        let tailer = try Tailer(sources: sources, maxLineBytes: config.ingest.maxLineBytes, checkpoints: loaded.checkpoints,
                                follow: follow, startedBefore: started, rotateWait: config.ingest.rotateWait, waker: waker, logger: logger)
        try tailer.rescan()
        telemetry.beat(name)
        if follow, let limit = FileSystem.openFileLimit(),
           let problem = FileSystem.openFileLimitProblem(files: tailer.openFiles, soft: limit.soft) {
            logger.warning("\(problem)")
        }
        // What Redis held when the checkpoints were read: a failover before this ingest's first
        // commit is seen as well.
        sequence = (loaded.markers[WindowStore.sequenceField].flatMap { Int64($0) } ?? 0, store.connections)
        foldWorkers?.use(formats, limits: config.ingest.limits)
        session = Session(tailer: tailer, parsers: formats.map { $0.makeParser(limits: config.ingest.limits) },
                          policies: formats.map(\.policy), registry: loaded.registry, started: started, markers: [:],
                          lastSweep: clock(), lastLease: clock())
        if follow { noteSources(config.sources.map(\.path)) }
        publishFiles()
        logger.info("ingest started", metadata: ["files": "\(tailer.openFiles)", "redis": "\(config.redis.location)",
                                                 "host_id": "\(config.hostID)"])
        telemetry.update { $0.ingestReady = true }
        return true
    }

    /// One turn: take a reload, read a batch, commit it, housekeeping (then `run` waits when all is read).
    /// False when done: replay read everything, or a stop came before the batch landed.
    ///
    /// With more to read at once (a backlog), a batch's commit is sent from the committer thread and
    /// the next batch is read meanwhile; it lands before the next commit is built (commits stay in
    /// order, one at a time) and before anything else uses the Redis connection.
    func turn() throws -> Bool {
        telemetry.beat(name)
        do {
            guard try applyPendingConfig() else { return false }
            let read = try readBatch(now: clock())
            guard try commitBatch(read, overlap: session!.more && !stopSignal.isStopped) else { return false }
            publishFiles()
            if stall { _ = stopSignal.sleep(1e6) }
            guard follow else { return session!.more || inflight != nil }
            return try housekeeping()
        } catch {
            // The connection is the committer's until it returns; what it did still counts, and a
            // failover it saw restarts ingest the documented way.
            try settleInflight()
            throw error
        }
    }

    /// The last words: what was left unread, and the totals.
    private func finish() throws {
        if !follow, let tailer = session?.tailer {
            if tailer.pendingBytes > 0 {
                logger.notice("left \(tailer.pendingBytes) bytes of an unfinished last line unread; a later replay or run reads it once complete")
            }
            if !tailer.notRead.isEmpty, !stopSignal.isStopped {
                logger.info("ingest stopped: \(stats.summary)")
                throw IngestError.filesNotRead(tailer.notRead)
            }
        }
        let f = telemetry.figures
        logger.info("ingest stopped: \(f.ingest.summary); time: \(f.stages.summary)")
    }

    static let sourceMarker = WindowStore.markerPrefix + "src:"

    /// Markers for sources started now, and for sources no longer configured (cleared).
    private func noteSources(_ patterns: [String]) {
        let now = String(Int64(clock()))
        for p in patterns where !session!.started.contains(p) {
            session!.markers[Self.sourceMarker + p] = now
            session!.started.insert(p)
        }
        for p in session!.started where !patterns.contains(p) {
            session!.markers[Self.sourceMarker + p] = ""
            session!.started.remove(p)
        }
    }

    /// A reload's configuration, between two batches: sources, formats and the settings that can
    /// change live. A commit in flight lands first (it was built with the old configuration and
    /// markers). False when stopped before it landed.
    private func applyPendingConfig() throws -> Bool {
        guard follow, let new = pendingConfig.withLock({ c in defer { c = nil }; return c }) else { return true }
        guard try land() else { return false }
        let reasons = Self.restartReasons(from: config, to: new)
        precondition(reasons.isEmpty, "needs a restart, not apply: \(reasons)")
        config = new
        try session!.tailer.update(sources: new.sources.map { TailSource(pattern: $0.path, startAt: $0.startAt) }, startedBefore: [])
        session!.tailer.rotateWait = new.ingest.rotateWait
        session!.parsers = new.sources.map { $0.format.makeParser(limits: new.ingest.limits) }
        foldWorkers?.use(new.sources.map(\.format), limits: new.ingest.limits)
        session!.policies = new.sources.map(\.format.policy)
        noteSources(new.sources.map(\.path))
        logger.info("ingest took the new configuration", metadata: ["sources": "\(new.sources.count)"])
        return true
    }

    /// Lease renewal, pruning, the sweep. False when stopped before a commit in flight landed.
    private func housekeeping() throws -> Bool {
        let leaseDue = clock() - session!.lastLease >= DaemonLease.renewEvery
        // The lease uses the connection, pruning the checkpoints: the commit in flight lands first.
        if leaseDue || clock() - session!.lastPrune >= 3600, !(try land()) { return false }
        if leaseDue {
            session!.lastLease = clock()
            // One try, never a wait: with Redis down the next commit reconnects.
            do {
                if let other = try store.acquireLease(now: clock()) { throw IngestError.leaseLost(holder: other.description) }
            } catch let error as RedisError {
                if error.needsNewConnection { store.disconnect() }  // broken: the next commit makes a new one
            }
        }
        if clock() - session!.lastPrune >= 3600 {
            // Checkpoints of files let go are kept until every line they could hold is past the retention.
            session!.lastPrune = clock()
            session!.tailer.pruneCheckpoints(before: Int64(clock()) - config.retention.hourBuckets - 86_400)
        }
        // A clock stepped back sweeps at once, rather than not for as long as it stepped.
        if clock() - session!.lastSweep >= config.ingest.sweepInterval || clock() < session!.lastSweep { try sweepNow(full: nil) }
        return true
    }

    /// The tailer's sweep (`full`: the whole glob too; nil: when it is due).
    func sweepNow(full: Bool? = true) throws {
        try session!.tailer.sweep(fullRescan: full, now: clock())
        session!.lastSweep = clock()
        session!.swept = true
    }

    /// Waits for lines when everything was read, until the next sweep (inotify wakes it sooner).
    private func waitForLines() {
        guard follow, let s = session, !s.more, !s.swept else {
            session?.swept = false
            return
        }
        // At least once an idle wait: the beat the watchdog looks for. The sweep's interval only
        // when it has files to look at between its full passes (inotify wakes this thread for the rest).
        let sweepDue = config.ingest.sweepInterval - (clock() - s.lastSweep)
        let idle = telemetry.idleWait
        waker.wait(timeout: s.tailer.sweepsOften ? min(idle, max(0.005, sweepDue)) : idle)
        // Lines that trickle in wait for `commit_interval` after the last commit, to go together.
        let gap = config.ingest.commitInterval - (monotonicSeconds() - lastCommit)
        if gap > 0 { _ = stopSignal.sleep(gap) }
    }

    /// When the last commit landed (monotonic seconds).
    private var lastCommit = -Double.infinity

    private func publishFiles() {
        guard let t = session?.tailer else { return }
        let files = Telemetry.Files(open: t.openFiles, watchedDirectories: t.watchedDirectories, unreadBytes: t.unreadBytes,
                                    rotations: t.counters.rotations, truncations: t.counters.truncations,
                                    opened: t.counters.filesOpened, closed: t.counters.filesClosed)
        telemetry.update { $0.files = files }
    }

    // MARK: - Steps

    private struct Loaded {
        var checkpoints: [String: String]
        var markers: [String: String]
        var registry: ModelRegistry
    }

    /// This host's checkpoints and markers, and the model registry; nil when stopped first.
    private func loadState() throws -> Loaded? {
        while true {
            guard connected() else { return nil }
            do {
                let (checkpoints, markers) = try store.loadCheckpoints()
                let models = try store.loadModels(now: Int64(clock())).mapValues(Double.init)
                return Loaded(checkpoints: checkpoints, markers: markers,
                              registry: ModelRegistry(capacity: config.ingest.maxModels, ttl: config.ingest.modelTTL, known: models,
                                                      deployments: config.ingest.maxDeployments))
            } catch {
                if let again = repeats.check("checkpoints", now: clock()) {
                    logger.warning("cannot read checkpoints from Redis: \(error); retrying\(again)")
                }
                if error.needsNewConnection { store.disconnect() }
                if rest(1) { return nil }
            }
        }
    }

    /// Takes this host's daemon lease, waiting while another live daemon holds it; false when stopped.
    private func holdLease() throws -> Bool {
        var told = false
        while !stopSignal.isStopped {
            guard connected() else { return false }
            do {
                guard let other = try store.acquireLease(now: clock()) else {
                    if told { logger.notice("the other aimon of this host_id is gone; starting") }
                    telemetry.problem(name, nil)
                    return true
                }
                let message = "another aimon run uses host_id '\(config.hostID)': \(other); waiting for it to stop "
                    + "(each daemon needs its own host_id: two on one would read each other's files)"
                if !told { logger.error("\(message)") }
                told = true
                telemetry.problem(name, message)
            } catch {
                if let again = repeats.check("lease", now: clock()) {
                    logger.warning("cannot take the daemon lease: \(error); retrying\(again)")
                }
                if error.needsNewConnection { store.disconnect() }
            }
            if rest(5) { return false }
        }
        return false
    }

    /// Replay: refuses files a running daemon of this host holds (both would count their lines).
    private func refuseFilesADaemonHolds(_ paths: [String], _ loaded: Loaded) throws {
        guard let holder = DaemonLease.holder(in: loaded.markers, now: clock()) else { return }
        var held: [String] = []
        for path in paths {
            guard let st = try? FileSystem.status(of: path) else { continue }
            let id = FileIdentity(device: st.device, inode: st.inode).key
            if let text = loaded.checkpoints[id], let cp = Checkpoint(encoded: text), cp.held { held.append(path) }
        }
        if !held.isEmpty { throw IngestError.heldByDaemon(paths: held, holder: holder.description) }
    }

    /// What one batch read.
    struct Read {
        var batch: WindowBatch
        var lines: Int64 = 0
        var overlong: Int64 = 0
        var skipped: Int64 = 0
        var bad: [ParseFailure: Int64] = [:]
    }

    /// Seconds of reading that close a batch early: while a long backlog is read, the daemon still
    /// commits, and so alerts, several times a second (replay, with no alert to wait for, less often).
    lazy var batchSeconds = follow ? 0.1 : 0.5

    /// Reads up to `batch_bytes` (or `batchSeconds`) into a batch. Lines are folded on the fold
    /// workers, chunk by chunk, when there are any and the batch fills a chunk; else, and for the last
    /// lines of a batch, here.
    private func readBatch(now: Double) throws -> Read {
        let started = monotonicSeconds()
        var lines = BatchLines(
            read: Read(batch: WindowBatch(retention: config.retention, limits: config.ingest.limits,
                                          maxErrorMessages: config.ingest.maxErrorMessages, prices: config.prices)),
            parsers: session!.parsers, registry: session!.registry, sampler: session!.sampler,
            workers: foldsPay ? foldWorkers : nil, policies: session!.policies, limits: config.ingest.limits, now: now,
            maxLineBytes: config.ingest.maxLineBytes, logger: logger)
        defer { session!.registry = lines.registry; session!.sampler = lines.sampler }
        do {
            session!.more = try session!.tailer.poll(maxBytes: config.ingest.batchBytes, maxSeconds: batchSeconds) { file, event, end in
                lines.take(file, event, end: end)
            }
        } catch {
            lines.abandon()
            throw error
        }
        lines.finish()
        // Workers pay when a batch has many lines for each of its models and pairs: each worker's
        // batch has a slot for every one of them, put together with the others once per batch.
        foldsPay = lines.read.lines >= Self.linesPerSlotForWorkers * Int64(max(1, lines.read.batch.slotCount))
        let total = monotonicSeconds() - started
        let scale = Double(Telemetry.Stages.sampleEvery)
        let timing = lines.timing, workersTiming = lines.workersTiming, waited = lines.waited
        telemetry.update { f in
            // Seconds of work by stage (the workers' and the committer's beside this thread's):
            // reading is what this thread spent on neither parsing, folding nor waiting.
            let parse = timing.parse * scale, fold = timing.fold * scale
            f.stages.parse += parse + workersTiming.parse * scale
            f.stages.fold += fold + workersTiming.fold * scale
            f.stages.read += max(0, total - parse - fold - waited)
        }
        return lines.read
    }

    /// A commit sent from the committer thread, not yet landed.
    private final class Inflight: @unchecked Sendable {
        let read: Read
        let commit: WindowStore.Commit
        let sinkTotals: [String: Int64]
        /// Seconds the commit took on the committer (set with `result`).
        var seconds = 0.0
        let notice: Notice
        let done = DispatchSemaphore(value: 0)
        /// Set on the committer thread before `done` is signalled.
        var result: Result<WindowStore.Outcome?, any Error> = .success(nil)
        init(read: Read, commit: WindowStore.Commit, sinkTotals: [String: Int64], notice: Notice) {
            self.notice = notice
            self.read = read
            self.commit = commit
            self.sinkTotals = sinkTotals
        }
    }

    private var inflight: Inflight?
    private let committer = JobThread(name: "aimon-commit")

    /// Waits for the commit in flight and takes its outcome: false when stopped before it landed.
    private func land() throws -> Bool {
        guard let job = inflight else { return true }
        job.done.wait()
        inflight = nil
        return try landed(job.read, job.commit, try outcome(job.result.get), seconds: job.seconds, sinkTotals: job.sinkTotals)
    }

    /// When the run ends: waits for the committer (it uses the connection).
    private func waitForInflight() {
        inflight?.done.wait()
        inflight = nil
    }

    /// After an error in a turn: waits for the committer and takes what it did into account (the
    /// figures of a commit that landed; a failover or a conflict it found is thrown instead).
    private func settleInflight() throws {
        guard let job = inflight else { return }
        job.done.wait()
        inflight = nil
        switch job.result {
        case let .failure(behind as BehindSeen): throw redisBehind(behind.mine, behind.redis)
        case let .success(outcome?): _ = try landed(job.read, job.commit, outcome, seconds: job.seconds, sinkTotals: job.sinkTotals)
        default: break
        }
    }

    /// Commits what was read with the checkpoints it moved (nothing to do when no checkpoint moved:
    /// then no line was read either). False when stopped before it landed. `overlap`: sent from the
    /// committer thread, landed by the next call (or `land`).
    private func commitBatch(_ read: Read, overlap: Bool = false) throws -> Bool {
        guard try land() else { return false }
        let now = clock()
        let changes = try session!.tailer.pendingChanges(now: Int64(now))
        guard !changes.isEmpty || !session!.markers.isEmpty else { return true }
        var counters: [String: Int64] = ["lines": read.lines, "overlong": read.overlong, "skipped": read.skipped]
        for (reason, n) in read.bad { counters[reason.rawValue] = n }  // named as in the log (HostIngestStatus)
        var sinkTotals: [String: Int64] = [:]
        if !changes.isEmpty {  // counters ride only on commits that can tell whether they landed
            let f = telemetry.figures
            for (name, total) in f.publishedSinkCounters {
                counters[name] = total - (f.sinkCountersCommitted[name] ?? 0)
                sinkTotals[name] = total
            }
        }
        let commit = WindowStore.Commit(batch: read.batch, changes: changes, counters: counters, markers: session!.markers, now: Int64(now))
        let notice = Notice(read.batch, deployments: config.alerts.evaluatesDeployments)
        if overlap {
            let job = Inflight(read: read, commit: commit, sinkTotals: sinkTotals, notice: notice)
            session!.tailer.sent(changes)
            inflight = job
            committer.run { [self] in
                let started = monotonicSeconds()
                job.result = Result { try commitWithRetry(commit) }
                job.seconds = monotonicSeconds() - started
                // Evaluation hears of it at once, not when the next batch has been read.
                if case let .success(outcome?) = job.result { tell(notice, outcome) }
                job.done.signal()
            }
            return true
        }
        let started = monotonicSeconds()
        let result = try outcome { try commitWithRetry(commit) }
        let seconds = monotonicSeconds() - started
        if let result { tell(notice, result) }
        return try landed(read, commit, result, seconds: seconds, sinkTotals: sinkTotals)
    }

    /// What evaluation is told of a batch: the models it touched (pairs too when a rule judges
    /// deployments), and those with failures (evaluated first).
    private struct Notice: Sendable {
        var touched: Set<String>
        var failing: Set<String>
        init(_ batch: WindowBatch, deployments: Bool) {
            // Pairs too when a rule judges deployments: their alerts then come after the batch, not
            // only with the timer.
            let pairs = deployments ? Set(batch.deployments.values.joined()) : []
            touched = batch.models.union(pairs)
            failing = Set(batch.runs.filter { $0.value.lastFailure != nil }.keys).intersection(touched)
        }
    }

    /// Tells evaluation of a commit that applied or had landed (any thread: the mailbox is shared).
    private func tell(_ notice: Notice, _ outcome: WindowStore.Outcome) {
        var runs: [String: RunsEnded] = [:]
        switch outcome {
        case let .applied(r, _, _, _): runs = r
        case .landed: break
        case .conflict: return
        }
        // Failures, and runs of them ended: evaluated ahead of models that only had successes.
        let ended = Set(runs.filter { $0.value.ended.length > 0 || $0.value.inside > 0 }.keys).intersection(notice.touched)
        mailbox?.post(runs: runs, touched: notice.touched, urgent: notice.failing.union(ended))
    }

    /// The committer's answer, with a failover seen turned into the ingest restart (on this thread:
    /// it reads the tailer).
    private func outcome(_ body: () throws -> WindowStore.Outcome?) throws -> WindowStore.Outcome? {
        do { return try body() } catch let behind as BehindSeen { throw redisBehind(behind.mine, behind.redis) }
    }

    /// What follows a commit's outcome: the checkpoints it moved, the alerts it may raise, the
    /// figures. False when it did not land (stopped first).
    private func landed(_ read: Read, _ commit: WindowStore.Commit, _ outcome: WindowStore.Outcome?, seconds: Double,
                        sinkTotals: [String: Int64]) throws -> Bool {
        let changes = commit.changes
        guard let outcome else { return false }
        switch outcome {
        case let .applied(_, saturated, repaired, seq):
            sequence = (seq, store.connections)
            if saturated > 0 || repaired > 0 {
                logger.warning("""
                    Redis sums held at the Int64 edge (\(saturated)) or replaced because they held no integer (\(repaired)): \
                    some totals of this batch's buckets are wrong
                    """)
            }
        case let .landed(seq):
            sequence = (seq, store.connections)
            // The runs it ended are lost to the engine; runs still in progress are in Redis.
            logger.notice("the batch had landed before the connection broke; it was not applied again")
        case let .conflict(id, found):
            throw IngestError.conflict(id: id, found: found)
        }
        session!.tailer.committed(changes)
        session!.markers = [:]
        lastCommit = monotonicSeconds()
        var calls: [String: BucketCounts] = [:]
        for (key, counts) in read.batch.hour {
            guard let model = key.model, !Deployment.isPair(model) else { continue }
            calls[ModelRegistry.label(model), default: BucketCounts()].merge(counts)
        }
        telemetry.update { f in
            for (name, total) in sinkTotals { f.sinkCountersCommitted[name] = total }
            for (model, c) in calls { f.calls[model, default: BucketCounts()].merge(c) }
            f.stages.commit += seconds
            f.ingest.lines += read.lines
            f.ingest.records += Int64(read.batch.records)
            f.ingest.lateRecords += Int64(read.batch.late)
            f.ingest.overlongLines += read.overlong
            f.ingest.skippedLines += read.skipped
            for (reason, n) in read.bad { f.ingest.badLines[reason, default: 0] += n }
            f.ingest.batchesCommitted += 1
            if case let .applied(_, saturated, repaired, _) = outcome { f.ingest.saturated += saturated + repaired }
            if store.replicasShort { f.ingest.replicasShort += 1 }
        }
        return true
    }

    // MARK: - Redis

    /// Sleeps up to `seconds`, beating for the watchdog each second (waiting on purpose is not being
    /// stuck); true when a stop was asked.
    private func rest(_ seconds: Double) -> Bool {
        var left = seconds
        while left > 0 {
            telemetry.beat(name)
            if stopSignal.sleep(min(1, left)) { return true }
            left -= 1
        }
        return stopSignal.isStopped
    }

    /// Connected to Redis, connecting again (with backoff) when the connection was lost; false when
    /// stopped first.
    private func connected() -> Bool {
        if store.isConnected { return true }
        var backoff = Backoff()
        var warned = false
        while !stopSignal.isStopped {
            if store.isConnected { return true }
            do {
                try store.connect()
                if warned { logger.notice("Redis is back; catching up", metadata: ["redis": "\(config.redis.location)"]) }
                telemetry.update { $0.ingest.redisConnected = true }
                telemetry.problem(name, nil)
                return true
            } catch {
                telemetry.update { $0.ingest.redisConnected = false }
                let auth = error.kind == .authentication
                if !warned {
                    if auth { logger.error("\(error); reading paused, retrying until Redis accepts aimon") }
                    else { logger.error("Redis unreachable, reading paused until it answers: \(error)") }
                    warned = true
                }
                telemetry.problem(name, auth ? "Redis refuses aimon's credentials (redis.url): reading paused, retrying"
                                  : "Redis unreachable (\(config.redis.location)): reading paused, retrying")
                if rest(backoff.next()) { return false }
            }
        }
        return false
    }

    /// Commits, surviving lost connections and refusals: the same commit is sent until Redis answers
    /// it, and being conditional it applies once whatever happened to the earlier tries (a reply lost,
    /// a late write from a connection that timed out). Tried once even when a stop was asked (what
    /// was read is committed); nil when stopped before it landed.
    private func commitWithRetry(_ commit: WindowStore.Commit) throws -> WindowStore.Outcome? {
        var backoff = Backoff()
        var lastRefusal = ""
        var tries = 0
        while tries == 0 || !stopSignal.isStopped {
            tries += 1
            guard connected() else { return nil }
            var behind: (mine: Int64, redis: Int64)?
            do {
                // A new connection may reach another Redis (a failover): first, does it hold every
                // commit this process made?
                if let (mine, checkedOn) = sequence, checkedOn != store.connections {
                    let theirs = try store.commitSequence()
                    sequence = (mine, store.connections)
                    if theirs < mine { behind = (mine, theirs) }
                }
                if behind == nil {
                    let outcome = try store.commit(commit)
                    repeats.clear("commit")
                    if !lastRefusal.isEmpty {
                        logger.notice("Redis takes batches again; reading resumes")
                        telemetry.problem(name, nil)
                    }
                    return outcome
                }
            } catch {
                telemetry.update { $0.ingest.commitRetries += 1 }
                switch error.kind {
                case .io, .connection:
                    if let again = repeats.check("commit", now: clock()) {
                        logger.error("Redis connection lost during a commit; sending it again (it applies only if it did not land): \(error)\(again)")
                    }
                    // Closed before anything else: nothing more can arrive on it.
                    store.disconnect()
                    telemetry.update { $0.ingest.redisConnected = false }
                default:
                    if error.message != lastRefusal {
                        logger.error("Redis refused a batch; retrying, reading paused: \(error)")
                        lastRefusal = error.message
                    }
                    telemetry.problem(name, "Redis refuses batches: \(error.message)")
                    if error.needsNewConnection { store.disconnect() }
                }
                if rest(backoff.next()) { return nil }
                continue
            }
            if let behind { throw BehindSeen(mine: behind.mine, redis: behind.redis) }
        }
        return nil
    }

    /// Redis holds fewer of this host's commits than this process made (`redisBehind`).
    private struct BehindSeen: Error { let mine: Int64, redis: Int64 }

    /// This host's commit sequence after this process's last commit, and the connection (count)
    /// on which Redis was last seen to hold it.
    private var sequence: (Int64, Int)?

    /// Redis lost this process's last commits: what they covered is counted (read again, or lost)
    /// and ingest stops, to start again from Redis's checkpoints (Daemon.swift restarts it).
    private func redisBehind(_ mine: Int64, _ theirs: Int64) -> IngestError {
        var report = BehindReport()
        if let tailer = session?.tailer {
            do { report = tailer.behind(redis: try store.loadCheckpoints().checkpoints) } catch {
                report.uncounted = "Redis's checkpoints could not be read to count them: \(error)"
            }
        }
        telemetry.update { f in
            f.ingest.rewinds += 1
            f.ingest.linesReadAgain += report.linesReadAgain
            f.ingest.linesLost += report.linesLost
            f.ingest.bytesLost += report.bytesLost
        }
        if report.linesLost > 0 || report.bytesLost > 0 {
            telemetry.problem(name, "a Redis failover lost commits whose files are gone: \(report.linesLost) lines lost")
        }
        return IngestError.redisBehind(mine: mine, redis: theirs, report: report)
    }
}
