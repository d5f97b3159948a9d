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

    /// scripts/install.sh puts the binary, the unit, the catalog and the example configuration in
    /// place, never over an existing configuration, and --uninstall takes them away again.
    @Test func installAndUninstall() throws {
        let ws = Workspace()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        func install(_ args: [String]) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: root + "/scripts/install.sh")
            p.arguments = ["--destdir", ws.path("root")] + args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        let files = ["usr/local/bin/aimon", "etc/systemd/system/aimon.service", "usr/lib/systemd/catalog/aimon.catalog", "etc/aimon/aimon.yaml"]
        #expect(try install(["--binary", aimonBinary]) == 0)
        for f in files { #expect(FileManager.default.fileExists(atPath: ws.path("root/" + f)), "\(f)") }
        let config = ws.path("root/etc/aimon/aimon.yaml")
        try "# edited by the operator\n".write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try install(["--binary", aimonBinary]) == 0)
        #expect(try String(contentsOfFile: config, encoding: .utf8) == "# edited by the operator\n")
        // The credentials the unit loads (LoadCredential=) exist, readable by root only; a filled
        // one is kept by a reinstall.
        let secret = ws.path("root/etc/aimon/credentials/redis-password")
        #expect(try FileManager.default.attributesOfItem(atPath: secret)[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: ws.path("root/etc/aimon/credentials"))[.posixPermissions] as? Int == 0o700)
        try "pw\n".write(toFile: secret, atomically: false, encoding: .utf8)
        #expect(try install(["--binary", aimonBinary]) == 0)
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == "pw\n")
        let unit = try String(contentsOfFile: ws.path("root/etc/systemd/system/aimon.service"), encoding: .utf8)
        #expect(unit.contains("LoadCredential=redis-password:/etc/aimon/credentials/redis-password"))
        #expect(try install(["--uninstall"]) == 0)
        for f in files.dropLast() { #expect(!FileManager.default.fileExists(atPath: ws.path("root/" + f)), "\(f)") }
        #expect(FileManager.default.fileExists(atPath: config))
    }
}
