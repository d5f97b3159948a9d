import Foundation
import Testing
@testable import AimonCore

/// The SQLite alert table on a real full filesystem (a 512 KiB tmpfs; mounting needs root, as CI
/// runs; elsewhere the test is reported skipped, and `AlertTableWriterTests` covers the logic with an
/// injected error).
@Suite(.serialized) struct AlertTableFullDiskTests {
    static let canMount: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")

    func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root"))
    func writesWaitWhileTheDiskIsFullAndLandOnceThereIsRoom() throws {
        let folder = LogFolder()
        let mnt = folder.file("mnt")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        try #require(run("/bin/mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt]) == 0)
        defer { _ = run("/bin/umount", [mnt]) }
        let db = mnt + "/alerts.db"
        _ = try SQLiteAlertTable(path: db).migrate()
        // Fill what is left (dd stops at ENOSPC).
        _ = run("/bin/dd", ["if=/dev/zero", "of=\(mnt)/filler", "bs=4k"])
        let log = CapturedLog()
        let writer = AlertTableWriter(host: "h", capacity: 100, logger: log.logger, retryBase: 0.01) { () throws(AlertTableError) in
            let t = try SQLiteAlertTable(path: db)
            try t.migrate()
            return t
        }
        writer.start()
        for i in 0..<20 { writer.deliver(AlertTableWriterTests.transition(.firing, "fp\(i)")) }
        #expect(waitFor { writer.stats.failures >= 3 }, "\(log.lines)")
        #expect(writer.stats.written == 0)
        #expect(writer.trouble?.contains("the filesystem holding it is full") == true, "\(writer.trouble ?? "nil")")
        try FileManager.default.removeItem(atPath: mnt + "/filler")
        #expect(waitFor { writer.stats.written == 20 }, "\(log.lines)")
        writer.stop(timeout: 10)
        #expect(try SQLiteAlertTable(path: db).list(AlertFilter()).count == 20)
        let lines = log.lines
        #expect(lines.filter { $0.contains("cannot write to the alert table") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.contains("is back") }.count == 1, "\(lines)")
        #expect(writer.trouble == nil)
    }

    /// Polls for at most ten seconds (the writer works on its own thread).
    func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            _ = Waker().wait(timeout: 0.01)
        }
        return condition()
    }
}
