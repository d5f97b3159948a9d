import Foundation
import Logging
import Testing
@testable import AimonCore

/// A temporary folder of log files and helpers to write, rotate and truncate them.
final class LogFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "aimon-tail-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func append(_ name: String, _ text: String) {
        let p = file(name)
        if !FileManager.default.fileExists(atPath: p) { FileManager.default.createFile(atPath: p, contents: nil) }
        let h = FileHandle(forWritingAtPath: p)!
        h.seekToEndOfFile()
        h.write(Data(text.utf8))
        h.closeFile()
    }

    func rename(_ from: String, _ to: String) { try! FileManager.default.moveItem(atPath: file(from), toPath: file(to)) }
    func remove(_ name: String) { try! FileManager.default.removeItem(atPath: file(name)) }
    func truncate(_ name: String) { Foundation.truncate(file(name), 0) }
    func copy(_ from: String, _ to: String) {
        try? FileManager.default.removeItem(atPath: file(to))
        try! FileManager.default.copyItem(atPath: file(from), toPath: file(to))
    }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }
}

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Drives a tailer by hand (no timers): poll to collect lines, "commit" to take checkpoints.
final class TailerHarness {
    let folder: LogFolder
    let pattern: String
    let startAt: StartPosition
    let maxLineBytes: Int
    var tailer: Tailer
    /// Checkpoint texts as of the last commit, by identity key (what Redis would hold).
    var committed: [String: String] = [:]
    var committedLines: [String] = []
    var pendingLines: [String] = []
    var overlong = 0

    let rotateWait: Double
    let maxDetachedOpen: Int

    init(folder: LogFolder, pattern: String = "*.log", startAt: StartPosition = .beginning, maxLineBytes: Int = 1 << 20,
         rotateWait: Double = 0, maxDetachedOpen: Int = Tailer.defaultMaxDetachedOpen, waker: Waker? = nil,
         logger: Logger = quietLogger) throws {
        self.folder = folder
        self.pattern = folder.path + "/" + pattern
        self.startAt = startAt
        self.maxLineBytes = maxLineBytes
        self.rotateWait = rotateWait
        self.maxDetachedOpen = maxDetachedOpen
        tailer = try Tailer(sources: [TailSource(pattern: self.pattern, startAt: startAt)], maxLineBytes: maxLineBytes,
                            checkpoints: [:], follow: true, rotateWait: rotateWait, maxDetachedOpen: maxDetachedOpen,
                            waker: waker, logger: logger)
        try tailer.rescan()
        try commit()  // as the pipeline's first batch does: every file's starting position is committed
    }

    /// Reads everything available (in small budgets, to exercise resumption) and returns new lines.
    /// Sweeps first, so what is read never depends on when inotify events arrive.
    @discardableResult
    func poll(budget: Int = 4096, sweep: Bool = true) throws -> [String] {
        if sweep { try tailer.sweep(fullRescan: true) }
        var got: [String] = []
        while try tailer.poll(maxBytes: budget, { _, event, _ in
            switch event {
            case let .line(b): got.append(String(decoding: b, as: UTF8.self))
            case .overlong: overlong += 1
            }
        }) {}
        pendingLines += got
        return got
    }

    /// Commits as the pipeline does: every change must find the text it expects (a conditional commit).
    func commit(now: Int64 = 1_795_773_600) throws {
        let changes = try tailer.pendingChanges(now: now)
        for ch in changes {
            #expect((committed[ch.id] ?? "") == ch.expected, "commit condition of \(ch.id)")
            committed[ch.id] = ch.new.isEmpty ? nil : ch.new
        }
        tailer.committed(changes)
        committedLines += pendingLines
        pendingLines.removeAll()
    }

    /// The committed checkpoints, parsed.
    var checkpoints: [String: Checkpoint] { committed.compactMapValues(Checkpoint.init(encoded:)) }

    func pollAndCommit() throws { try poll(); try commit() }

    /// A crash: whatever was read since the last commit is lost; a new tailer starts from checkpoints.
    func crashAndRestart() throws {
        pendingLines.removeAll()
        tailer = try Tailer(sources: [TailSource(pattern: pattern, startAt: startAt)], maxLineBytes: maxLineBytes,
                            checkpoints: committed, follow: true, startedBefore: [pattern], rotateWait: rotateWait,
                            maxDetachedOpen: maxDetachedOpen, waker: nil, logger: quietLogger)
        try tailer.rescan()
    }
}
