import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why ingest stopped, when a retry cannot help.
public enum IngestError: Error, CustomStringConvertible {
    /// A checkpoint held neither what this process expected nor what it wrote: another process reads
    /// the same file for this host. Nothing of the batch was applied.
    case conflict(id: String, found: String)
    /// Replay: files a running `aimon run` of this host holds.
    case heldByDaemon(paths: [String], holder: String)
    /// Another daemon took this host's lease (this one stalled past it).
    case leaseLost(holder: String)
    /// Replay: files that could not be read (the others were counted).
    case filesNotRead([(path: String, reason: String)])

    public var description: String {
        switch self {
        case let .conflict(id, found):
            return "another aimon process moved the checkpoint of file \(id) (found '\(found)'): give each daemon its own host_id, "
                + "and do not replay a file a daemon of this host reads; nothing was counted twice"
        case let .heldByDaemon(paths, holder):
            return "a running aimon of this host_id (\(holder)) reads \(paths.joined(separator: ", ")); it counts those lines "
                + "already, so they are not replayed (stop it first to replay them)"
        case let .leaseLost(holder):
            return "another aimon run took this host_id's lease: \(holder); each daemon needs its own host_id"
        case let .filesNotRead(files):
            return "\(files.count) file(s) not read (the others were counted; replay these again once readable):\n"
                + files.map { "  \($0.path): \($0.reason)" }.joined(separator: "\n")
        }
    }
}

/// The data path of DESIGN.md on one thread: tailer -> splitter -> parser -> batch -> one conditional
/// Redis commit per batch (window deltas + checkpoints), and again.
///
/// Blocking by design: while Redis is unreachable the loop retries the same batch and reads nothing
/// more, so memory stays bounded and nothing is skipped. Stopping between commits loses nothing: the
/// next start resumes from the checkpoints in Redis.
public final class IngestPipeline: @unchecked Sendable {
    public enum Mode: Sendable {
        /// Follow the configured sources forever (the daemon).
        case follow
        /// Read these files from their checkpoint (or start) to their end, then return (replay).
        case replay(paths: [String], format: SourceFormat)
    }

    private let config: Config
    private let mode: Mode
    private let logger: Logger
    private let clock: @Sendable () -> Double
    public let waker = Waker()
    public let stopSignal: StopSignal
    private let statsBox = Mutex(IngestStats())
    private let store: WindowStore
    private let alertSinks: [any AlertSink]
    private let notifier: ServiceNotifier?
    /// The pipeline's one connection (ingest thread only); nil while Redis is lost.
    private var redis: RedisConnection?
    private let lease: DaemonLease
    /// Lasting faults are logged twice, then once a minute with a count (ingest thread only).
    private var repeats = RepeatLimiter()

    /// `alertSinks` receive alert transitions; with none (replay), no rule is evaluated.
    /// `notifier` speaks systemd's notify protocol (daemon only).
    public init(config: Config, mode: Mode, logger: Logger, alertSinks: [any AlertSink] = [], notifier: ServiceNotifier? = nil,
                clock: @escaping @Sendable () -> Double = { wallClock() }) {
        self.notifier = notifier
        self.config = config
        self.mode = mode
        self.logger = logger
        self.clock = clock
        self.alertSinks = alertSinks
        self.stopSignal = StopSignal(waker: waker)
        self.store = WindowStore(keys: config.keys, retention: config.retention, host: config.hostID,
                                 maxErrorMessages: config.ingest.maxErrorMessages, modelTTL: Int64(config.ingest.modelTTL))
        self.lease = DaemonLease(key: config.keys.checkpoints(host: config.hostID))
    }

    public var stats: IngestStats { statsBox.withLock { $0 } }

    public func stop() { stopSignal.stop() }

    private var follow: Bool { if case .follow = mode { return true } else { return false } }

    /// What the loop carries from one batch to the next.
    private struct State {
        var registry: ModelRegistry
        /// Marker fields the next commit writes (sources started).
        var markers: [String: String]
        var sampler = BadLineSampler(interval: 10)
        /// Sink counters already published, by name.
        var sinkCounters: [String: Int64] = [:]
        var lastSweep: Double
        var lastLease: Double
        var lastPrune = -Double.infinity
    }

    /// Runs until stopped (follow) or until the files are read (replay). Throws only for problems a
    /// retry cannot fix (`IngestError`, a file that fails to read in replay...).
    public func run() throws {
        defer { if follow, let redis { try? lease.release(on: redis) } }
        // The lease first: checkpoints read while another daemon of this host still ran would be stale.
        if follow, !(try holdLease()) { return }
        guard let loaded = try loadState() else { return }
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
        var markers: [String: String] = [:]
        if follow {
            let now = String(Int64(clock()))
            for s in sources where !started.contains(s.pattern) { markers[Self.sourceMarker + s.pattern] = now }
            for p in started where !sources.contains(where: { $0.pattern == p }) { markers[Self.sourceMarker + p] = "" }
        }
        let parsers = formats.map { $0.makeParser(limits: config.ingest.limits) }
        let policies = formats.map(\.policy)
        let tailer = try Tailer(sources: sources, maxLineBytes: config.ingest.maxLineBytes, checkpoints: loaded.checkpoints,
                                follow: follow, startedBefore: started, rotateWait: config.ingest.rotateWait, waker: waker, logger: logger)
        try tailer.rescan()
        if follow, let limit = FileSystem.openFileLimit(),
           let problem = FileSystem.openFileLimitProblem(files: tailer.openFiles, soft: limit.soft) {
            logger.warning("\(problem)")
        }
        logger.info("ingest started", metadata: ["files": "\(tailer.openFiles)", "redis": "\(config.redis.url)",
                                                 "host_id": "\(config.hostID)"])
        var state = State(registry: loaded.registry, markers: markers, lastSweep: clock(), lastLease: clock())
        var rate = (at: clock(), lines: Int64(0), perSecond: 0.0)
        var lastAlert: String?
        func statusLine() -> String {
            let s = stats
            var text = "tailing \(tailer.openFiles) files, \(Int(rate.perSecond.rounded())) lines/s, \(tailer.unreadBytes) bytes unread, "
                + "Redis \(s.redisConnected ? "ok" : "unreachable"), \(s.lines) lines so far"
            if s.badTotal > 0 { text += ", \(s.badTotal) bad (\(s.topBadReasons))" }
            for trouble in alertSinks.compactMap(\.trouble) { text += ", " + trouble }
            return text + ", last alert: \(lastAlert ?? "none")"
        }
        // Only under systemd: the figures cost little, but nothing at all when nobody listens.
        let notifier = self.notifier.flatMap { $0.isActive ? $0 : nil }
        notifier?.ready(status: statusLine())
        var lastStatusCheck = clock()
        let alerts = alertSinks.isEmpty ? nil : AlertEvaluator(config: config.alerts, keys: config.keys, retention: config.retention,
                                                                sinks: alertSinks, logger: logger)

        while !stopSignal.isStopped {
            let now = clock()
            if let notifier {
                notifier.watchdog(now: now)
                if now - rate.at >= 5 {
                    let lines = stats.lines
                    rate = (now, lines, Double(lines - rate.lines) / (now - rate.at))
                }
                if now - lastStatusCheck >= 1 {
                    lastStatusCheck = now
                    lastAlert = alerts?.stats.lastAlert ?? lastAlert
                    notifier.status(statusLine(), now: now)
                }
            }
            let (read, more) = try readBatch(tailer, parsers: parsers, policies: policies, state: &state, now: now)
            guard try commitBatch(read, tailer: tailer, state: &state, alerts: alerts) else { return }
            if !follow {
                if !more { break }
                continue
            }
            if let alerts {
                do {
                    guard let redis = connection() else { break }
                    try alerts.evaluateIfDue(on: redis, now: clock())
                    repeats.clear("evaluate")
                } catch {
                    if let again = repeats.check("evaluate", now: clock()) {
                        logger.error("cannot evaluate alert rules: \(error); retrying\(again)")
                    }
                    // A quiet log may bring no commit to reconnect: the next turn does it.
                    if error.needsNewConnection { redis = nil }
                }
            }
            if clock() - state.lastLease >= DaemonLease.renewEvery {
                state.lastLease = clock()
                if let redis = connection(), let other = try? lease.acquire(now: clock(), on: redis) {
                    throw IngestError.leaseLost(holder: other.description)
                }
            }
            if clock() - state.lastPrune >= 3600 {
                // Checkpoints of files let go are kept until every line they could hold is past the retention.
                state.lastPrune = clock()
                tailer.pruneCheckpoints(before: Int64(clock()) - config.retention.hourBuckets - 86_400)
            }
            if clock() - state.lastSweep >= config.ingest.sweepInterval {
                try tailer.sweep(now: clock())
                state.lastSweep = clock()
                continue
            }
            if !more {
                var timeout = config.ingest.sweepInterval - (clock() - state.lastSweep)
                if let alerts { timeout = min(timeout, alerts.dueIn(now: clock())) }
                waker.wait(timeout: max(0.005, timeout))
            }
        }
        if !follow, tailer.pendingBytes > 0 {
            logger.notice("left \(tailer.pendingBytes) bytes of an unfinished last line unread; a later replay or run reads it once complete")
        }
        if !follow, !tailer.notRead.isEmpty, !stopSignal.isStopped {
            logger.info("ingest stopped: \(stats.summary)")
            throw IngestError.filesNotRead(tailer.notRead)
        }
        var summary = stats.summary
        if let alerts {
            summary += "; alerts: \(alerts.stats.evaluations) evaluations, \(alerts.stats.transitions) transitions"
                + (alerts.stats.conflicts > 0 ? ", \(alerts.stats.conflicts) left to another aimon process" : "")
        }
        logger.info("ingest stopped: \(summary)")
    }

    static let sourceMarker = WindowStore.markerPrefix + "src:"

    // MARK: - Steps

    private struct Loaded {
        var checkpoints: [String: String]
        var markers: [String: String]
        var registry: ModelRegistry
    }

    /// This host's checkpoints and markers, and the model registry; nil when stopped first.
    private func loadState() throws -> Loaded? {
        while true {
            guard let redis = connection() else { return nil }
            do {
                let (checkpoints, markers) = try store.loadCheckpoints(on: redis)
                let now = clock()
                let models = try store.loadModels(now: Int64(now), on: redis).mapValues(Double.init)
                return Loaded(checkpoints: checkpoints, markers: markers,
                              registry: ModelRegistry(capacity: config.ingest.maxModels, ttl: config.ingest.modelTTL, known: models))
            } catch {
                if let again = repeats.check("checkpoints", now: clock()) {
                    logger.warning("cannot read checkpoints from Redis: \(error); retrying\(again)")
                }
                if error.needsNewConnection { self.redis = nil }
                if stopSignal.sleep(1) { return nil }
            }
        }
    }

    /// Takes this host's daemon lease, waiting while another live daemon holds it; false when stopped.
    private func holdLease() throws -> Bool {
        var told = false
        while !stopSignal.isStopped {
            guard let redis = connection() else { return false }
            do {
                guard let other = try lease.acquire(now: clock(), on: redis) else {
                    if told { logger.notice("the other aimon of this host_id is gone; starting") }
                    return true
                }
                let message = "another aimon run uses host_id '\(config.hostID)': \(other); waiting for it to stop "
                    + "(each daemon needs its own host_id: two on one would read each other's files)"
                if !told { logger.error("\(message)") }
                told = true
                notifier?.watchdog(now: clock())
                notifier?.status(message, now: clock(), interval: 0)
            } catch {
                if let again = repeats.check("lease", now: clock()) {
                    logger.warning("cannot take the daemon lease: \(error); retrying\(again)")
                }
                if error.needsNewConnection { self.redis = nil }
            }
            if stopSignal.sleep(5) { return false }
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
    private struct Read {
        var batch: WindowBatch
        var lines: Int64 = 0
        var overlong: Int64 = 0
        var skipped: Int64 = 0
        var bad: [ParseFailure: Int64] = [:]
    }

    /// Reads up to `batch_bytes` into a batch. `more`: the budget ran out before every file was read.
    private func readBatch(_ tailer: Tailer, parsers: [any LineParser], policies: [FailurePolicy], state: inout State,
                           now: Double) throws -> (Read, more: Bool) {
        var read = Read(batch: WindowBatch(retention: config.retention, limits: config.ingest.limits,
                                           maxErrorMessages: config.ingest.maxErrorMessages))
        let more = try tailer.poll(maxBytes: config.ingest.batchBytes) { file, event, end in
            switch event {
            case let .line(bytes):
                read.lines += 1
                do throws(ParseFailure) {
                    let call = try parsers[file.sourceIndex].parse(bytes)
                    let late = read.batch.late
                    try read.batch.add(call, policy: policies[file.sourceIndex], registry: &state.registry, now: now)
                    if read.batch.late > late, state.sampler.shouldLog("late", now: now) {
                        logger.notice("dropping a line older than retention.hour_buckets (late); further ones are counted and sampled",
                                      metadata: ["path": "\(file.path)", "end_offset": "\(end)", "line": "\(BadLineSampler.preview(bytes))"])
                    }
                } catch where error == .notACall {
                    read.skipped += 1
                } catch {
                    read.bad[error, default: 0] += 1
                    if state.sampler.shouldLog(error.rawValue, now: now) {
                        logger.warning("skipping a bad line (\(error.rawValue)); further ones are counted and sampled",
                                       metadata: ["path": "\(file.path)", "end_offset": "\(end)", "line": "\(BadLineSampler.preview(bytes))"])
                    }
                }
            case .overlong:
                read.overlong += 1
                if state.sampler.shouldLog("overlong", now: now) {
                    logger.warning("skipping a line over max_line_bytes (\(config.ingest.maxLineBytes)); further ones are counted and sampled",
                                   metadata: ["path": "\(file.path)", "end_offset": "\(end)"])
                }
            }
        }
        return (read, more)
    }

    /// Commits what was read with the checkpoints it moved (nothing to do when no checkpoint moved:
    /// then no line was read either). False when stopped before it landed.
    private func commitBatch(_ read: Read, tailer: Tailer, state: inout State, alerts: AlertEvaluator?) throws -> Bool {
        let now = clock()
        let changes = try tailer.pendingChanges(now: Int64(now))
        guard !changes.isEmpty || !state.markers.isEmpty else { return true }
        var counters: [String: Int64] = ["lines": read.lines, "overlong": read.overlong, "skipped": read.skipped]
        for (reason, n) in read.bad { counters[reason.rawValue] = n }  // named as in the log (HostIngestStatus)
        var sinkTotals: [String: Int64] = [:]
        if !changes.isEmpty {  // counters ride only on commits that can tell whether they landed
            for sink in alertSinks {
                for (name, total) in sink.counters {
                    counters[name] = total - (state.sinkCounters[name] ?? 0)
                    sinkTotals[name] = total
                }
            }
        }
        let commit = WindowStore.Commit(batch: read.batch, changes: changes, counters: counters, markers: state.markers, now: Int64(now))
        guard let outcome = try commitWithRetry(commit) else { return false }
        var runs: [String: RunsEnded] = [:]
        switch outcome {
        case let .applied(r, saturated, repaired):
            runs = r
            if saturated > 0 || repaired > 0 {
                logger.warning("""
                    Redis sums held at the Int64 edge (\(saturated)) or replaced because they held no integer (\(repaired)): \
                    some totals of this batch's buckets are wrong
                    """)
            }
        case .landed:
            // The runs it ended are lost to the engine; runs still in progress are in Redis.
            logger.notice("the batch had landed before the connection broke; it was not applied again")
        case let .conflict(id, found):
            throw IngestError.conflict(id: id, found: found)
        }
        tailer.committed(changes)
        state.markers = [:]
        for (name, total) in sinkTotals { state.sinkCounters[name] = total }
        alerts?.noteBatch(runs, touched: read.batch.models)
        statsBox.withLock { s in
            s.lines += read.lines
            s.records += Int64(read.batch.records)
            s.lateRecords += Int64(read.batch.late)
            s.overlongLines += read.overlong
            s.skippedLines += read.skipped
            for (reason, n) in read.bad { s.badLines[reason, default: 0] += n }
            s.batchesCommitted += 1
            if case let .applied(_, saturated, repaired) = outcome { s.saturated += saturated + repaired }
        }
        return true
    }

    // MARK: - Redis

    /// The connection, made again (with backoff) when it was lost; nil when stopped first.
    private func connection() -> RedisConnection? {
        if let redis { return redis }
        redis = connect()
        return redis
    }

    /// Connects, retrying with backoff until Redis answers or a stop is asked (then nil).
    private func connect() -> RedisConnection? {
        var backoff = Backoff()
        var warned = false
        while !stopSignal.isStopped {
            do {
                let r = try RedisConnection(url: config.redis.url, timeout: config.redis.timeout)
                if warned { logger.notice("Redis is back; catching up", metadata: ["redis": "\(config.redis.url)"]) }
                statsBox.withLock { $0.redisConnected = true }
                return r
            } catch {
                statsBox.withLock { $0.redisConnected = false }
                let auth = error.kind == .authentication
                if !warned {
                    if auth { logger.error("\(error); reading paused, retrying until Redis accepts aimon") }
                    else { logger.error("Redis unreachable, reading paused until it answers: \(error)") }
                    warned = true
                }
                // Waiting for Redis is not being stuck: keep the watchdog fed, and say why in STATUS.
                notifier?.watchdog(now: clock())
                notifier?.status(auth ? "Redis refuses aimon's credentials (redis.url): reading paused, retrying"
                                 : "Redis unreachable (\(config.redis.url)): reading paused, retrying", now: clock(), interval: 0)
                if stopSignal.sleep(backoff.next()) { return nil }
            }
        }
        return nil
    }

    /// Commits, surviving lost connections and refusals: the same commit is sent until Redis answers
    /// it, and being conditional it applies once whatever happened to the earlier tries (a reply lost,
    /// a late write from a connection that timed out). nil when stopped first.
    private func commitWithRetry(_ commit: WindowStore.Commit) throws -> WindowStore.Outcome? {
        var backoff = Backoff()
        var lastRefusal = ""
        while !stopSignal.isStopped {
            guard let redis = connection() else { return nil }
            do {
                let outcome = try store.commit(commit, on: redis)
                repeats.clear("commit")
                if !lastRefusal.isEmpty { logger.notice("Redis takes batches again; reading resumes") }
                return outcome
            } catch {
                notifier?.watchdog(now: clock())
                statsBox.withLock { $0.commitRetries += 1 }
                switch error.kind {
                case .io, .connection:
                    if let again = repeats.check("commit", now: clock()) {
                        logger.error("Redis connection lost during a commit; sending it again (it applies only if it did not land): \(error)\(again)")
                    }
                    // Closed before anything else: nothing more can arrive on it.
                    self.redis = nil
                default:
                    if error.message != lastRefusal {
                        logger.error("Redis refused a batch; retrying, reading paused: \(error)")
                        lastRefusal = error.message
                    }
                    notifier?.status("Redis refuses batches: \(error.message)", now: clock(), interval: 0)
                    if error.needsNewConnection { self.redis = nil }
                }
                if stopSignal.sleep(backoff.next()) { return nil }
            }
        }
        return nil
    }
}

/// Seconds since the epoch, from the real-time clock.
public func wallClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Logs at most one sample of each kind of skipped line (a parse failure, or "overlong") per interval.
struct BadLineSampler {
    let interval: Double
    private var last: [String: Double] = [:]

    init(interval: Double) { self.interval = interval }

    mutating func shouldLog(_ reason: String, now: Double) -> Bool {
        if let t = last[reason], now - t < interval { return false }
        last[reason] = now
        return true
    }

    /// The line's first 160 bytes, with control and non-UTF-8 bytes escaped.
    static func preview(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out = ""
        for b in bytes.prefix(160) {
            if b >= 0x20 && b < 0x7F { out.unicodeScalars.append(Unicode.Scalar(b)) }
            else { out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16) }
        }
        return bytes.count > 160 ? out + "..." : out
    }
}
