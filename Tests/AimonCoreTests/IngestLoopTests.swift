import Foundation
import Synchronization
import Testing
@testable import AimonCore

/// Redis as the ingest loop sees it, in memory: the commit is conditional on the checkpoints as the
/// real script is (applied, landed before, or conflict), and faults are injected by the test.
final class FakeIngestStore: IngestStore {
    var checkpoints: [String: String] = [:]
    var markers: [String: String] = [:]
    /// Records applied, over all commits (what the windows would hold).
    var records = 0
    var commitsApplied = 0
    var connects = 0
    var connected = false
    /// Errors the next connects throw, in order.
    var connectFailures: [RedisError] = []
    /// Errors the next commits throw before anything is applied, in order.
    var commitFailures: [RedisError] = []
    /// The next commit is applied, then its reply is lost (the connection breaks).
    var loseNextReply = false
    /// Runs between two commit attempts (a test stops the loop there).
    var onCommitAttempt: (() -> Void)?
    var leaseHolder: DaemonLease.Holder?

    var isConnected: Bool { connected }
    var connections = 0
    var replicasShort = false
    /// The host's commit sequence, and Redis's state after each commit (for a failover).
    var sequence: Int64 = 0
    var history: [(checkpoints: [String: String], markers: [String: String], records: Int)] = []
    /// Every commit applied, in order.
    var applied: [WindowStore.Commit] = []

    func connect() throws(RedisError) {
        guard !connected else { return }
        connects += 1
        if !connectFailures.isEmpty { throw connectFailures.removeFirst() }
        connected = true
        connections += 1
    }

    func commitSequence() throws(RedisError) -> Int64 {
        try connect()
        return sequence
    }

    /// A failover to a replica that missed the last `lost` commits: Redis is back where it was
    /// before them, and the connection breaks.
    func failover(losing lost: Int) {
        let kept = history.count - lost
        sequence = Int64(kept)
        if kept > 0 { (checkpoints, markers, records) = history[kept - 1] } else { (checkpoints, markers, records) = ([:], [:], 0) }
        history.removeLast(lost)
        commitsApplied = kept
        connected = false
    }

    func disconnect() { connected = false }

    func loadCheckpoints() throws(RedisError) -> (checkpoints: [String: String], markers: [String: String]) {
        try connect()
        var m = markers
        if sequence > 0 { m[WindowStore.sequenceField] = String(sequence) }  // as the commit script keeps it
        return (checkpoints, m)
    }

    func loadModels(now: Int64) throws(RedisError) -> [String: Int64] { [:] }

    func commit(_ commit: WindowStore.Commit) throws(RedisError) -> WindowStore.Outcome {
        onCommitAttempt?()
        try connect()
        if !commitFailures.isEmpty {
            let e = commitFailures.removeFirst()
            if e.needsNewConnection { connected = false }
            throw e
        }
        // The script's condition: every checkpoint as expected (apply), or every one as written (landed).
        let asExpected = commit.changes.allSatisfy { (checkpoints[$0.id] ?? "") == $0.expected }
        let asWritten = commit.changes.allSatisfy { (checkpoints[$0.id] ?? "") == $0.new }
        if !asExpected {
            if asWritten, !commit.changes.isEmpty { return .landed(sequence: sequence) }
            let c = commit.changes.first { (checkpoints[$0.id] ?? "") != $0.expected }!
            return .conflict(id: c.id, found: checkpoints[c.id] ?? "")
        }
        for c in commit.changes { checkpoints[c.id] = c.new.isEmpty ? nil : c.new }
        for (k, v) in commit.markers { markers[k] = v.isEmpty ? nil : v }
        records += commit.batch.records
        applied.append(commit)
        commitsApplied += 1
        sequence += 1
        history.append((checkpoints, markers, records))
        if loseNextReply {
            loseNextReply = false
            connected = false
            throw RedisError(.io, "connection reset by peer")
        }
        return .applied(runs: [:], saturated: 0, repaired: 0, sequence: sequence)
    }

    func acquireLease(now: Double) throws(RedisError) -> DaemonLease.Holder? {
        try connect()
        return leaseHolder
    }

    func releaseLease() throws(RedisError) {}
}

/// The ingest loop stepped by hand against a fake store: no Redis, no timers.
@Suite struct IngestLoopTests {
    static func line(_ model: String = "m1", ok: Bool = true, at time: Double = Date().timeIntervalSince1970) -> String {
        #"{"timestamp":"\#(AlertRow.timestamp(time))","model_name":"\#(model)","success":\#(ok),"response_time":0.4,"status_code":\#(ok ? 200 : 503)}"# + "\n"
    }

    static func lines(_ n: Int, model: String = "m1") -> String { (0..<n).map { _ in line(model) }.joined() }

    struct Loop {
        let folder = LogFolder()
        let store = FakeIngestStore()
        let mailbox = EvaluationMailbox()
        let telemetry = Telemetry()

        func config(pattern: String = "*.log", format: SourceFormat = .preset(.native)) -> Config {
            var c = Config.defaults(sources: [.init(path: folder.path + "/" + pattern, format: format, startAt: .beginning)], hostID: "test")
            c.ingest.sweepInterval = 3600  // sweeps only when a test asks
            return c
        }

        func pipeline(_ config: Config? = nil) -> IngestPipeline {
            let p = IngestPipeline(config: config ?? self.config(), mode: .follow, logger: quietLogger, store: store, telemetry: telemetry,
                                   mailbox: mailbox)
            // A poll is not cut by time on a loaded machine: a test's turn reads what it expects.
            p.batchSeconds = 30
            return p
        }
    }

    @Test func aBatchIsReadCommittedAndAnnounced() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(3) + Self.lines(2, model: "m2"))
        let p = t.pipeline()
        #expect(try p.prepare())
        #expect(try p.turn())
        #expect(t.store.records == 5)
        #expect(t.telemetry.figures.ingest.lines == 5 && t.telemetry.figures.ingest.batchesCommitted >= 1)
        #expect(t.mailbox.take().touched == ["m1", "m2"])
        #expect(t.telemetry.figures.files.open == 1)
        #expect(t.telemetry.figures.ingestReady)
    }

    /// A backlog's commits are sent ahead (the next batch is read while one lands): a replay in many
    /// batches commits every line once, and the file's last position, let go, is in the last commit.
    /// (The landing of a commit sent ahead once cleared what was noted meanwhile: the last batch's
    /// lines were read, never committed.)
    @Test func aReplayReadAheadOfItsCommitsCommitsEveryLineOnce() throws {
        let t = Loop()
        let text = Self.lines(20_000) + Self.lines(3, model: "last")
        t.folder.append("a.log", text)
        var c = t.config()
        c.ingest.batchBytes = 1 << 16
        let p = IngestPipeline(config: c, mode: .replay(paths: [t.folder.path + "/a.log"], format: .preset(.native)),
                               logger: quietLogger, store: t.store, telemetry: t.telemetry)
        try p.run()
        #expect(t.store.records == 20_003)
        #expect(t.store.commitsApplied > 10)
        let stored = t.store.checkpoints.values.compactMap { Checkpoint(encoded: $0) }
        #expect(stored.map(\.offset) == [Int64(text.utf8.count)])
        #expect(stored.first?.held == false)
    }

    /// A reload while a backlog's commit is in flight: the commit lands first (it was built with the
    /// old markers), the new source's marker goes with a later one, and every line is committed once.
    @Test func aReloadWhileACommitIsInFlightKeepsEveryLineAndMarker() throws {
        let t = Loop()
        t.folder.append("backlog.log", Self.lines(20_000))
        var c = t.config()
        c.ingest.batchBytes = 1 << 16
        let p = t.pipeline(c)
        #expect(try p.prepare())
        #expect(try p.turn())  // more to read: this batch's commit is sent ahead
        var new = c
        new.sources.append(.init(path: t.folder.path + "/*.other", format: .preset(.native), startAt: .beginning))
        p.apply(new)
        for _ in 0..<5000 where t.telemetry.figures.ingest.lines < 20_000 { #expect(try p.turn()) }
        #expect(try p.turn())  // nothing left: lands what was in flight
        #expect(t.telemetry.figures.ingest.lines == 20_000)
        #expect(t.store.records == 20_000)
        #expect(t.store.markers.keys.contains { $0.hasSuffix("src:" + t.folder.path + "/*.other") })
    }

    /// Verify after a cut: the batch landed, its reply was lost; sent again, it is not applied twice.
    @Test func aCommitWhoseReplyIsLostIsNotAppliedTwice() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(4))
        let p = t.pipeline()
        #expect(try p.prepare())
        t.store.loseNextReply = true
        #expect(try p.turn())
        #expect(t.store.records == 4 && t.store.commitsApplied == 1)
        #expect(t.telemetry.figures.ingest.commitRetries == 1)
        #expect(t.store.connects == 2)  // a new connection for the second try
        // The lines after it are read once too.
        t.folder.append("a.log", Self.lines(2))
        try p.sweepNow()  // what inotify would say (its events come on another thread)
        #expect(try p.turn())
        #expect(t.store.records == 6)
    }

    /// A failover to a replica that missed the last commits: the next connection finds Redis behind
    /// this process's commit sequence; ingest says what it reads again and stops, and a new ingest
    /// (what the daemon starts) reads those lines again from Redis's checkpoints: each counted once.
    @Test func aFailoverThatLostCommitsIsReadAgain() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(3))
        t.folder.append("b.log", Self.lines(2))
        let p = t.pipeline()
        #expect(try p.prepare())
        #expect(try p.turn())
        #expect(t.store.records == 5 && t.store.sequence == 1)
        t.folder.append("a.log", Self.lines(4))
        try p.sweepNow()
        #expect(try p.turn())
        #expect(t.store.records == 9 && t.store.sequence == 2)
        // The replica promoted had the first commit only.
        t.store.failover(losing: 1)
        t.folder.append("b.log", Self.lines(1))
        try p.sweepNow()
        #expect {
            _ = try p.turn()
        } throws: { e in
            guard case let IngestError.redisBehind(mine, redis, report) = e else { return false }
            return mine == 2 && redis == 1 && report == BehindReport(linesReadAgain: 4, filesReadAgain: 1)
        }
        #expect(t.store.records == 5)
        #expect(t.telemetry.figures.ingest.rewinds == 1 && t.telemetry.figures.ingest.linesReadAgain == 4)
        let again = t.pipeline()
        #expect(try again.prepare())
        #expect(try again.turn())
        #expect(t.store.records == 10)  // 3 + 4 in a.log, 2 + 1 in b.log: each once
    }

    /// A failover between loading the checkpoints and the first commit: Redis is behind what was
    /// loaded (the previous run's last commits), and the lines are read again, not skipped.
    @Test func aFailoverBeforeTheFirstCommitIsSeenToo() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(3))
        let first = t.pipeline()
        #expect(try first.prepare())
        #expect(try first.turn())
        t.folder.append("a.log", Self.lines(2))
        try first.sweepNow()
        #expect(try first.turn())
        #expect(t.store.records == 5)
        // A new ingest (a restart) loads Redis's state, then Redis fails over to a replica without the
        // second commit; the file gets no new line.
        let second = t.pipeline()
        #expect(try second.prepare())
        t.store.failover(losing: 1)
        t.folder.append("b.log", Self.lines(1))
        try second.sweepNow()
        #expect {
            _ = try second.turn()
        } throws: { e in
            guard case let IngestError.redisBehind(mine, redis, report) = e else { return false }
            return mine == 2 && redis == 1 && report.linesReadAgain == 2
        }
        let third = t.pipeline()
        #expect(try third.prepare())
        #expect(try third.turn())
        #expect(t.store.records == 6)
    }

    /// The lost commit's file was rotated out of the globs before the failover was seen: its lines
    /// cannot be read again by a new ingest; they are counted as lost, never silently.
    @Test func linesOfAFileGoneBeforeTheFailoverAreCountedLost() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(2))
        let p = t.pipeline()
        #expect(try p.prepare())
        #expect(try p.turn())
        t.folder.append("c.log", Self.lines(3))
        try p.sweepNow()
        #expect(try p.turn())
        t.folder.rename("c.log", "c.old")  // out of the glob, still open
        try p.sweepNow()
        t.store.failover(losing: 1)
        t.folder.append("a.log", Self.lines(1))
        try p.sweepNow()
        #expect {
            _ = try p.turn()
        } throws: { e in
            guard case let IngestError.redisBehind(_, _, report) = e else { return false }
            return report.linesLost == 3 && report.linesReadAgain == 0 && report.lostFiles.count == 1
        }
        #expect(t.telemetry.figures.ingest.linesLost == 3)
        #expect(t.telemetry.figures.problems.values.contains { $0.contains("3 lines lost") })
    }

    @Test func aRefusedCommitIsRetriedUntilAcceptedAndReadingWaits() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(3))
        let p = t.pipeline()
        #expect(try p.prepare())
        t.store.commitFailures = [RedisError(.reply, "OOM command not allowed when used memory > 'maxmemory'"),
                                  RedisError(.reply, "OOM command not allowed when used memory > 'maxmemory'")]
        #expect(try p.turn())
        #expect(t.store.records == 3 && t.store.commitsApplied == 1)
        #expect(t.telemetry.figures.ingest.commitRetries == 2)
        #expect(t.store.connects == 1)  // a refusal keeps the connection
    }

    @Test func aLostConnectionIsMadeAgain() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(3))
        let p = t.pipeline()
        #expect(try p.prepare())
        t.store.commitFailures = [RedisError(.io, "connection reset by peer")]
        t.store.connectFailures = [RedisError(.connection, "Connection refused"), RedisError(.connection, "Connection refused")]
        #expect(try p.turn())
        #expect(t.store.records == 3)
        #expect(t.store.connects == 4)  // the first, two refused, the one that worked
        #expect(t.telemetry.figures.ingest.redisConnected)
    }

    /// A stop between two tries: nothing was applied, and the next start reads those lines once.
    @Test func aStopDuringRetriesLosesNothingAndDoublesNothing() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(3))
        let p = t.pipeline()
        #expect(try p.prepare())
        t.store.commitFailures = Array(repeating: RedisError(.io, "connection reset by peer"), count: 1000)
        var attempts = 0
        t.store.onCommitAttempt = { attempts += 1; if attempts == 2 { p.stop() } }
        #expect(try !p.turn())  // stopped before the batch landed
        #expect(t.store.records == 0)
        t.store.commitFailures = []
        t.store.onCommitAttempt = nil
        let again = t.pipeline()
        #expect(try again.prepare())
        #expect(try again.turn())
        #expect(t.store.records == 3)
    }

    /// Shutdown: a stop asked while a batch is read still commits it (once), when Redis answers.
    @Test func aStopDuringAReadCommitsWhatWasRead() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(4))
        let p = t.pipeline()
        #expect(try p.prepare())
        p.stop()
        _ = try p.turn()
        #expect(t.store.records == 4 && t.store.commitsApplied == 1)
    }

    @Test func aStopBetweenTurnsLeavesEveryReadLineCommitted() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(5))
        let p = t.pipeline()
        #expect(try p.prepare())
        #expect(try p.turn())
        p.stop()
        t.folder.append("a.log", Self.lines(2))
        let again = t.pipeline()
        #expect(try again.prepare())
        #expect(try again.turn())
        #expect(t.store.records == 7)
    }

    /// Reload during a rotation: the file renamed outside the globs just before keeps being read to
    /// its end, and `start_at` is not applied again to the kept source.
    @Test func aReloadKeepsAFileRotatedOutsideTheGlobs() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(2))
        let p = t.pipeline()
        #expect(try p.prepare())
        #expect(try p.turn())
        t.folder.append("a.log", Self.lines(3))  // written, not read yet
        t.folder.rename("a.log", "a.log.1")      // rotated out of *.log
        t.folder.append("a.log", Self.lines(4))  // the new file
        var new = t.config()
        new.sources[0].startAt = .end  // would skip a.log's lines if applied again
        new.ingest.batchBytes = 1 << 16
        p.apply(new)
        #expect(try p.turn())
        #expect(try p.turn())
        #expect(t.store.records == 9)
        #expect(t.telemetry.figures.files.open == 2)
    }

    /// A source removed on reload lets its files go; one added is read (from `start_at`).
    @Test func aReloadAddsAndRemovesSources() throws {
        let t = Loop()
        t.folder.append("a.log", Self.lines(2))
        t.folder.append("b.txt", Self.lines(5))
        let p = t.pipeline()
        #expect(try p.prepare())
        #expect(try p.turn())
        #expect(t.store.records == 2)
        var new = t.config(pattern: "*.txt")
        p.apply(new)
        #expect(try p.turn())
        #expect(t.store.records == 7)
        #expect(t.telemetry.figures.files.open == 1)
        // The removed source's marker is cleared, the new one's set.
        #expect(t.store.markers.keys.contains { $0.hasSuffix("*.txt") } && !t.store.markers.keys.contains { $0.hasSuffix("*.log") })
        // Back again: a.log resumes from its checkpoint (nothing read twice).
        t.folder.append("a.log", Self.lines(1))
        new.sources.append(t.config().sources[0])
        p.apply(new)
        #expect(try p.turn())
        #expect(t.store.records == 8)
    }

    @Test func settingsThatNameAnotherStoreRestartIngest() {
        let t = Loop()
        let old = t.config()
        var new = old
        new.ingest.batchBytes = 1 << 16
        new.ingest.rotateWait = 5
        new.sources.append(.init(path: "/var/log/x/*.jsonl"))
        #expect(IngestPipeline.restartReasons(from: old, to: new).isEmpty)
        new.hostID = "other"
        new.redis.keyPrefix = "x"
        new.ingest.maxLineBytes = 4096
        #expect(IngestPipeline.restartReasons(from: old, to: new) == ["host_id", "redis", "ingest.max_line_bytes"])
    }

    /// Whether evaluation is told of `model` (a backlog's commits land on the committer thread, which
    /// tells it as soon as they do; bounded at 10 s).
    static func told(_ mailbox: EvaluationMailbox, _ model: String) -> Bool {
        let deadline = monotonicSeconds() + 10
        while monotonicSeconds() < deadline {
            if mailbox.take().touched.contains(model) { return true }
            mailbox.waker.wait(timeout: 0.05)
        }
        return false
    }

    /// Each poll gives every file with new lines a share: a long backlog does not hold back the others,
    /// whichever file the poll starts with.
    @Test func aBacklogDoesNotHoldBackAnotherFile() throws {
        let t = Loop()
        t.folder.append("backlog.log", Self.lines(20_000))
        var c = t.config()
        c.ingest.batchBytes = 1 << 18
        let p = t.pipeline(c)
        #expect(try p.prepare())
        #expect(try p.turn())
        _ = t.mailbox.take()
        p.batchSeconds = .infinity  // the time limit is not what is tested here
        // Four rounds: whichever file a poll starts with (the start turns), the outage is in the batch.
        for round in 0..<4 {
            t.folder.append("outage.log", Self.lines(1, model: "down\(round)"))
            try p.sweepNow()
            #expect(try p.turn())
            #expect(Self.told(t.mailbox, "down\(round)"), "round \(round)")
        }
        #expect(t.telemetry.figures.files.unreadBytes > 0)  // the backlog is still being read
    }
}
