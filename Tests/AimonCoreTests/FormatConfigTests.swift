import Testing
@testable import AimonCore

/// `format:`, `fields:`, `success:` and `count_as_failure:` in a source, as check-config reads them.
@Suite struct FormatConfigTests {
    static func source(_ yaml: String) throws -> Config.Source {
        try ConfigLoader.parse("sources:\n  - path: /var/log/gw.jsonl\n" + yaml, hostname: "h").sources[0]
    }

    static func problems(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse("sources:\n  - path: /var/log/gw.jsonl\n" + yaml, hostname: "h")
            return []
        } catch { return error.problems.map(\.description) }
    }

    @Test func presetsByName() throws {
        for f in LogFormat.allCases {
            #expect(try Self.source("    format: \(f.rawValue)\n").format == .preset(f))
        }
        #expect(try Self.source("").format == .preset(.native))
        #expect(Self.problems("    format: traefik\n").first?.contains("unknown format 'traefik'; known: native, litellm, nginx, kong, envoy, openai-gateway") == true)
    }

    @Test func customMappingInEveryForm() throws {
        let s = try Self.source("""
            fields:
              model_name: body.model
              user_id: [auth.user, auth.key]
              timestamp: {path: ts, unit: ms}
              response_time: {start: started, end: ended, unit: rfc3339}
              status_code: {paths: [res.status, status]}
            success: {status: [200-299, 304]}
            count_as_failure: [provider_error]
        """)
        #expect(s.format.preset == nil)
        let f = s.format.custom.fields
        #expect(f[.model] == .init(paths: [try JSONPath(parsing: "body.model")]))
        #expect(f[.userID]?.paths.map(\.description) == ["auth.user", "auth.key"])
        #expect(f[.timestamp] == .init(paths: [try JSONPath(parsing: "ts")], unit: .milliseconds))
        #expect(f[.responseTime]?.span == .init(start: try JSONPath(parsing: "started"), end: try JSONPath(parsing: "ended")))
        #expect(f[.statusCode]?.paths.count == 2)
        #expect(s.format.custom.success == .status([200...299, 304...304]))
        #expect(s.format.policy == FailurePolicy([.providerError]))
        #expect(s.format.summary == "custom fields; own success rule; failures counted: provider_error")

        let over = try Self.source("    format: kong\n    fields:\n      user_id: request.headers.x-tenant\n    success: {field: ok, values: [true, yes]}\n")
        #expect(over.format.preset == .kong && over.format.custom.success == .values(path: try JSONPath(parsing: "ok"), values: ["true", "yes"]))
        #expect(over.format.mapping.fields[.model] == LogFormat.kong.mapping.fields[.model])
    }

    @Test func mappingsThatCannotWorkAreRefusedWithTheReason() {
        func first(_ yaml: String) -> String { Self.problems(yaml).joined(separator: "\n") }
        #expect(first("    fields:\n      status_code: code\n").contains("sources[0].fields.model_name: is missing: every record needs a model"))
        #expect(first("    fields:\n      model_name: m\n").contains("cannot tell a failure from a success: map status_code, or give success:"))
        #expect(first("    fields:\n      model_name: a..b\n      status_code: s\n").contains("'a..b' is not a dotted path: a segment is empty"))
        #expect(first("    fields:\n      model_name: m\n      status_code: s\n      timestamp: {path: t, unit: minutes}\n").contains("unknown unit 'minutes'"))
        #expect(first("    fields:\n      model_name: m\n      status_code: s\n      user_id: {path: u, unit: ms}\n").contains("only timestamp, response_time and ttft take a unit"))
        #expect(first("    fields:\n      model_name: m\n      response_time: {path: d, unit: rfc3339}\n      status_code: s\n").contains("a duration is in s, ms or us"))
        #expect(first("    fields:\n      model_name: m\n    success: {status: [200-299]}\n").contains("needs status_code in fields"))
        #expect(first("    fields:\n      model_name: m\n      status_code: s\n    success: {status: [600-700]}\n").contains("'600-700' is not a status or a range"))
        #expect(first("    fields:\n      model: m\n      status_code: s\n").contains("unknown key (did you mean 'model_name'?)"))
        #expect(first("    format: nginx\n    count_as_failure: [provider_error, timeouts]\n").contains("'timeouts' is not a failure class"))
        #expect(first("    fields:\n      model_name: m\n      status_code: s\n      response_time: {start: a}\n").contains("start and end go together"))
        #expect(first("    fields:\n      model_name: m\n    success: {field: ok}\n").contains("success.values: is missing"))
        // Each problem names its line.
        #expect(Self.problems("    fields:\n      model_name: a..b\n      status_code: s\n").first?.hasPrefix("line 4: ") == true)
    }
}
