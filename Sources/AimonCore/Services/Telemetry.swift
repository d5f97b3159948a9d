import Synchronization

/// Every counter and gauge of one aimon process, in one place: the services write their figures
/// here, and STATUS, the logs, the counters ingest publishes to Redis (`aimon status`) and the
/// coming `/metrics` endpoint all read them from here.
///
/// Writers update once per batch, evaluation or delivery (never per line), so one lock is cheap.
public final class Telemetry: Sendable {
    public struct Figures: Sendable {
        /// Lines, records, bad lines by reason, late, commits, retries, Redis up (ingest's connection).
        public var ingest = IngestStats()
        public var files = Files()
        public var evaluation = Evaluation()
        /// By sink name (`journal`, `alert_table`).
        public var sinks: [String: Sink] = [:]
        /// Seconds spent in each stage since start: where the time goes, without a profiler.
        public var stages = Stages()
        /// Each service's last proof of life (`monotonicSeconds()`), for the watchdog.
        public var beats: [String: Double] = [:]
        /// Sink totals already published to Redis by committed batches (`publishedSinkCounters`): each
        /// commit carries the difference, whichever ingest of the process (a reload may start another).
        public var sinkCountersCommitted: [String: Int64] = [:]
        /// Calls committed since start, by model (as reports name it): the `/metrics` counters.
        public var calls: [String: BucketCounts] = [:]
        /// Alerts firing as of the last evaluation of every model (from Redis: every host's).
        public var firing: [AlertTransition] = []
        /// Ingest has its files open (READY=1).
        public var ingestReady = false
        /// A lasting problem per service, for STATUS ("Redis unreachable ...: reading paused").
        public var problems: [String: String] = [:]

        /// The sink totals ingest publishes with its counters in Redis (`aimon:ingest:<host>`), by
        /// their names there.
        public var publishedSinkCounters: [String: Int64] {
            var out: [String: Int64] = [:]
            if let j = sinks[JournalSink.sinkName] {
                out["alerts_journal"] = j.delivered
                out["alerts_stderr"] = j.fellBack
            }
            if let t = sinks[AlertTableWriter.sinkName] {
                out["alerts_table_written"] = t.delivered
                out["alerts_table_dropped"] = t.dropped
            }
            return out
        }
    }

    /// The tailer's figures (gauges, but for the counts since start).
    public struct Files: Sendable, Equatable {
        public var open = 0
        public var watchedDirectories = 0
        /// Bytes written to the open files and not read yet (as of the last sweep): how far behind.
        public var unreadBytes: Int64 = 0
        public var rotations = 0
        public var truncations = 0
        public var opened = 0
        public var closed = 0
    }

    public struct Evaluation: Sendable, Equatable {
        public var evaluations: Int64 = 0
        /// Timer slots that passed without an evaluation (Redis down, an evaluation longer than the interval).
        public var missed: Int64 = 0
        public var transitions: Int64 = 0
        /// Swaps lost to another aimon process (it announced those transitions).
        public var conflicts: Int64 = 0
        public var failures: Int64 = 0
        public var redisConnected = false
        /// "firing consecutive_failures gpt-4o"
        public var lastAlert: String?
    }

    public struct Sink: Sendable, Equatable {
        public var delivered: Int64 = 0
        /// Journal: entries that went to stderr because the journal could not take them.
        public var fellBack: Int64 = 0
        public var failures: Int64 = 0
        public var dropped: Int64 = 0
        /// Writes waiting (alert table).
        public var queued = 0
        /// A problem for STATUS while it lasts, e.g. writes failing.
        public var trouble: String?
    }

    public struct Stages: Sendable, Equatable {
        /// Reading files, splitting lines (the poll, less the time in parse and fold and waiting for
        /// the fold workers). Each stage is seconds of work on its threads: parse and fold include the
        /// fold workers', commit the committer's, so they may add up to more than the time elapsed.
        public var read = 0.0
        /// Estimated from one line in `sampleEvery` (timing every line would cost more than it measures).
        public var parse = 0.0
        public var fold = 0.0
        public var commit = 0.0
        public var evaluate = 0.0
        public static let sampleEvery = 64

        public var summary: String {
            let parts = [("read", read), ("parse", parse), ("fold", fold), ("commit", commit), ("evaluate", evaluate)]
            return parts.map { "\($0.0) \(Self.seconds($0.1))" }.joined(separator: ", ")
        }

        static func seconds(_ s: Double) -> String {
            s >= 10 ? "\(Int(s.rounded())) s" : "\(Double(Int(s * 1000)) / 1000) s"
        }
    }

    private let box = Mutex(Figures())

    public init() {}

    public var figures: Figures { box.withLock { $0 } }

    public func update(_ body: (inout Figures) -> Void) { box.withLock { body(&$0) } }

    public func sink(_ name: String, _ body: (inout Sink) -> Void) {
        box.withLock { f in body(&f.sinks[name, default: Sink()]) }
    }

    /// A service proves it is alive (it completed a step, or it is waiting on purpose). On the
    /// monotonic clock: a step of the wall clock neither kills a healthy daemon nor hides a stuck one.
    public func beat(_ service: String) { beat(service, now: monotonicSeconds()) }

    func beat(_ service: String, now: Double) { box.withLock { $0.beats[service] = now } }

    private let idleWaitBits = Atomic<UInt64>(1.0.bitPattern)

    /// Seconds a service waits at most when nothing happens (its beat while idle): a second by
    /// default; the notifier sets it from `redis.timeout` (`idleWait(longestCall:)`) with the
    /// watchdog's staleness, which allows for it.
    public var idleWait: Double {
        get { Double(bitPattern: idleWaitBits.load(ordering: .relaxed)) }
        set { idleWaitBits.store(newValue.bitPattern, ordering: .relaxed) }
    }

    /// An idle beat of `longestCall` seconds (a Redis call's longest wait), from 1 to 5 s: a daemon
    /// whose staleness allows for slow Redis calls wakes as seldom when nothing happens, so an idle
    /// daemon costs next to nothing (Docs/benchmarks.md, idle), while a stuck service is still named
    /// within the staleness.
    public static func idleWait(longestCall: Double) -> Double { min(5, max(1, longestCall)) }

    /// Sets (or clears, with nil) a service's lasting problem.
    public func problem(_ service: String, _ text: String?) { box.withLock { $0.problems[service] = text } }
}
