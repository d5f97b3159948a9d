import Foundation
import Testing
@testable import AimonCore
import AimonSamples

@Suite struct TailerTests {
    @Test func appendAndPartialLines() throws {
        let dir = LogFolder()
        dir.append("a.log", "one\ntwo\n")
        let h = try TailerHarness(folder: dir)
        #expect(try h.poll() == ["one", "two"])
        dir.append("a.log", "thr")
        #expect(try h.poll() == [])
        dir.append("a.log", "ee\nfour\n")
        #expect(try h.poll() == ["three", "four"])
        #expect(try h.poll() == [])
    }

    @Test func aFileStartedWithAByteOrderMarkReadsItsFirstLine() throws {
        let dir = LogFolder()
        dir.append("a.log", "\u{FEFF}{\"model_name\":\"m\",\"success\":true}\nsecond\n")
        let h = try TailerHarness(folder: dir)
        let lines = try h.poll()
        #expect(lines == [#"{"model_name":"m","success":true}"#, "second"])
        let first = Array(lines[0].utf8)
        #expect(first.withUnsafeBufferPointer { (try? NativeParser().parse($0))?.model } == "m")
    }

    @Test func startAtEndSkipsExistingLinesButNotNewFiles() throws {
        let dir = LogFolder()
        dir.append("a.log", "old1\nold2\npartial")
        let h = try TailerHarness(folder: dir, startAt: .end)
        #expect(try h.poll() == [])
        dir.append("a.log", "-done\nnew\n")
        // The unfinished line at start-up is read once complete, from its start.
        #expect(try h.poll() == ["partial-done", "new"])
        dir.append("b.log", "b1\n")  // appears later: read from its start
        try h.tailer.rescan()
        #expect(try h.poll() == ["b1"])
    }

    @Test func renameRotationReadsTheOldFileToItsEnd() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n2\n")
        let h = try TailerHarness(folder: dir)
        #expect(try h.poll() == ["1", "2"])
        dir.append("a.log", "3\n")
        dir.rename("a.log", "a.log.1")  // not matched by *.log
        dir.append("a.log.1", "4\n")    // the writer still had it open
        dir.append("a.log", "5\n")      // the new file
        try h.tailer.sweep(fullRescan: true)
        #expect(Set(try h.poll()) == ["3", "4", "5"])
        try h.commit()
        // Idle for two sweeps: the rotated file is let go. Its checkpoint is kept, no longer held, so
        // that it resumes at its end if it comes back (or is replayed).
        try h.tailer.sweep(fullRescan: true)
        try h.tailer.sweep(fullRescan: true)
        #expect(h.tailer.openFiles == 1)
        #expect(h.tailer.counters.filesClosed == 1)
        try h.commit()
        #expect(h.checkpoints.count == 2)
        #expect(h.checkpoints.values.filter(\.held).count == 1 && h.checkpoints.values.filter { !$0.held }.count == 1)
    }

    @Test func rotatedNameStillMatchingTheGlobIsNotReadTwice() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n2\n")
        let h = try TailerHarness(folder: dir, pattern: "a.log*")
        #expect(try h.poll() == ["1", "2"])
        dir.rename("a.log", "a.log.1")
        dir.append("a.log", "3\n")
        try h.tailer.sweep(fullRescan: true)
        #expect(try h.poll() == ["3"])
    }

    @Test func copytruncateAndTruncationStartAgainAtZero() throws {
        let dir = LogFolder()
        dir.append("a.log", "aaaa\nbbbb\ncccc\n")
        let h = try TailerHarness(folder: dir)
        #expect(try h.poll() == ["aaaa", "bbbb", "cccc"])
        dir.copy("a.log", "a.copy")
        dir.truncate("a.log")
        dir.append("a.log", "d\n")
        #expect(try h.poll() == ["d"])
        #expect(h.tailer.counters.truncations == 1)
        // Truncated and rewritten past the old offset between two looks: the head changed.
        try h.commit()
        dir.truncate("a.log")
        dir.append("a.log", "eeeeeeeeee\nf\n")
        try h.tailer.sweep(fullRescan: true)
        #expect(try h.poll() == ["eeeeeeeeee", "f"])
    }

    @Test func deletionAndRecreation() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n")
        let h = try TailerHarness(folder: dir)
        #expect(try h.poll() == ["1"])
        dir.append("a.log", "2\n")
        dir.remove("a.log")  // deleted with an unread line: still read through the open descriptor
        try h.tailer.sweep(fullRescan: true)
        #expect(try h.poll() == ["2"])
        dir.append("a.log", "new1\n")  // a new file at the same path
        try h.tailer.sweep(fullRescan: true)
        #expect(try h.poll() == ["new1"])
    }

    /// `exec 3>>gw.jsonl; rm gw.jsonl; sleep 3; echo ... >&3`: a writer that still holds a deleted
    /// (or rotated) log writes after it went idle. It is kept open until idle for `rotate_wait`.
    @Test func aDeletedFileStillWrittenIsReadUntilIdleForRotateWait() throws {
        let dir = LogFolder()
        dir.append("gw.log", "1\n")
        let writer = try #require(FileHandle(forWritingAtPath: dir.file("gw.log")))
        defer { writer.closeFile() }
        writer.seekToEndOfFile()
        let h = try TailerHarness(folder: dir, rotateWait: 60)
        #expect(try h.poll() == ["1"])
        dir.remove("gw.log")
        try h.tailer.sweep(fullRescan: true, now: 100)
        #expect(try h.poll(sweep: false) == [])
        try h.tailer.sweep(fullRescan: true, now: 103)  // read to its end and idle since the last sweep: let go before
        writer.write(Data("2\n".utf8))
        try h.tailer.sweep(fullRescan: true, now: 104)
        #expect(try h.poll(sweep: false) == ["2"])
        try h.tailer.sweep(fullRescan: true, now: 163)
        #expect(h.tailer.openFiles == 1)  // idle for 59 s
        try h.tailer.sweep(fullRescan: true, now: 164)
        #expect(h.tailer.openFiles == 0)
        #expect(h.tailer.counters.filesClosed == 1)
    }

    /// Many rotated files held by late writers: no more than the cap stay open, the idlest go first.
    @Test func detachedFilesKeptOpenAreCapped() throws {
        let dir = LogFolder()
        for i in 0..<5 { dir.append("\(i).log", "line \(i)\n") }
        let h = try TailerHarness(folder: dir, rotateWait: 60, maxDetachedOpen: 2)
        #expect(try h.poll().count == 5)
        for i in 0..<5 { dir.rename("\(i).log", "\(i).old") }
        try h.tailer.sweep(fullRescan: true, now: 100)
        #expect(try h.poll(sweep: false) == [])
        try h.tailer.sweep(fullRescan: true, now: 101)
        #expect(h.tailer.openFiles == 2)
        #expect(h.tailer.counters.filesClosed == 3)
    }

    @Test func differentFileAtTheSamePathWhileStoppedIsReadFromZero() throws {
        let dir = LogFolder()
        dir.append("a.log", "first file line\n")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        dir.remove("a.log")
        dir.append("a.log", "second file, longer first line\nmore\n")  // may even reuse the inode
        try h.crashAndRestart()
        #expect(try h.poll() == ["second file, longer first line", "more"])
    }

    @Test func sameFileWhileStoppedResumesAtItsCheckpoint() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n2\n")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        dir.append("a.log", "3\n")
        try h.crashAndRestart()
        #expect(try h.poll() == ["3"])
    }

    @Test func truncatedAndRefilledWithTheSameHeadIsNotResumedMidLine() throws {
        let dir = LogFolder()
        dir.append("a.log", "same head\nA1\nA2\n")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        dir.truncate("a.log")
        dir.append("a.log", "same head\nB1-longer\nB2\n")  // same first line, longer than the old offset
        try h.crashAndRestart()  // before any commit saw the truncation
        #expect(try h.poll() == ["same head", "B1-longer", "B2"])
    }

    @Test func aNoticedTruncationIsCheckpointedAtOnce() throws {
        let dir = LogFolder()
        dir.append("a.log", "1111\n2222\n")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        dir.truncate("a.log")
        try h.pollAndCommit()  // no new line yet, but the position moved back to 0
        #expect(h.checkpoints.values.map(\.offset) == [0])
    }

    @Test func overlongLinesAreSkippedAndCounted() throws {
        let dir = LogFolder()
        dir.append("a.log", "ok\n" + String(repeating: "x", count: 10_000) + "\nafter\n")
        let h = try TailerHarness(folder: dir, maxLineBytes: 100)
        #expect(try h.poll(budget: 1000) == ["ok", "after"])
        #expect(h.overlong == 1)
    }

    @Test func fileAppearingLaterIsFoundByInotify() throws {
        let dir = LogFolder()
        let waker = Waker()
        let h = try TailerHarness(folder: dir, waker: waker)
        #expect(h.tailer.watchedDirectories == 1)
        dir.append("late.log", "hello\n")
        // inotify wakes the loop (no sleeping: wait returns as soon as the event arrives).
        #expect(waker.wait(timeout: 10))
        // No sweep: the file is known from the inotify events alone.
        var got = try h.poll(sweep: false)
        while got.isEmpty, waker.wait(timeout: 10) { got += try h.poll(sweep: false) }
        #expect(got == ["hello"])
        dir.append("late.log", "again\n")
        got = []
        while got.isEmpty, waker.wait(timeout: 10) { got += try h.poll(sweep: false) }
        #expect(got == ["again"])
    }

    /// `mv logs logs.old; mkdir logs`: the watch follows the old folder away, so the new one is
    /// watched at once (not at the full sweep, a minute later) and its files found by inotify alone.
    @Test func aSourceFolderRenamedAwayIsWatchedAgainAtOnce() throws {
        let dir = LogFolder()
        try FileManager.default.createDirectory(atPath: dir.file("logs"), withIntermediateDirectories: true)
        dir.append("logs/a.log", "old\n")
        let waker = Waker()
        let h = try TailerHarness(folder: dir, pattern: "logs/*.log", waker: waker)
        #expect(try h.poll(sweep: false) == ["old"])
        dir.rename("logs", "logs.old")
        try FileManager.default.createDirectory(atPath: dir.file("logs"), withIntermediateDirectories: true)
        dir.append("logs/b.log", "new\n")
        var got: [String] = []
        while !got.contains("new"), waker.wait(timeout: 5) { got += try h.poll(sweep: false) }
        #expect(got.contains("new"))
    }

    @Test func aSourceFolderCreatedLaterIsFoundAtTheNextSweep() throws {
        let dir = LogFolder()
        let later = dir.path + "/later"
        let tailer = try Tailer(sources: [TailSource(pattern: later + "/*.log", startAt: .end)], maxLineBytes: 1024,
                                checkpoints: [:], follow: true, waker: nil, logger: quietLogger)
        try tailer.rescan()
        #expect(tailer.openFiles == 0 && tailer.watchedDirectories == 0)
        try FileManager.default.createDirectory(atPath: later, withIntermediateDirectories: true)
        dir.append("later/a.log", "x\n")
        try tailer.sweep()  // the default policy: a folder not watched yet is looked for at every sweep
        #expect(tailer.openFiles == 1 && tailer.watchedDirectories == 1)
        var lines: [String] = []
        _ = try tailer.poll(maxBytes: 1 << 20) { _, e, _ in if case let .line(b) = e { lines.append(String(decoding: b, as: UTF8.self)) } }
        #expect(lines == ["x"])  // a file that appears after start-up is read from its start
    }

    @Test func manyFilesOneInotifyInstance() throws {
        let dir = LogFolder()
        for i in 0..<1000 { dir.append("f\(i).log", "line \(i)\n") }
        let h = try TailerHarness(folder: dir)
        #expect(try h.poll(budget: 1 << 20).count == 1000)
        #expect(h.tailer.openFiles == 1000)
        #expect(h.tailer.watchedDirectories == 1)
        dir.append("f500.log", "more\n")
        #expect(try h.poll() == ["more"])
    }

    /// Random sequences of writes, rotations, truncations, deletions and crash-restarts, checked
    /// against a model: every complete line written is committed exactly once.
    @Test(arguments: 0..<60)
    func randomOperationsDeliverEveryLineExactlyOnce(seed: Int) throws {
        let dir = LogFolder()
        var rng = SplitMix64(seed: UInt64(seed) &* 7919 &+ 1)
        let h = try TailerHarness(folder: dir, pattern: "*.log*", maxLineBytes: 64)
        var written: [String] = []
        var nextID = 0
        var rotations = 0
        var partial: [String: String] = [:]  // file -> unfinished line being written
        let names = ["a.log", "b.log"]
        func newLine() -> String {
            nextID += 1
            return "L\(nextID)-" + String(repeating: "x", count: Int(rng.next() % 20))
        }
        for _ in 0..<300 {
            let name = names[Int(rng.next() % 2)]
            switch rng.next() % 100 {
            case 0..<45:  // append complete lines, sometimes finishing a partial one
                var text = ""
                if let p = partial.removeValue(forKey: name) { text += p.split(separator: "|")[1] + "\n"; written.append(String(p.split(separator: "|")[0]) + String(p.split(separator: "|")[1])) }
                for _ in 0..<(1 + Int(rng.next() % 5)) { let l = newLine(); written.append(l); text += l + "\n" }
                dir.append(name, text)
            case 45..<52:  // start a line without its newline
                guard partial[name] == nil else { continue }
                let l = newLine()
                let cut = l.index(l.startIndex, offsetBy: 2)
                partial[name] = String(l[..<cut]) + "|" + String(l[cut...])
                dir.append(name, String(l[..<cut]))
            case 52..<57:  // an overlong line: skipped, never delivered
                dir.append(name, String(repeating: "z", count: 100) + "\n")
                partial[name] = nil
            case 57..<72:
                try h.poll(budget: 1 + Int(rng.next() % 300))
                if rng.next() % 3 != 0 { try h.commit() }
            case 72..<80:  // rotate by rename (to a name the glob still matches) + create
                guard dir.exists(name), partial[name] == nil else { continue }
                rotations += 1
                dir.rename(name, "\(name).\(rotations)")
                dir.append(name, "")
                try h.tailer.sweep(fullRescan: true)
            case 80..<86:  // truncate (with copytruncate's copy) once the tailer has caught up
                guard dir.exists(name), partial[name] == nil else { continue }
                try h.tailer.sweep(fullRescan: true); try h.pollAndCommit()
                if rng.next() % 2 == 0 { dir.copy(name, "copy-of-" + name.prefix(1)) }  // outside the glob
                dir.truncate(name)
                try h.tailer.sweep(fullRescan: true)
            case 86..<90:  // delete a rotated file once it has been read
                guard rotations > 0 else { continue }
                let old = "\(names[Int(rng.next() % 2)]).\(1 + Int(rng.next() % UInt64(rotations)))"
                guard dir.exists(old) else { continue }
                try h.tailer.sweep(fullRescan: true); try h.pollAndCommit()
                dir.remove(old)
                try h.tailer.sweep(fullRescan: true)
            case 90..<96:
                try h.tailer.sweep(fullRescan: true)
            default:  // crash: uncommitted work is lost, a new tailer resumes from checkpoints
                try h.crashAndRestart()
            }
        }
        for (name, p) in partial {
            let parts = p.split(separator: "|")
            dir.append(name, parts[1] + "\n")
            written.append(String(parts[0] + parts[1]))
        }
        try h.tailer.sweep(fullRescan: true)
        try h.pollAndCommit()
        var seen = Set<String>()
        let twice = h.committedLines.filter { !seen.insert($0).inserted }
        #expect(twice.isEmpty, "committed twice: \(twice.prefix(5))")
        let missing = Set(written).subtracting(seen)
        let extra = seen.subtracting(written)
        #expect(missing.isEmpty, "missing: \(missing.sorted().prefix(5))")
        #expect(extra.isEmpty, "extra: \(extra.sorted().prefix(5))")
        #expect(written.count > 100)
    }
}

/// The edges where a tailer loses or doubles lines: each of these lost or doubled some before.
@Suite struct TailerEdgeTests {
    @Test func aGlobThatFailsOrMissesFilesKeepsTheFilesOpen() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n")
        nonisolated(unsafe) var failing = false
        nonisolated(unsafe) var silent = false
        let pattern = dir.path + "/*.log"
        let list: (String) -> (paths: [String], failure: String?) = { p in
            if failing { return ([], "glob(\(p)): read error 2") }
            if silent { return ([], nil) }  // a folder it could not read: no error, no files
            return FileSystem.glob(p)
        }
        var tailer = try Tailer(sources: [TailSource(pattern: pattern, startAt: .beginning)], maxLineBytes: 1024,
                                checkpoints: [:], follow: true, waker: nil, logger: quietLogger, list: list)
        try tailer.rescan()
        var lines: [String] = []
        func poll() throws { _ = try tailer.poll(maxBytes: 1 << 20) { _, e, _ in if case let .line(b) = e { lines.append(String(decoding: b, as: UTF8.self)) } } }
        try poll()
        var stored: [String: String] = [:]
        func commit() throws {
            let changes = try tailer.pendingChanges(now: 1_795_773_600)
            for ch in changes { stored[ch.id] = ch.new.isEmpty ? nil : ch.new }
            tailer.committed(changes)
        }
        try commit()
        for mode in [0, 1] {
            failing = mode == 0
            silent = mode == 1
            for _ in 0..<3 {
                try tailer.sweep(fullRescan: true)
                try poll()
            }
            #expect(tailer.openFiles == 1, "mode \(mode)")
            failing = false; silent = false
            dir.append("a.log", "more\(mode)\n")
            try tailer.sweep(fullRescan: true)
            try poll()
        }
        #expect(lines == ["1", "more0", "more1"])
        try commit()
        // A restart whose first glob fails: the file is not found, but its checkpoint is not lost, and
        // once the glob works again it resumes where it was.
        failing = true
        tailer = try Tailer(sources: [TailSource(pattern: pattern, startAt: .beginning)], maxLineBytes: 1024,
                            checkpoints: stored, follow: true, startedBefore: [pattern], waker: nil, logger: quietLogger, list: list)
        try tailer.rescan()
        try commit()
        failing = false
        dir.append("a.log", "after\n")
        try tailer.sweep(fullRescan: true)
        try poll()
        #expect(lines == ["1", "more0", "more1", "after"])
    }

    @Test func aFileMovedOutOfTheGlobsAndBackResumesWhereItWas() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n2\n")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        dir.rename("a.log", "a.keep")  // out of *.log: read to its end, then let go
        try h.pollAndCommit()
        for _ in 0..<2 { try h.tailer.sweep(fullRescan: true) }
        try h.commit()
        #expect(h.tailer.openFiles == 0)
        dir.rename("a.keep", "a.log")
        dir.append("a.log", "3\n")
        try h.pollAndCommit()
        #expect(h.committedLines == ["1", "2", "3"])
        // The same across a restart while it was away.
        dir.rename("a.log", "a.keep")
        try h.pollAndCommit()
        for _ in 0..<2 { try h.tailer.sweep(fullRescan: true) }
        try h.commit()
        #expect(h.tailer.openFiles == 0)
        try h.crashAndRestart()
        dir.rename("a.keep", "a.log")
        try h.pollAndCommit()
        #expect(h.committedLines == ["1", "2", "3"])
    }

    @Test func startAtEndDoesNotSkipLinesWrittenWhileStopped() throws {
        let dir = LogFolder()
        dir.append("idle.log", "old1\nold2\n")
        let h = try TailerHarness(folder: dir, startAt: .end)
        try h.pollAndCommit()
        #expect(h.committedLines.isEmpty)  // start_at: end, on the first start
        try h.crashAndRestart()  // stopped: the file stayed idle, nothing was ever read from it
        dir.append("idle.log", "written while stopped\n")
        dir.append("new.log", "a file that appeared while stopped\n")
        try h.crashAndRestart()
        try h.pollAndCommit()
        #expect(Set(h.committedLines) == ["written while stopped", "a file that appeared while stopped"])
    }

    @Test func aCutUnfinishedLineDoesNotRereadTheFile() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n2\npart")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        #expect(h.committedLines == ["1", "2"])
        truncate(dir.file("a.log"), 4)  // the writer trims its torn last line
        try h.pollAndCommit()
        dir.append("a.log", "3\n")
        try h.pollAndCommit()
        #expect(h.committedLines == ["1", "2", "3"])
        #expect(h.tailer.counters.truncations == 0)
    }

    @Test func aFileTruncatedAndRefilledPastTheOffsetIsNoticedWhenRead() throws {
        let dir = LogFolder()
        dir.append("a.log", "aaaa\nbbbb\n")
        let waker = Waker()
        let h = try TailerHarness(folder: dir, waker: waker)
        try h.poll(sweep: false)
        try h.commit()
        dir.truncate("a.log")
        dir.append("a.log", "xxxxxxxxxxxxxxx\nyy\n")  // longer than what was read: no shrinking to see
        // Read as inotify says it changed, with no sweep in between.
        var got: [String] = []
        while got.count < 2, waker.wait(timeout: 10) { got += try h.poll(sweep: false) }
        #expect(got == ["xxxxxxxxxxxxxxx", "yy"])
    }

    @Test func anUnreadablePathIsSkippedNotFatal() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n")
        symlink(dir.file("loop.log"), dir.file("loop.log"))  // stat: ELOOP
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        #expect(h.committedLines == ["1"])
        try h.tailer.sweep(fullRescan: true)
    }

    /// A file let go keeps its checkpoint until the retention has passed since it was let go (a
    /// replay of it, or its return to a glob, resumes there), not until the next prune.
    @Test func aFileLetGoKeepsItsCheckpointUntilItIsOldEnough() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        dir.rename("a.log", "a.old")
        try h.tailer.sweep(fullRescan: true, now: 100)
        try h.poll(sweep: false)
        try h.tailer.sweep(fullRescan: true, now: 101)
        #expect(h.tailer.openFiles == 0)
        try h.commit(now: 1_795_773_600)
        #expect(h.checkpoints.count == 1 && h.checkpoints.values.allSatisfy { !$0.held })
        h.tailer.pruneCheckpoints(before: 1_795_773_600 - 1)  // let go after this: kept
        try h.commit(now: 1_795_773_700)
        #expect(h.checkpoints.count == 1)
        h.tailer.pruneCheckpoints(before: 1_795_773_600 + 1)
        try h.commit(now: 1_795_773_800)
        #expect(h.checkpoints.isEmpty)
    }

    /// rotate_wait counts from the rotation, not from the last write: a log quiet for long before it
    /// was rotated still waits for a late writer.
    @Test func rotateWaitCountsFromTheRotation() throws {
        let dir = LogFolder()
        dir.append("gw.log", "1\n")
        let h = try TailerHarness(folder: dir, rotateWait: 60)
        #expect(try h.poll(sweep: false) == ["1"])  // the harness's own sweep would use the wall clock
        try h.tailer.sweep(fullRescan: true, now: 0)
        try h.tailer.sweep(fullRescan: true, now: 600)  // quiet for ten minutes
        dir.rename("gw.log", "gw.old")
        try h.tailer.rescan()  // as inotify's rename event makes the next poll do
        #expect(try h.poll(sweep: false) == [])
        try h.tailer.sweep(fullRescan: true, now: 610)
        #expect(h.tailer.openFiles == 1)
        dir.append("gw.old", "late\n")
        try h.tailer.sweep(fullRescan: true, now: 620)
        #expect(try h.poll(sweep: false) == ["late"])
    }

    /// A source that matches nothing is said at start, 5 minutes later, then hourly; its first file
    /// is said too.
    @Test func aSourceThatReadsNothingIsSaidAtStartThenLessOften() throws {
        let dir = LogFolder()
        let log = CapturedLog()
        let h = try TailerHarness(folder: dir, pattern: "later/*.log", logger: log.logger)
        func said() -> [String] { log.lines.filter { $0.contains("reads nothing") || $0.contains("first file") } }
        #expect(said().count == 1 && said()[0].contains("its folder \(dir.path)/later does not exist"), "\(said())")
        for t in stride(from: 0.0, through: 3899, by: 1) { try h.tailer.sweep(fullRescan: false, now: t) }
        #expect(said().count == 2 && said()[1].contains("reads nothing still"), "\(said())")
        try h.tailer.sweep(fullRescan: false, now: 3900)
        #expect(said().count == 3, "\(said())")
        try FileManager.default.createDirectory(atPath: dir.file("later"), withIntermediateDirectories: true)
        dir.append("later/a.log", "1\n")
        try h.tailer.sweep(fullRescan: true, now: 3901)
        #expect(said().count == 4 && said()[3].contains("its first file appeared"), "\(said())")
        #expect(try h.poll(sweep: false) == ["1"])
        for t in stride(from: 3902.0, through: 8000, by: 100) { try h.tailer.sweep(fullRescan: false, now: t) }
        #expect(said().count == 4)
    }

    @Test func checkpointsOfFilesGoneWhileStoppedAreReleasedThenPruned() throws {
        let dir = LogFolder()
        dir.append("a.log", "1\n")
        dir.append("b.log", "2\n")
        let h = try TailerHarness(folder: dir)
        try h.pollAndCommit()
        #expect(h.checkpoints.values.allSatisfy(\.held) && h.checkpoints.count == 2)
        dir.remove("b.log")
        try h.crashAndRestart()
        try h.commit()
        #expect(h.checkpoints.values.filter(\.held).count == 1 && h.checkpoints.count == 2)
        h.tailer.pruneCheckpoints(before: 1_795_773_600 - 1)  // not yet old enough
        try h.commit()
        #expect(h.checkpoints.count == 2)
        h.tailer.pruneCheckpoints(before: 1_795_773_600 + 1)
        try h.commit()
        #expect(h.checkpoints.count == 1 && h.checkpoints.values.allSatisfy(\.held))
    }
}

@Suite struct OpenFileLimitTests {
    /// EMFILE names the limit and how to raise it; it is not a permission problem.
    @Test func theHintNamesTheLimitAndHowToRaiseIt() {
        var lim = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
        let hint = FileSystem.openFileLimitHint(errno: EMFILE)
        #expect(hint.contains("soft \(lim.rlim_cur), hard \(lim.rlim_max)") && hint.contains("LimitNOFILE="), "\(hint)")
        #expect(!hint.contains("read access"))
        #expect(FileSystem.openFileLimitHint(errno: ENFILE).contains("fs.file-max"))
    }

    /// At start, files that may not fit under the limit are said before an open fails.
    @Test func tailedFilesNearTheLimitAreSaidAtStart() {
        #expect(FileSystem.openFileLimitProblem(files: 100, soft: 16384) == nil)
        #expect(FileSystem.openFileLimitProblem(files: 1000, soft: 1024)?.contains("1000 files are tailed and the open-file limit is 1024") == true)
        #expect(FileSystem.openFileLimitProblem(files: 900, soft: 1024)?.contains("LimitNOFILE=") == true)  // with headroom
    }
}

/// An idle daemon stays idle: inotify reports writes in watched folders, so a sweep stats only the
/// files it cannot vouch for (rotated away or deleted ones), and every file once a minute.
@Suite struct IdleSweepTests {
    @Test func sweepsStatOnlyWhatInotifyCannotSee() throws {
        let folder = LogFolder()
        for i in 0..<5 { folder.append("f\(i).log", "{}\n") }
        let h = try TailerHarness(folder: folder, rotateWait: 3600)
        h.tailer.counters.filesSwept = 0
        let t0 = wallClock()
        try h.tailer.sweep(fullRescan: nil, now: t0)          // the first sweep is a full one
        #expect(h.tailer.counters.filesSwept == 5)
        for s in 1...10 { try h.tailer.sweep(fullRescan: nil, now: t0 + Double(s)) }
        #expect(h.tailer.counters.filesSwept == 5)           // ten quiet sweeps stat nothing
        // A file rotated out of the globs is no longer in a watched name: every sweep looks at it.
        folder.rename("f0.log", "f0.old")
        try h.tailer.sweep(fullRescan: true, now: t0 + 11)
        #expect(h.tailer.counters.filesSwept == 10)
        try h.tailer.sweep(fullRescan: nil, now: t0 + 12)
        try h.tailer.sweep(fullRescan: nil, now: t0 + 13)
        #expect(h.tailer.counters.filesSwept == 12)
        // A minute after the last full sweep, everything again.
        try h.tailer.sweep(fullRescan: nil, now: t0 + 11 + Tailer.fullSweepEvery)
        #expect(h.tailer.counters.filesSwept == 17)
    }

    /// Ingest sleeps through `sweep_interval` (for an idle wait) unless a sweep has files to look at
    /// between the full ones: inotify wakes it for every change of the others.
    @Test func onlyFilesInotifyCannotSeeAskForFrequentSweeps() throws {
        let folder = LogFolder()
        for i in 0..<3 { folder.append("f\(i).log", "{}\n") }
        let h = try TailerHarness(folder: folder, rotateWait: 3600)
        #expect(h.tailer.sweepsOften)  // nothing swept yet
        let t0 = wallClock()
        try h.tailer.sweep(fullRescan: nil, now: t0)
        #expect(!h.tailer.sweepsOften)
        folder.rename("f0.log", "f0.old")  // rotated away: each sweep looks at it until rotate_wait
        try h.tailer.sweep(fullRescan: true, now: t0 + 1)
        #expect(h.tailer.sweepsOften)
        folder.append("f3.log", "{}\n")
        _ = try h.tailer.poll(maxBytes: 4096) { _, _, _ in }
        try h.tailer.sweep(fullRescan: true, now: t0 + 2)
        #expect(h.tailer.sweepsOften)  // f0.old still open
    }

    /// A file rotated away between two sweeps (inotify's rename, no new file yet) asks for them at
    /// once: its writer may still append, and only a sweep sees that.
    @Test func aFileRotatedAwayBetweenSweepsAsksForThemAtOnce() throws {
        let folder = LogFolder()
        folder.append("app.log", "{}\n")
        let waker = Waker()
        let h = try TailerHarness(folder: folder, rotateWait: 3600, waker: waker)
        try h.tailer.sweep(fullRescan: nil, now: wallClock())
        _ = try h.poll(sweep: false)
        #expect(!h.tailer.sweepsOften)
        folder.rename("app.log", "app.log.1")  // logrotate's nocreate: no new app.log
        #expect(waker.wait(timeout: 10))
        _ = try h.poll(sweep: false)
        #expect(h.tailer.openFiles == 1)
        #expect(h.tailer.sweepsOften)
    }

    /// A source folder on a file system whose changes inotify does not report (NFS, SMB, FUSE...;
    /// procfs here): files another host makes there are found by the glob every 5th sweep, not at the
    /// full sweep a minute later.
    @Test func aFolderInotifyCannotSeeIsGlobbedOften() throws {
        let tailer = try Tailer(sources: [TailSource(pattern: "/proc/sys/kernel/*.log", startAt: .beginning)], maxLineBytes: 1024,
                                checkpoints: [:], follow: true, waker: Waker(), logger: quietLogger)
        try tailer.sweep(fullRescan: nil, now: wallClock())
        #expect(tailer.sweepsOften)
        let folder = LogFolder()  // the control: a local folder
        let local = try Tailer(sources: [TailSource(pattern: folder.path + "/*.log", startAt: .beginning)], maxLineBytes: 1024,
                               checkpoints: [:], follow: true, waker: Waker(), logger: quietLogger)
        try local.sweep(fullRescan: nil, now: wallClock())
        #expect(!local.sweepsOften)
    }

    /// The bytes not read yet follow the reads too, not only the (now rare) sweeps of a file.
    @Test func unreadBytesFollowWhatReadsSee() throws {
        let folder = LogFolder()
        folder.append("big.log", String(repeating: "{\"a\":1}\n", count: 1000))
        let h = try TailerHarness(folder: folder)
        try h.tailer.sweep(fullRescan: true)
        folder.append("big.log", String(repeating: "{\"a\":1}\n", count: 1000))  // after the sweep
        _ = try h.tailer.poll(maxBytes: 4096) { _, _, _ in }
        let size = Int64(2000 * 8)
        let file = try #require(h.tailer.openFile(id: h.tailer.storedCheckpoints.keys.first ?? ""))
        #expect(h.tailer.unreadBytes == size - file.committedOffset)
    }

    @Test func networkFileSystemsAreSwept() {
        // NFS, CIFS, FUSE, overlay: their writes can come from elsewhere, unseen by inotify.
        for magic: UInt64 in [0x6969, 0xFF53_4D42, 0x6573_5546, 0x794C_7630, 0] { #expect(!FileSystem.localFileSystems.contains(magic)) }
        let fd = open("/tmp", O_RDONLY)
        defer { close(fd) }
        #expect(FileSystem.inotifySeesWrites(fd: fd))  // tmpfs or ext4 here
    }
}

/// What inotify cannot vouch for, from the review of the idle sweep: such files are still looked at
/// every sweep, and a folder replaced under its path is watched again.
@Suite struct SweepCoverageTests {
    @Test func symlinkedAndHardLinkedFilesAreSweptEverySweep() throws {
        let folder = LogFolder()
        let elsewhere = LogFolder()
        elsewhere.append("target.log", "{}\n")
        folder.append("plain.log", "{}\n")
        symlink(elsewhere.file("target.log"), folder.file("link.log"))
        elsewhere.append("hard.src", "{}\n")
        link(elsewhere.file("hard.src"), folder.file("hard.log"))
        let h = try TailerHarness(folder: folder, rotateWait: 3600)
        let t0 = wallClock()
        try h.tailer.sweep(fullRescan: nil, now: t0)
        h.tailer.counters.filesSwept = 0
        try h.tailer.sweep(fullRescan: nil, now: t0 + 1)
        #expect(h.tailer.counters.filesSwept == 2)  // link.log and hard.log, not plain.log
        #expect(try h.poll(sweep: false).count == 3)  // the files' first lines
        // A line written through the other name is read at the next sweep, not a minute later.
        elsewhere.append("target.log", "{\"b\":1}\n")
        try h.tailer.sweep(fullRescan: nil, now: t0 + 2)
        #expect(try h.poll(sweep: false) == ["{\"b\":1}"])
    }

    @Test func aClockSteppedBackStillSweepsEverything() throws {
        let folder = LogFolder()
        folder.append("a.log", "{}\n")
        let h = try TailerHarness(folder: folder)
        let t0 = wallClock()
        try h.tailer.sweep(fullRescan: nil, now: t0)
        h.tailer.counters.filesSwept = 0
        try h.tailer.sweep(fullRescan: nil, now: t0 - 3600)
        #expect(h.tailer.counters.filesSwept == 1)
    }

    @Test func aFolderReplacedUnderItsPathIsWatchedAgain() throws {
        let parent = LogFolder()
        let dir = parent.file("logs")
        mkdir(dir, 0o755)
        let inotify = try Inotify(waker: Waker())
        #expect(try inotify.watch(directory: dir))
        _ = inotify.takeEvents()
        rename(dir, parent.file("logs.old"))
        mkdir(dir, 0o755)
        #expect(try inotify.watch(directory: dir))  // a new folder at the path: watched again, all looked at
        #expect(inotify.takeEvents().overflowed)
        #expect(FileManager.default.createFile(atPath: dir + "/new.log", contents: Data("x\n".utf8)))
        var names: [String] = []
        let deadline = wallClock() + 5  // the event comes from inotify's own queue: await it, bounded
        while !names.contains("new.log"), wallClock() < deadline {
            names += inotify.takeEvents().events.map(\.name)
            usleep(5_000)
        }
        #expect(names.contains("new.log"))
    }
}
