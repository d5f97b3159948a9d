import Foundation
import Testing

/// The unit file passes `systemd-analyze verify` and scores 2.0 or less ("OK") in
/// `systemd-analyze security --offline=true`.
@Suite struct SystemdUnitTests {
    /// The unit, with the binary path pointed at the one just built (verify checks it exists).
    func unitCopy(_ ws: Workspace) throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("systemd/aimon.service").path
        let text = try String(contentsOfFile: source, encoding: .utf8).replacingOccurrences(of: "/usr/local/bin/aimon", with: aimonBinary)
        try text.write(toFile: ws.path("aimon.service"), atomically: true, encoding: .utf8)
        return ws.path("aimon.service")
    }

    func analyze(_ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func theUnitVerifies() throws {
        let ws = Workspace()
        let r = try analyze(["verify", try unitCopy(ws)])
        #expect(r.status == 0 && r.output.isEmpty, "\(r.output)")
    }

    @Test func theUnitIsHardened() throws {
        let ws = Workspace()
        let r = try analyze(["security", "--offline=true", "--no-pager", try unitCopy(ws)])
        let line = r.output.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        #expect(score != nil && score! <= 2.0, "\(line)")
    }
}
