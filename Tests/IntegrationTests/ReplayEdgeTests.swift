import AimonCore
import AimonSamples
import Foundation
import Testing

/// Replay beside a daemon, and restarts: no line counted twice, none skipped.
@Suite(.serialized) struct ReplayEdgeTests {
    let now = Date().timeIntervalSince1970

    func append(_ path: String, _ lines: [String]) {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let h = FileHandle(forWritingAtPath: path)!
        h.seekToEndOfFile()
        h.write(Data(lines.joined().utf8))
        h.closeFile()
    }

    /// 600 files under `ulimit -n 64`: replay reads them in turn, not all open at once.
    @Test func replayOfManyFilesUnderALowOpenFileLimitCountsEveryLine() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: none")
        var log = SampleLog(seed: 8)
        var paths: [String] = []
        for i in 0..<600 {
            ws.writeLog("f\(i).jsonl", log.lines(5, from: now - 3000 + Double(i), to: now - 2000 + Double(i)))
            paths.append(ws.path("f\(i).jsonl"))
        }
        let r = try runAimon(["replay", "--config", config] + paths, openFileLimit: 64)
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        #expect(!r.stderr.contains("Too many open files"), "\(r.stderr.suffix(2000))")
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
    }

    /// The daemon says at start that its files may not fit under its open-file limit.
    @Test func theDaemonWarnsWhenItsFilesMayNotFitUnderTheLimit() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: none")
        var log = SampleLog(seed: 10)
        for i in 0..<3 { ws.writeLog("f\(i).jsonl", log.lines(5, from: now - 600, to: now - 60)) }
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"), openFileLimit: 100)
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        func text() -> String { (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? "" }
        #expect(eventually(timeout: 30) { text().contains("3 files are tailed and the open-file limit is 100") }, "\(text())")
        #expect(text().contains("LimitNOFILE="))
        // It still reads them.
        let redis = try RedisServer.shared.connection()
        #expect(eventually(timeout: 30) { committedLines(redis, prefix: ws.prefix, host: ws.host) == 15 })
    }

    /// A file replay cannot read makes it fail, naming what was not read; the others are counted.
    @Test func replayFailsNamingTheFilesItCouldNotRead() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: none")
        var log = SampleLog(seed: 9)
        ws.writeLog("a.jsonl", log.lines(20, from: now - 600, to: now - 60))
        try FileManager.default.createDirectory(atPath: ws.path("folder.jsonl"), withIntermediateDirectories: true)
        let r = try runAimon(["replay", "--config", config, ws.path("a.jsonl"), ws.path("folder.jsonl")])
        #expect(r.status == 66, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("not read") && r.stderr.contains(ws.path("folder.jsonl")) && r.stderr.contains("not a regular file"),
                "\(r.stderr)")
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
    }

    @Test func replayRefusesAFileTheRunningDaemonReads() throws {
        let ws = Workspace()
        let config = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: none")
        var log = SampleLog(seed: 3)
        ws.writeLog("gw.jsonl", log.lines(500, from: now - 600, to: now - 60))
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let redis = try RedisServer.shared.connection()
        #expect(eventually(timeout: 30) { committedLines(redis, prefix: ws.prefix, host: ws.host) == 500 })
        #expect(eventually(timeout: 30) { daemonIsUp(redis, prefix: ws.prefix, host: ws.host, pid: daemon.processIdentifier) })
        let r = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(r.status == 75, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("a running aimon of this host_id") && r.stderr.contains(ws.path("gw.jsonl")), "\(r.stderr)")
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
        // Once the daemon stopped, replay may read the file: it resumes at the daemon's checkpoint.
        daemon.terminate()
        daemon.waitUntilExit()
        append(ws.path("gw.jsonl"), log.lines(50, from: now - 50, to: now - 40))
        let again = try runAimon(["replay", "--config", config, ws.path("gw.jsonl")])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
    }

    @Test func replayOfARotatedFileTheDaemonReadCountsNothingTwice() throws {
        let ws = Workspace()
        // rotate_wait 1s: the rotated file is let go soon after it stays idle.
        let config = ws.writeConfig(redis: RedisServer.shared.url, ingest: "  rotate_wait: 1s", extra: "alerts:\n  database: none")
        var log = SampleLog(seed: 4)
        ws.writeLog("gw.jsonl", log.lines(300, from: now - 600, to: now - 300))
        let daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        let redis = try RedisServer.shared.connection()
        #expect(eventually(timeout: 30) { committedLines(redis, prefix: ws.prefix, host: ws.host) == 300 })
        // Rotated to a name outside the glob, with a last line the writer still had in hand; a new file.
        try FileManager.default.moveItem(atPath: ws.path("gw.jsonl"), toPath: ws.path("gw.jsonl.1"))
        append(ws.path("gw.jsonl.1"), log.lines(20, from: now - 300, to: now - 200))
        ws.writeLog("gw.jsonl", log.lines(30, from: now - 200, to: now - 100))
        #expect(eventually(timeout: 30) { committedLines(redis, prefix: ws.prefix, host: ws.host) == 350 })
        // The daemon lets the rotated file go once it has stayed idle for rotate_wait.
        #expect(eventually(timeout: 30) {
            let status = try? runAimon(["status", "--config", config]).stdout
            return status?.contains("1 file read and let go") == true
        })
        let r = try runAimon(["replay", "--config", config, ws.path("gw.jsonl.1")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("0 lines"), "\(r.stdout)")
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(log.truth))
    }

    @Test func startAtEndAppliesOnceNotAtEveryRestart() throws {
        let ws = Workspace()
        var config = ws.writeConfig(redis: RedisServer.shared.url, extra: "alerts:\n  database: none")
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "start_at: beginning", with: "start_at: end")
            .write(toFile: config, atomically: true, encoding: .utf8)
        config = ws.path("aimon.yaml")
        var before = SampleLog(seed: 8)
        ws.writeLog("idle.jsonl", before.lines(100, from: now - 900, to: now - 800))  // there before aimon: skipped
        let redis = try RedisServer.shared.connection()
        var daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        #expect(eventually(timeout: 30) { daemonIsUp(redis, prefix: ws.prefix, host: ws.host, pid: daemon.processIdentifier) })
        #expect(eventually(timeout: 30) { ((try? runAimon(["status", "--config", config]).stdout) ?? "").contains("1 file open") })
        daemon.terminate()
        daemon.waitUntilExit()
        // Written while aimon was stopped: to the idle file, and to a file that appeared meanwhile.
        var during = SampleLog(seed: 9)
        append(ws.path("idle.jsonl"), during.lines(40, from: now - 700, to: now - 600))
        ws.writeLog("new.jsonl", during.lines(60, from: now - 600, to: now - 500))
        daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        #expect(eventually(timeout: 30) { committedLines(redis, prefix: ws.prefix, host: ws.host) == 100 })
        #expect(reportedCounts(try statsJSON(config: config)) == expectedStats(during.truth))
    }
}
