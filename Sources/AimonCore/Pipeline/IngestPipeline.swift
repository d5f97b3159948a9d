import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The data path of DESIGN.md on one thread: tailer -> splitter -> parser -> batch -> one Redis
/// transaction per batch (window deltas + checkpoints), and again.
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
        self.store = WindowStore(keys: config.keys, retention: config.retention, host: config.hostID)
    }

    public var stats: IngestStats { statsBox.withLock { $0 } }

    public func stop() { stopSignal.stop() }

    /// Runs until stopped (follow) or until the files are read (replay). Throws only for problems a
    /// retry cannot fix (an unreadable file in replay...).
    public func run() throws {
        guard var redis = connect() else { return }
        var checkpoints: [String: Checkpoint] = [:]
        var registry = ModelRegistry(capacity: config.ingest.maxModels)
        while true {
            do {
                checkpoints = try store.loadCheckpoints(on: redis)
                registry = ModelRegistry(capacity: config.ingest.maxModels, known: try store.loadModels(on: redis))
                break
            } catch {
                logger.warning("cannot read checkpoints from Redis: \(error); retrying")
                if stopSignal.sleep(1) { return }
                guard let r = connect() else { return }
                redis = r
            }
        }
        let sources: [TailSource]
        let formats: [SourceFormat]
        let follow: Bool
        switch mode {
        case .follow:
            sources = config.sources.map { TailSource(pattern: $0.path, startAt: $0.startAt) }
            formats = config.sources.map(\.format)
            follow = true
        case let .replay(paths, format):
            sources = paths.map { TailSource(pattern: $0, startAt: .beginning) }
            formats = paths.map { _ in format }
            follow = false
        }
        let parsers = formats.map { $0.makeParser(limits: config.ingest.limits) }
        let policies = formats.map(\.policy)
        let tailer = try Tailer(sources: sources, maxLineBytes: config.ingest.maxLineBytes, checkpoints: checkpoints,
                                follow: follow, waker: waker, logger: logger)
        try tailer.rescan()
        logger.info("ingest started", metadata: ["files": "\(tailer.openFiles)", "redis": "\(config.redis.url)",
                                                 "host_id": "\(config.hostID)"])
        var rate = (at: clock(), lines: Int64(0), perSecond: 0.0)
        var lastAlert: String?
        func statusLine() -> String {
            let s = stats
            return "tailing \(tailer.openFiles) files, \(Int(rate.perSecond.rounded())) lines/s, \(tailer.unreadBytes) bytes unread, "
                + "Redis \(s.redisConnected ? "ok" : "unreachable"), \(s.lines) lines so far, last alert: \(lastAlert ?? "none")"
        }
        // Only under systemd: the figures cost little, but nothing at all when nobody listens.
        let notifier = self.notifier.flatMap { $0.isActive ? $0 : nil }
        notifier?.ready(status: statusLine())
        var lastStatusCheck = clock()
        var sampler = BadLineSampler(interval: 10)
        var lastSweep = clock()
        let alerts = alertSinks.isEmpty ? nil : AlertEvaluator(config: config.alerts, keys: config.keys, retention: config.retention,
                                                                sinks: alertSinks, logger: logger)
        var sinkCounters: [String: Int64] = [:]
        var alertFailureLogged = -Double.infinity

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
            var batch = WindowBatch(retention: config.retention, limits: config.ingest.limits)
            var lines: Int64 = 0
            var overlong: Int64 = 0
            var bad: [ParseFailure: Int64] = [:]
            var skipped: Int64 = 0
            let more = try tailer.poll(maxBytes: config.ingest.batchBytes) { file, event, end in
                switch event {
                case let .line(bytes):
                    lines += 1
                    do throws(ParseFailure) {
                        let call = try parsers[file.sourceIndex].parse(bytes)
                        try batch.add(call, policy: policies[file.sourceIndex], registry: &registry, now: now)
                    } catch where error == .notACall {
                        skipped += 1
                    } catch {
                        bad[error, default: 0] += 1
                        if sampler.shouldLog(error.rawValue, now: now) {
                            logger.warning("skipping a bad line (\(error.rawValue)); further ones are counted and sampled",
                                           metadata: ["path": "\(file.path)", "end_offset": "\(end)", "line": "\(BadLineSampler.preview(bytes))"])
                        }
                    }
                case .overlong:
                    overlong += 1
                    if sampler.shouldLog("overlong", now: now) {
                        logger.warning("skipping a line over max_line_bytes (\(config.ingest.maxLineBytes)); further ones are counted and sampled",
                                       metadata: ["path": "\(file.path)", "end_offset": "\(end)"])
                    }
                }
            }
            let closed = tailer.takeClosed()
            let moved = tailer.takeChanged()
            if !moved.isEmpty || !closed.isEmpty {
                var counters: [String: Int64] = ["lines": lines, "overlong": overlong, "skipped": skipped]
                for (reason, n) in bad { counters["bad_" + reason.rawValue] = n }
                for sink in alertSinks {
                    for (name, total) in sink.counters {
                        counters[name] = total - (sinkCounters[name] ?? 0)
                        sinkCounters[name] = total
                    }
                }
                var cps: [String: Checkpoint] = [:]
                for f in moved { cps[f.identity.key] = try f.checkpoint() }
                let commit = WindowStore.Commit(batch: batch, checkpoints: cps, counters: counters, forget: closed)
                guard let (r, runs) = commitWithRetry(commit, redis: redis) else { return }
                redis = r
                alerts?.noteBatch(runs, touched: batch.models)
                statsBox.withLock { s in
                    s.lines += lines
                    s.records += Int64(batch.records)
                    s.lateRecords += Int64(batch.late)
                    s.overlongLines += overlong
                    s.skippedLines += skipped
                    for (reason, n) in bad { s.badLines[reason, default: 0] += n }
                    s.batchesCommitted += 1
                }
            }
            if !follow {
                if !more { break }
                continue
            }
            if let alerts {
                do {
                    try alerts.evaluateIfDue(on: redis, now: clock())
                } catch {
                    if clock() - alertFailureLogged >= 60 {
                        logger.error("cannot evaluate alert rules: \(error); retrying")
                        alertFailureLogged = clock()
                    }
                    // A quiet log may bring no commit to reconnect: do it here (reading waits meanwhile).
                    if error.kind == .io || error.kind == .connection {
                        guard let r = connect() else { break }
                        redis = r
                    }
                }
            }
            if clock() - lastSweep >= config.ingest.sweepInterval {
                try tailer.sweep()
                lastSweep = clock()
                continue
            }
            if !more {
                var timeout = config.ingest.sweepInterval - (clock() - lastSweep)
                if let alerts { timeout = min(timeout, alerts.dueIn(now: clock())) }
                waker.wait(timeout: max(0.005, timeout))
            }
        }
        if !follow, tailer.pendingBytes > 0 {
            logger.notice("left \(tailer.pendingBytes) bytes of an unfinished last line unread; a later replay or run reads it once complete")
        }
        var summary = stats.summary
        if let alerts {
            summary += "; alerts: \(alerts.stats.evaluations) evaluations, \(alerts.stats.transitions) transitions"
                + (alerts.stats.conflicts > 0 ? ", \(alerts.stats.conflicts) left to another aimon process" : "")
        }
        logger.info("ingest stopped: \(summary)")
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
                if !warned {
                    logger.error("Redis unreachable, reading paused until it answers: \(error)")
                    warned = true
                }
                // Waiting for Redis is not being stuck: keep the watchdog fed, and say why in STATUS.
                notifier?.watchdog(now: clock())
                notifier?.status("Redis unreachable (\(config.redis.url)): reading paused, retrying", now: clock(), interval: 0)
                if stopSignal.sleep(backoff.next()) { return nil }
            }
        }
        return nil
    }

    /// Commits, surviving a lost connection without applying the batch twice. Returns the connection
    /// and the runs of failures the batch ended; nil when stopped first.
    private func commitWithRetry(_ commit: WindowStore.Commit, redis: RedisConnection) -> (RedisConnection, [String: RunsEnded])? {
        var redis = redis
        var backoff = Backoff()
        var mustVerify = false
        while !stopSignal.isStopped {
            do {
                if mustVerify, try store.isCommitted(commit.checkpoints, on: redis) {
                    logger.notice("the batch had landed before the connection broke; not applying it again")
                    // The runs it ended are lost to the engine; runs still in progress are in Redis.
                    return (redis, [:])
                }
                return (redis, try store.commit(commit, on: redis))
            } catch {
                notifier?.watchdog(now: clock())
                statsBox.withLock { $0.commitRetries += 1 }
                mustVerify = true
                if error.kind == .io || error.kind == .connection {
                    logger.error("Redis connection lost during a commit; will verify and retry: \(error)")
                    if stopSignal.sleep(backoff.next()) { return nil }
                    guard let r = connect() else { return nil }
                    redis = r
                } else {
                    logger.error("Redis refused a commit; retrying: \(error)")
                    if stopSignal.sleep(backoff.next()) { return nil }
                }
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
