import Foundation
import Testing

/// libpq, libcurl, libmicrohttpd and libcrypt are loaded when a part first needs them. On a system
/// without one (AIMON_TEST_NO_LIBRARY makes aimon take it for missing), that part fails with an error
/// that names the package to install, and the rest of aimon works.
@Suite struct MissingLibraryTests {
    static func config(_ ws: Workspace, http: String = "") -> String {
        let path = ws.path("aimon.yaml")
        try! """
        host_id: \(ws.host)
        sources:
          - path: \(ws.dir)/*.jsonl
        redis:
          url: \(RedisServer.shared.url)
          key_prefix: \(ws.prefix)
        alerts:
          database: postgres://aimon@127.0.0.1:1/aimon
          alertmanager:
            urls: [http://127.0.0.1:1]
        \(http)
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theAlertTableAndAlertmanagerSayWhichPackageIsMissing() throws {
        let ws = Workspace()
        let config = Self.config(ws)
        let missing = try runAimon(["check-config", "--config", config, "--connect"],
                                   environment: ["AIMON_TEST_NO_LIBRARY": "libpq.so.5 libcurl.so.4"])
        #expect(missing.status == 69)
        #expect(missing.stdout.contains("ok     redis"), "\(missing.stdout)")
        #expect(missing.stdout.contains("needs libpq, which cannot be loaded: libpq.so.5: cannot open shared object file"), "\(missing.stdout)")
        #expect(missing.stdout.contains("install libpq5"), "\(missing.stdout)")
        #expect(missing.stdout.contains("libcurl cannot be loaded (libcurl.so.4: cannot open shared object file"), "\(missing.stdout)")
        #expect(missing.stdout.contains("install libcurl4"), "\(missing.stdout)")
        // With the libraries, the same checks fail for what they reach (nothing listens on port 1).
        let present = try runAimon(["check-config", "--config", config, "--connect"])
        #expect(present.status == 69)
        #expect(!present.stdout.contains("cannot be loaded"), "\(present.stdout)")
    }

    @Test func theHTTPEndpointSaysWhichPackageIsMissing() throws {
        let ws = Workspace()
        let port = 30000 + Int(getpid() % 20000) + 7
        let config = Self.config(ws, http: "http:\n  listen: 127.0.0.1:\(port)")
        let r = try runAimon(["run", "--config", config], environment: ["AIMON_TEST_NO_LIBRARY": "libmicrohttpd.so.12"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("the http service cannot start: http.listen needs libmicrohttpd, which cannot be loaded: libmicrohttpd.so.12: cannot open shared object file"), "\(r.stderr)")
        #expect(r.stderr.contains("install libmicrohttpd12"), "\(r.stderr)")
    }

    @Test func basicAuthHashesSayWhichPackageIsMissing() throws {
        let ws = Workspace()
        let hash = "$2b$04$4UuiplSAwmc5lVIqH/3gqej.jLRFG2Jz5udXP86wMgKwk4aTtgK2K"
        let config = Self.config(ws, http: "http:\n  listen: 0.0.0.0:1\n  basic_auth_users:\n    alice: '\(hash)'")
        let missing = try runAimon(["check-config", "--config", config], environment: ["AIMON_TEST_NO_LIBRARY": "libcrypt.so.1"])
        #expect(missing.status == 78)
        #expect((missing.stdout + missing.stderr).contains("libcrypt cannot be loaded (libcrypt.so.1: cannot open shared object file"),
                "\(missing.stdout)\(missing.stderr)")
        #expect((missing.stdout + missing.stderr).contains("install libcrypt1"))
        let present = try runAimon(["check-config", "--config", config])
        #expect(present.status == 0, "\(present.stdout)\(present.stderr)")
    }
}
