import AimonCore
import AimonSamples
import Foundation
import Testing

/// The exactly-once promise under faults, end to end: `aimon run` reaches a real Redis through a
/// proxy that stalls replies past the timeout, cuts connections mid-command and delivers commits
/// late, while writers append partial lines to several files and rotate them, and the daemon is
/// killed once. When the writers stop and the proxy calms down, every model's totals equal the truth.
@Suite(.serialized) struct ChaosTests {
    @Test(arguments: [UInt64(1), 2])
    func everyModelsTotalsEqualTheTruthAfterChaos(seed: UInt64) throws {
        let ws = Workspace()
        let server = try RedisServer()
        let proxy = try ChaosProxy(upstreamPort: server.port, hold: 0.6, seed: seed)
        // The daemon talks through the proxy with a short timeout; the checks talk to Redis directly.
        let config = ws.writeConfig(redis: proxy.url, extra: "alerts:\n  database: none")
        try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "timeout: 2s", with: "timeout: 300ms")
            .replacingOccurrences(of: "log_level: warning", with: "log_level: notice")
            .replacingOccurrences(of: "path: \(ws.dir)/*.jsonl", with: "path: \(ws.dir)/*.jsonl*")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let direct = ws.path("direct.yaml")
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: proxy.url, with: server.url)
            .write(toFile: direct, atomically: true, encoding: .utf8)

        var daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
        defer { if daemon.isRunning { daemon.terminate() }; daemon.waitUntilExit() }
        proxy.setChaos(true, rate: 0.35)

        var log = SampleLog(seed: seed)
        var rng = SplitMix64(seed: seed &* 31)
        let names = ["a", "b", "c"]
        var rotations = [0, 0, 0]
        var partial: [String?] = [nil, nil, nil]
        var total = 0
        let now = Date().timeIntervalSince1970
        func append(_ i: Int, _ text: String) {
            let path = ws.path(names[i] + ".jsonl")
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let h = FileHandle(forWritingAtPath: path)!
            h.seekToEndOfFile()
            h.write(Data(text.utf8))
            h.closeFile()
        }
        let start = Date()
        var killed = false
        /// At least 8 s, and until every kind of fault happened a few times and a commit was found to
        /// have landed already (at most 90 s: on a loaded machine, with the other suites running,
        /// commits, and so faults on them, come slower).
        var sawLanded = false
        var lastLook = Date.distantPast
        func chaosGoesOn() -> Bool {
            let elapsed = Date().timeIntervalSince(start)
            let fewest = ChaosProxy.Fault.allCases.map { proxy.injected[$0, default: 0] }.min() ?? 0
            if !sawLanded, Date().timeIntervalSince(lastLook) >= 1 {
                lastLook = Date()
                sawLanded = ((try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? "").contains("the batch had landed")
            }
            return elapsed < 8 || ((fewest < 3 || !sawLanded) && elapsed < 90)
        }
        while chaosGoesOn() {
            let i = Int(rng.next() % 3)
            switch rng.next() % 10 {
            case 0..<6:  // complete lines, finishing a partial one first
                var text = partial[i] ?? ""
                partial[i] = nil
                for _ in 0..<(1 + rng.next() % 40) {
                    text += log.line(at: now - 300 + Double(total % 200))
                    total += 1
                }
                append(i, text)
            case 6, 7:  // a line cut in two writes
                guard partial[i] == nil else { continue }
                let line = log.line(at: now - 300 + Double(total % 200))
                total += 1
                let cut = line.index(line.startIndex, offsetBy: 1 + Int(rng.next() % UInt64(line.count - 2)))
                append(i, String(line[..<cut]))
                partial[i] = String(line[cut...])
            case 8:  // rotate by rename: the old file is still matched, and finished by identity
                guard partial[i] == nil, FileManager.default.fileExists(atPath: ws.path(names[i] + ".jsonl")) else { continue }
                rotations[i] += 1
                try FileManager.default.moveItem(atPath: ws.path(names[i] + ".jsonl"), toPath: ws.path("\(names[i]).jsonl.\(rotations[i])"))
            default:
                usleep(useconds_t(20_000 + rng.next() % 80_000))
            }
            if !killed, Date().timeIntervalSince(start) > 4 {
                killed = true
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
                daemon = try startDaemon(config: config, log: ws.path("daemon.log"))
            }
        }
        for i in 0..<3 { if let p = partial[i] { append(i, p) } }
        proxy.setChaos(false)
        let chaosSeconds = Int(Date().timeIntervalSince(start))

        let redis = try server.connection()
        #expect(eventually(timeout: 120) { committedLines(redis, prefix: ws.prefix, host: ws.host) >= Int64(total) })
        #expect(eventually(timeout: 30) { daemonIsUp(redis, prefix: ws.prefix, host: ws.host, pid: daemon.processIdentifier) })
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(committedLines(redis, prefix: ws.prefix, host: ws.host) == Int64(total))
        #expect(reportedCounts(try statsJSON(config: direct)) == expectedStats(log.truth))
        // The faults really happened, each of them several times.
        let injected = proxy.injected
        for fault in ChaosProxy.Fault.allCases { #expect(injected[fault, default: 0] >= 3, "\(fault): \(injected)") }
        // A commit whose reply was lost was sent again and found to have landed (not applied twice).
        let text = (try? String(contentsOfFile: ws.path("daemon.log"), encoding: .utf8)) ?? ""
        #expect(text.contains("the batch had landed before the connection broke"))
        #expect(total > 2000)
        print("chaos seed \(seed): \(total) lines in \(chaosSeconds) s of chaos, faults \(injected.map { "\($0.key) \($0.value)" }.sorted()), daemon log: \(ws.path("daemon.log"))")
    }
}
