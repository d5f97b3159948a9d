import CByteScan
import Foundation
import Testing
@testable import AimonCore

/// Folding a batch's lines on worker threads (FoldWorkers) must give the batch one pass gives: the
/// pieces (FailureRun.append, WindowBatch.append, registry snapshots) and the whole ingest loop.
@Suite struct ParallelFoldTests {
    /// A small deterministic generator (SplitMix64).
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let now = 1_800_000_000.0

    /// Calls of several models and deployments over three hours (some out of order, some late),
    /// with users, failures of every class and a few error messages.
    static func calls(_ n: Int, seed: UInt64) -> [APICall] {
        var rng = Rng(state: seed)
        return (0..<n).map { i in
            let outcome = [CallOutcome.success, .success, .success, .providerError, .rateLimited, .clientError][rng.below(6)]
            let late = rng.below(50) == 0
            let time = late ? now - 40 * 86_400 : now - 3 * 3600 + Double(i) * (3 * 3600 / Double(n)) + Double(rng.below(120)) - 60
            return APICall(timestamp: time, userID: "user-\(rng.below(30))", model: "model-\(rng.below(4))",
                           outcome: outcome, responseTime: Double(rng.below(5000)) / 1000,
                           statusCode: outcome == .success ? 200 : [503, 429, 400][rng.below(3)],
                           errorMessage: outcome == .success ? nil : "upstream said \(rng.below(4))",
                           inputTokens: rng.below(1000), deployment: rng.below(3) == 0 ? nil : "dep-\(rng.below(3))")
        }
    }

    static func expectSame(_ a: WindowBatch, _ b: WindowBatch, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.records == b.records, sourceLocation: sourceLocation)
        #expect(a.late == b.late, sourceLocation: sourceLocation)
        #expect(a.minute == b.minute, sourceLocation: sourceLocation)
        #expect(a.hour == b.hour, sourceLocation: sourceLocation)
        #expect(a.users == b.users, sourceLocation: sourceLocation)
        #expect(a.errors == b.errors, sourceLocation: sourceLocation)
        #expect(a.runs == b.runs, sourceLocation: sourceLocation)
        #expect(a.models == b.models, sourceLocation: sourceLocation)
        #expect(a.deployments == b.deployments, sourceLocation: sourceLocation)
    }

    static func batch() -> WindowBatch { WindowBatch(retention: Retention()) }
    static func registry() -> ModelRegistry { ModelRegistry(capacity: 100) }

    static func fold(_ calls: ArraySlice<APICall>, into batch: inout WindowBatch, registry: inout ModelRegistry) throws {
        for c in calls {
            let placed = try batch.add(c, registry: &registry, now: now)
            #expect(placed)
        }
    }

    /// Every sequence of up to 10 successes and failures, cut at every place: the run of the whole is
    /// the first part's run followed by the second's.
    @Test func failureRunsAppendAsOnePass() {
        for length in 0...10 {
            for bits in 0..<(1 << length) {
                let events = (0..<length).map { bits & (1 << $0) != 0 }
                var whole = FailureRun()
                for (i, ok) in events.enumerated() { whole.add(success: ok, at: Double(i)) }
                for cut in 0...length {
                    var first = FailureRun(), second = FailureRun()
                    for i in 0..<cut { first.add(success: events[i], at: Double(i)) }
                    for i in cut..<length { second.add(success: events[i], at: Double(i)) }
                    first.append(second)
                    #expect(first == whole, "events \(events), cut at \(cut)")
                }
            }
        }
    }

    @Test func batchesAppendAsOnePass() throws {
        let calls = Self.calls(3000, seed: 7)
        var registry = Self.registry()
        var whole = Self.batch()
        try Self.fold(calls[...], into: &whole, registry: &registry)
        for cuts in [[1000, 2000], [1, 2999], [0, 1500], [2999, 3000]] {
            var registry = Self.registry()
            var parts = [Self.batch(), Self.batch(), Self.batch()]
            try Self.fold(calls[..<cuts[0]], into: &parts[0], registry: &registry)
            try Self.fold(calls[cuts[0]..<cuts[1]], into: &parts[1], registry: &registry)
            try Self.fold(calls[cuts[1]...], into: &parts[2], registry: &registry)
            parts[0].append(parts[1])
            parts[0].append(parts[2])
            Self.expectSame(parts[0], whole)
        }
    }

    /// What the workers do: each folds several stretches into one batch of its own, taking the runs
    /// after each; the stretches' runs are appended in log order, then the workers' batches.
    @Test func stretchesFoldedByTwoWorkersMakeTheOnePassBatch() throws {
        let calls = Self.calls(4000, seed: 11)
        var registry = Self.registry()
        var whole = Self.batch()
        try Self.fold(calls[...], into: &whole, registry: &registry)

        var real = Self.registry()
        for c in calls { _ = real.canonical(c.model, now: Self.now); if let d = c.deployment { _ = real.canonicalPair(model: c.model, deployment: d, now: Self.now) } }
        var main = Self.batch()
        var workers = [Self.batch(), Self.batch()]
        var snapshots = [real.snapshot(), real.snapshot()]
        for (k, start) in stride(from: 0, to: calls.count, by: 300).enumerated() {
            let w = k % 2
            try Self.fold(calls[start..<min(start + 300, calls.count)], into: &workers[w], registry: &snapshots[w])
            main.appendRuns(workers[w].takeRuns())
        }
        for w in 0..<2 {
            main.append(workers[w])
            real.replay(snapshots[w], now: Self.now)
        }
        Self.expectSame(main, whole)
    }

    @Test func aSnapshotPlacesOnlyNamesItHoldsForGoodAndChangesNothing() throws {
        let ttl = 3600.0
        var registry = ModelRegistry(capacity: 10, ttl: ttl, known: ["held": Self.now - 10, "stale": Self.now - ttl - 1])
        _ = registry.canonicalPair(model: "held", deployment: "d1", now: Self.now - 5)
        var snapshot = registry.snapshot()
        var batch = Self.batch()
        #expect(try batch.add(APICall(timestamp: Self.now, model: "held"), registry: &snapshot, now: Self.now))
        #expect(try batch.add(APICall(timestamp: Self.now, model: "held", deployment: "d1"), registry: &snapshot, now: Self.now))
        // Unknown to the registry, or one an eviction now could take: the registry must decide.
        #expect(try !batch.add(APICall(timestamp: Self.now, model: "new"), registry: &snapshot, now: Self.now))
        #expect(try !batch.add(APICall(timestamp: Self.now, model: "stale"), registry: &snapshot, now: Self.now))
        // A held model with a deployment the registry has not placed: nothing of the call is added.
        #expect(try !batch.add(APICall(timestamp: Self.now, model: "held", deployment: "d2"), registry: &snapshot, now: Self.now))
        #expect(!batch.canPlace(APICall(model: "held", deployment: "d2"), registry: snapshot, now: Self.now))
        #expect(batch.canPlace(APICall(model: "held", deployment: "d1"), registry: snapshot, now: Self.now))
        #expect(batch.records == 2)
        let calls: Int64 = batch.hour.values.reduce(0) { $0 + $1.calls }
        #expect(calls == 5)  // the model's 2, its pair's 1, the all-models sums' 2
        // The snapshot changed nothing; the registry, told, has seen the names at `now`.
        #expect(snapshot.lastSeen == registry.lastSeen)
        registry.replay(snapshot, now: Self.now)
        #expect(registry.lastSeen["held"] == Self.now)
        #expect(registry.lastSeen["new"] == nil)
        // The registry itself places what the snapshot could not.
        var real = registry
        #expect(try batch.add(APICall(timestamp: Self.now, model: "new"), registry: &real, now: Self.now))
    }

    // MARK: - The ingest loop

    /// Native lines of six models (those past `max_models` and `max_deployments` go to the overflow,
    /// new ones appear late in the log), with bad, late, future and blank lines among them.
    static func nativeLog(_ n: Int, seed: UInt64, now: Double) -> String {
        var rng = Rng(state: seed)
        var out = ""
        for i in 0..<n {
            switch rng.below(40) {
            case 0: out += "{\"model_name\": \"m1\", \"success\": tru}\n"
            case 1: out += "\n"
            case 2: out += "{\"timestamp\":\"\(AlertRow.timestamp(now - 50 * 86_400))\",\"model_name\":\"m1\",\"success\":true}\n"
            case 3: out += "{\"timestamp\":\"\(AlertRow.timestamp(now + 10 * 86_400))\",\"model_name\":\"m1\",\"success\":true}\n"
            default:
                let models = i < n / 2 ? 3 : 6
                let ok = rng.below(4) != 0
                let time = now - 7200 + Double(i) * 7000 / Double(n)
                let deployment = rng.below(3) == 0 ? "" : #","deployment":"d\#(rng.below(4))""#
                out += #"{"timestamp":"\#(AlertRow.timestamp(time))","user_id":"u\#(rng.below(40))","model_name":"m\#(rng.below(models))","success":\#(ok),"response_time":0.\#(rng.below(9) + 1),"status_code":\#(ok ? 200 : 503)\#(ok ? "" : #","error_message":"boom \#(rng.below(3))""#)\#(deployment)}"# + "\n"
            }
        }
        return out
    }

    /// Replays the files with the given workers (nil: none) at a fixed clock; the commits applied.
    static func replay(_ files: [(String, String)], workers: FoldWorkers?, format: SourceFormat = .preset(.native),
                       batchBytes: Int = 1 << 15, maxModels: Int = 4, now: Double) throws -> [WindowStore.Commit] {
        let t = IngestLoopTests.Loop()
        for (name, text) in files { t.folder.append(name, text) }
        var c = t.config()
        c.ingest.batchBytes = batchBytes
        c.ingest.maxModels = maxModels
        c.ingest.maxDeployments = 5
        let p = IngestPipeline(config: c, mode: .replay(paths: files.map { t.folder.path + "/" + $0.0 }, format: format),
                               logger: quietLogger, store: t.store, telemetry: t.telemetry, clock: { now })
        p.batchSeconds = 30
        p.foldWorkers = workers
        try p.run()
        return t.store.applied
    }

    static func expectSameCommits(_ a: [WindowStore.Commit], _ b: [WindowStore.Commit], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            expectSame(x.batch, y.batch, sourceLocation: sourceLocation)
            #expect(x.counters == y.counters, sourceLocation: sourceLocation)
            // Each file's offset (the folders, and so the files' identities, differ).
            let offsets = { (c: WindowStore.Commit) in
                c.changes.map { $0.new.split(separator: "/").last.map(String.init)! + " " + String($0.new.split(separator: " ")[0]) }.sorted()
            }
            #expect(offsets(x) == offsets(y), sourceLocation: sourceLocation)
        }
    }

    /// Two files replayed with workers handed chunks of a few lines (so that chunks wait for one
    /// another, are cut by new models and by the end of each batch) commit what one pass commits.
    @Test func aReplayFoldedByWorkersCommitsWhatOnePassCommits() throws {
        let now = 1_800_000_000.0
        let files = [("a.log", Self.nativeLog(3000, seed: 1, now: now)), ("b.log", Self.nativeLog(2000, seed: 2, now: now))]
        let one = try Self.replay(files, workers: nil, now: now)
        #expect(one.count > 5)
        #expect(one.contains { $0.batch.models.contains(ModelRegistry.overflowName) })
        #expect(one.contains { ($0.counters["invalid_json"] ?? 0) > 0 } && one.contains { $0.batch.late > 0 })
        for (size, inFlight) in [(700, 2), (3000, 4), (64, 1)] {
            let workers = FoldWorkers(workers: 2, chunkBytes: size, maxInFlight: inFlight)
            Self.expectSameCommits(try Self.replay(files, workers: workers, now: now), one)
        }
    }

    /// Several calls a line (otlp-json): a line's calls are placed all or none by a worker.
    @Test func multiCallLinesFoldedByWorkersCommitWhatOnePassCommits() throws {
        let lines = FormatFixtures.lines("otlp-json")
        // claude-3-5-sonnet first comes on a line with gpt-4o, which the workers hold by then.
        let without = lines.filter { !$0.contains("claude") }
        let text = ((0..<200).map { without[$0 % without.count] } + (0..<200).map { lines[$0 % lines.count] }).joined(separator: "\n") + "\n"
        let now = 1_795_780_000.0  // the fixture's spans are of 2026-11-27 10:00 UTC
        let one = try Self.replay([("t.log", text)], workers: nil, format: .preset(.otlpJSON), now: now)
        #expect(one.reduce(0) { $0 + $1.batch.records } > 250)
        let workers = FoldWorkers(workers: 2, chunkBytes: 2000, maxInFlight: 2)
        Self.expectSameCommits(try Self.replay([("t.log", text)], workers: workers, format: .preset(.otlpJSON), now: now), one)
        // In one batch (the workers fold only batches with many lines for each model).
        let inOne = FoldWorkers(workers: 2, chunkBytes: 2000, maxInFlight: 2)
        let big = try Self.replay([("t.log", text)], workers: inOne, format: .preset(.otlpJSON), batchBytes: 1 << 20, now: now)
        Self.expectSameCommits(big, try Self.replay([("t.log", text)], workers: nil, format: .preset(.otlpJSON), batchBytes: 1 << 20, now: now))
        #expect(inOne.linesFolded > 200, "the workers folded \(inOne.linesFolded) of 400 lines")
    }

    /// A line's calls are placed all or none: one model the snapshot cannot place leaves the line,
    /// whole, to the registry.
    @Test func aLineWithOneCallTheSnapshotCannotPlaceAddsNone() throws {
        let line = FormatFixtures.lines("otlp-json")[0]  // a gpt-4o call and a claude-3-5-sonnet call
        let now = 1_795_780_000.0
        var fold = LineFold(parsers: [SourceFormat.preset(.otlpJSON).makeParser(limits: .default)], policies: [.default],
                            limits: .default, now: now)
        var batch = Self.batch()
        // Each call has a deployment too (the server's address).
        var registry = ModelRegistry(capacity: 10, known: ["gpt-4o": now])
        _ = registry.canonicalPair(model: "gpt-4o", deployment: "api.openai.com", now: now)
        var snapshot = registry.snapshot()
        let folded = try Array(line.utf8).withUnsafeBufferPointer { bytes in
            try fold.fold(bytes, source: 0, into: &batch, registry: &snapshot)
        }
        guard case .unplaced = folded else { Issue.record("folded: \(folded)"); return }
        #expect(batch.records == 0 && batch.hour.isEmpty)
        _ = registry.canonical("claude-3-5-sonnet", now: now)
        _ = registry.canonicalPair(model: "claude-3-5-sonnet", deployment: "api.anthropic.com", now: now)
        var both = registry.snapshot()
        let again = try Array(line.utf8).withUnsafeBufferPointer { try fold.fold($0, source: 0, into: &batch, registry: &both) }
        #expect(batch.records == 2, "folded: \(again)")
    }

    /// Models past `max_models` go to the overflow: once the ingest thread has placed one there, the
    /// workers place it there too (they stopped at every such line, which left nearly every line to
    /// the ingest thread).
    @Test func workersPlaceNamesTheBatchSentToTheOverflow() throws {
        let now = 1_800_000_000.0
        let text = Self.nativeLog(6000, seed: 3, now: now)
        let workers = FoldWorkers(workers: 2, chunkBytes: 2000, maxInFlight: 2)
        let commits = try Self.replay([("a.log", text)], workers: workers, batchBytes: 1 << 20, now: now)
        Self.expectSameCommits(commits, try Self.replay([("a.log", text)], workers: nil, batchBytes: 1 << 20, now: now))
        #expect(commits.contains { $0.batch.models.contains(ModelRegistry.overflowName) })
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        #expect(workers.linesFolded > lines * 3 / 4, "the workers folded \(workers.linesFolded) of \(lines) lines")
    }

    /// Blank lines fill no bytes: a chunk is handed over at `chunkLines` lines as well, so a backlog
    /// of them is neither held in one chunk nor left to the ingest thread.
    @Test func aChunkOfBlankLinesIsHandedOverAtItsLineCount() throws {
        let now = 1_800_000_000.0
        let text = String(repeating: "\n", count: 5000) + Self.nativeLog(200, seed: 4, now: now) + String(repeating: "\n", count: 5000)
        let one = try Self.replay([("a.log", text)], workers: nil, now: now)
        let workers = FoldWorkers(workers: 2, chunkBytes: 1 << 20, chunkLines: 100, maxInFlight: 2)
        Self.expectSameCommits(try Self.replay([("a.log", text)], workers: workers, now: now), one)
        #expect(workers.linesFolded > 9000)
    }

    /// Few lines for each model in a batch: the workers' slots would cost more than they fold, so
    /// the batches after such a one are folded on the ingest thread.
    @Test func batchesWithFewLinesPerModelAreFoldedOnTheIngestThread() throws {
        let now = 1_800_000_000.0
        let text = (0..<3000).map { i in
            #"{"timestamp":"\#(AlertRow.timestamp(now - 3000 + Double(i)))","model_name":"model-\#(i % 300)","success":true}"# + "\n"
        }.joined()
        let workers = FoldWorkers(workers: 2, chunkBytes: 1000, maxInFlight: 2)
        let commits = try Self.replay([("a.log", text)], workers: workers, maxModels: 1000, now: now)
        Self.expectSameCommits(commits, try Self.replay([("a.log", text)], workers: nil, maxModels: 1000, now: now))
        #expect(commits.count > 5)
        #expect(workers.linesFolded <= commits[0].batch.records, "\(workers.linesFolded) lines folded by the workers")
    }

    /// Workers start only where two cores may be used: a cgroup's `cpu.max` bounds the count.
    @Test func aCgroupQuotaIsReadAsCores() {
        #expect(FoldWorkers.cpuMax("max 100000\n") == nil)
        #expect(FoldWorkers.cpuMax("150000 100000\n") == 1.5)
        #expect(FoldWorkers.cpuMax("50000 100000") == 0.5)
        #expect(FoldWorkers.cpuMax("") == nil)
        // The CPUs this process may run on, as the kernel lists them.
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let list = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: "\t").last ?? ""
        let allowed = list.split(separator: ",").reduce(0) { n, range in
            let ends = range.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            return n + (ends.count == 2 ? ends[1] - ends[0] + 1 : 1)
        }
        #expect(allowed > 0 && Int(aimon_affinity_cpus()) == allowed)
        #expect(FoldWorkers.usableCores() <= allowed)
    }

    /// Names whose place cannot change within the batch are placed by a snapshot: those the batch
    /// placed (the overflow's too), and new ones once the cap is full and eviction was tried at this
    /// time; until then a new name is left to the registry.
    @Test func aSnapshotPlacesWhatTheBatchDecidedAndNewNamesAtAFullCap() throws {
        let now = Self.now
        var registry = ModelRegistry(capacity: 2, ttl: 3600, known: ["a": now, "b": now - 4000], deployments: 1)
        var batch = Self.batch()
        #expect(try batch.add(APICall(timestamp: now, model: "a", deployment: "d1"), registry: &registry, now: now))
        // "b" is known (seen again now); its pair is past the cap of one pair: the overflow pair.
        #expect(try batch.add(APICall(timestamp: now, model: "b", deployment: "d1"), registry: &registry, now: now))
        var open = registry.snapshot(decided: batch.decisions())
        var worker = Self.batch()
        #expect(try worker.add(APICall(timestamp: now, model: "a", deployment: "d1"), registry: &open, now: now))
        #expect(try worker.add(APICall(timestamp: now, model: "b", deployment: "d1"), registry: &open, now: now))
        #expect(worker.models == ["a", "b"])
        #expect(Set(worker.runs.keys) == ["a", "b", Deployment.pair("a", "d1"), Deployment.pair("b", Deployment.overflowName)])
        // The model cap is full, but no eviction was tried yet: a new name is the registry's to place.
        #expect(try !worker.add(APICall(timestamp: now, model: "c"), registry: &open, now: now))
        #expect(registry.canonical("c", now: now) == ModelRegistry.overflowName)  // tried now: refused
        var full = registry.snapshot(decided: batch.decisions())
        #expect(try worker.add(APICall(timestamp: now, model: "new", deployment: "d2"), registry: &full, now: now))
        #expect(worker.models.contains(ModelRegistry.overflowName))
        #expect(worker.runs[Deployment.pair(ModelRegistry.overflowName, Deployment.overflowName)] != nil)
        // Nothing the snapshots placed is new to the registry: what it admitted stays as it was.
        #expect(Set(registry.lastSeen.keys) == ["a", "b"])
    }
}
