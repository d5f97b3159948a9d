/// One line into a batch: parse (by its source's format) and fold. Shared by the ingest thread and
/// the fold workers; each holds its own (parsers keep caches of the strings they made).
struct LineFold {
    let parsers: [any LineParser]
    /// Formats with several calls a line (otlp-json): found once, not per line.
    let multi: [(any MultiRecordParser)?]
    let policies: [FailurePolicy]
    let limits: RecordLimits
    /// Ingest time of the batch: the time of calls without one, and the registry's clock.
    let now: Double
    private var calls: [APICall] = []
    /// The record each line is parsed into (its strings are released as the next line's replace them).
    private var call = APICall(model: "")

    /// What a folded line did beside adding its calls.
    enum Folded {
        case added
        /// One of its calls was older than the hour-bucket retention (counted in `late`, dropped).
        case late(multi: Bool)
        /// A registry snapshot cannot place one of its calls: nothing was added (`ModelRegistry.snapshot`).
        case unplaced
    }

    init(parsers: [any LineParser], policies: [FailurePolicy], limits: RecordLimits, now: Double) {
        self.parsers = parsers
        self.multi = parsers.map { $0 as? any MultiRecordParser }
        self.policies = policies
        self.limits = limits
        self.now = now
    }

    /// What a line did, as the thread folding it sees it.
    enum Outcome {
        case added, unplaced
        case late(multi: Bool)
        /// Counted in the tally's `bad`.
        case bad(ParseFailure)
        /// No call (`not_a_call`): counted in the tally's `skipped`.
        case skipped
    }

    /// Folds one line as `fold` does, and counts it in `tally`: bad lines by reason, lines that are no
    /// call, and the parse and fold seconds of one line in `Telemetry.Stages.sampleEvery` (timing
    /// each would cost more than it tells). The ingest thread and the fold workers fold through here.
    @inline(__always)
    mutating func fold(_ line: UnsafeBufferPointer<UInt8>, source: Int, into batch: inout WindowBatch,
                       registry: inout ModelRegistry, tally: inout LineTally) -> Outcome {
        tally.countdown -= 1
        let timed = tally.countdown == 0
        if timed { tally.countdown = Telemetry.Stages.sampleEvery }
        do throws(ParseFailure) {
            let folded = try withUnsafeMutablePointer(to: &tally.timing) { t throws(ParseFailure) in
                try fold(line, source: source, into: &batch, registry: &registry, timing: timed ? t : nil)
            }
            switch folded {
            case .added: return .added
            case .unplaced: return .unplaced
            case let .late(multi): return .late(multi: multi)
            }
        } catch where error == .notACall {
            tally.skipped += 1
            return .skipped
        } catch {
            tally.bad[error, default: 0] += 1
            return .bad(error)
        }
    }

    /// Parses and folds one line of source `source`; throws what makes it a bad line (`not_a_call`
    /// for a line that is no call). `timing`: adds the parse and fold seconds of this line to it.
    @inline(__always)
    mutating func fold(_ bytes: UnsafeBufferPointer<UInt8>, source: Int, into batch: inout WindowBatch,
                       registry: inout ModelRegistry, timing: UnsafeMutablePointer<(parse: Double, fold: Double)>? = nil)
        throws(ParseFailure) -> Folded
    {
        let late = batch.late
        if let many = multi[source] {
            // All the line's calls or none: each is checked before any is added.
            calls.removeAll(keepingCapacity: true)
            try many.parseAll(bytes, into: &calls)
            for c in calls { _ = try limits.eventTime(c, now: now) }
            if registry.isSnapshot, !calls.allSatisfy({ batch.canPlace($0, registry: registry, now: now) }) { return .unplaced }
            for c in calls { try batch.add(c, policy: policies[source], registry: &registry, now: now) }
            return batch.late > late ? .late(multi: true) : .added
        }
        let t0 = timing == nil ? 0 : monotonicSeconds()
        try parsers[source].parse(bytes, into: &call)
        let t1 = timing == nil ? 0 : monotonicSeconds()
        guard try batch.add(call, policy: policies[source], registry: &registry, now: now) else { return .unplaced }
        if let timing {
            let t2 = monotonicSeconds()
            timing.pointee.parse += t1 - t0
            timing.pointee.fold += t2 - t1
        }
        return batch.late > late ? .late(multi: false) : .added
    }
}

/// The lines a thread folded beside what went into its batch (`LineFold.fold(_:source:into:registry:tally:)`).
struct LineTally {
    var skipped: Int64 = 0
    var bad: [ParseFailure: Int64] = [:]
    /// Parse and fold seconds of the lines timed.
    var timing = (parse: 0.0, fold: 0.0)
    /// Lines to the next one timed; not the first line (a batch starts with cold caches).
    var countdown = Telemetry.Stages.sampleEvery / 2
}
