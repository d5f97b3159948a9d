import Foundation
import Testing
@testable import AimonCore

/// The endpoint's pure parts: authentication, the API's parameters, configuration checks.
@Suite struct HTTPEndpointTests {
    /// bcrypt (cost 4, to keep the test fast) and sha512-crypt hashes of "correct horse".
    static let bcrypt = "$2b$04$4UuiplSAwmc5lVIqH/3gqej.jLRFG2Jz5udXP86wMgKwk4aTtgK2K"
    static let sha512 = "$6$FvHYw.etoQjU7PdP$vNlzlbK2X.vryBooEO8p2QCM026pEd9GtZE4.kRY9SAnI1sGFubFo.magSOXpc2PIr49r1o5l0m2I/zcKga16."

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func passwordHashes() {
        #expect(PasswordHash.matches("correct horse", Self.bcrypt))
        #expect(!PasswordHash.matches("correct horsf", Self.bcrypt))
        #expect(PasswordHash.matches("correct horse", Self.sha512))
        #expect(PasswordHash.isSupported(Self.bcrypt) && PasswordHash.isSupported(Self.sha512))
        #expect(!PasswordHash.isSupported("correct horse"))
        #expect(!PasswordHash.isSupported("$2b$04$short"))
        #expect(!PasswordHash.isSupported("$9$unknownmethod0123456789"))
    }

    @Test func basicAndBearer() {
        let none = HTTPAuth(Config.HTTP(address: "127.0.0.1", port: 1))
        #expect(none.allows(nil) && !none.required)

        let auth = HTTPAuth(Config.HTTP(address: "0.0.0.0", port: 1, bearerToken: "0123456789abcdef0123",
                                        basicUsers: ["prom": Self.bcrypt, "ops": Self.sha512]))
        #expect(!auth.allows(nil))
        #expect(auth.allows("Bearer 0123456789abcdef0123"))
        #expect(!auth.allows("Bearer 0123456789abcdef0124"))
        #expect(!auth.allows("Bearer 0123456789abcdef012"))
        #expect(auth.allows(Self.basic("prom", "correct horse")))
        #expect(auth.allows(Self.basic("prom", "correct horse")))  // remembered
        #expect(auth.allows(Self.basic("ops", "correct horse")))
        #expect(!auth.allows(Self.basic("prom", "wrong")))
        #expect(!auth.allows(Self.basic("nobody", "correct horse")))
        #expect(!auth.allows("Basic !!!"))
        #expect(!auth.allows("Basic " + Data("no colon".utf8).base64EncodedString()))
        #expect(auth.challenge.hasPrefix("Basic "))
        // The scheme in any case (RFC 9110); a wrong password stays wrong when asked again.
        #expect(auth.allows("bearer 0123456789abcdef0123") && auth.allows("BASIC " + Self.basic("ops", "correct horse").dropFirst(6)))
        #expect(!auth.allows(Self.basic("prom", "wrong")))
        #expect(!HTTPAuth.same(Array("abc".utf8), Array("abcd".utf8)) && HTTPAuth.same(Array("abc".utf8), Array("abc".utf8)))
    }

    @Test func routesWantCredentialsButHealthz() {
        var config = Config.defaults()
        config.http = Config.HTTP(address: "0.0.0.0", port: 1, bearerToken: "0123456789abcdef0123")
        let s = HTTPService(config: config, telemetry: Telemetry(), logger: quietLogger, staleAfter: { 4 })
        let refused = s.route(path: "/metrics", method: "GET")
        #expect(refused.status == 401)
        #expect(refused.header?.0 == "WWW-Authenticate" && refused.header?.1 == "Bearer realm=\"aimon\"")
        #expect(s.route(path: "/api/v1/stats", method: "GET", authorization: "Bearer nope").status == 401)
        #expect(s.route(path: "/metrics", method: "GET", authorization: "Bearer 0123456789abcdef0123").status == 200)
        #expect(s.route(path: "/healthz", method: "GET").status == 503)  // open, and says why
        #expect(s.route(path: "/metrics", method: "DELETE").header?.1 == "GET, HEAD")
    }

    @Test func apiParametersAreTheCLIs() throws {
        func q(_ path: String, _ args: [String: String] = [:]) -> Result<ReportQuery, ReportError>? {
            ReportQuery.api(path: path, argument: { args[$0] })
        }
        #expect(try q("/api/v1/stats")?.get() == .stats(model: nil, hours: 24))
        #expect(try q("/api/v1/stats", ["model": "gpt-4o", "hours": "0.5"])?.get() == .stats(model: "gpt-4o", hours: 0.5))
        #expect(try q("/api/v1/system", ["hours": "48"])?.get() == .system(hours: 48))
        #expect(try q("/api/v1/trend", ["days": "3", "model": "m"])?.get() == .trend(days: 3, model: "m"))
        #expect(try q("/api/v1/alerts")?.get() == .alerts(.init(active: false, since: 86400, model: nil, limit: 1000)))
        #expect(try q("/api/v1/alerts", ["active": ""])?.get() == .alerts(.init(active: true, since: nil, model: nil, limit: 1000)))
        #expect(try q("/api/v1/alerts", ["active": "true", "since": "7d", "limit": "5"])?.get()
                == .alerts(.init(active: true, since: 7 * 86400, model: nil, limit: 5)))
        #expect(q("/api/v1/nope") == nil)

        func problem(_ path: String, _ args: [String: String]) -> String? {
            if case let .failure(e)? = q(path, args) { return e.message }
            return nil
        }
        #expect(problem("/api/v1/stats", ["hours": "0"]) == "hours must be more than 0 and at most a year (8784)")
        #expect(problem("/api/v1/stats", ["hours": "nan"]) == "hours 'nan' is not a number")
        #expect(problem("/api/v1/system", ["hours": "1e300"]) == "hours must be more than 0 and at most a year (8784)")
        #expect(problem("/api/v1/trend", ["days": "400"]) == "days must be from 1 to 366")
        #expect(problem("/api/v1/trend", ["days": "two"]) == "days 'two' is not a whole number")
        #expect(problem("/api/v1/alerts", ["since": "yesterday"]) == "since 'yesterday' is not a duration (e.g. 30m, 24h, 7d)")
        #expect(problem("/api/v1/alerts", ["limit": "0"]) == "limit must be at least 1")
        #expect(problem("/api/v1/alerts", ["active": "maybe"]) == "active 'maybe' is not true or false")

        // A bad parameter is a 400 with the reason, in JSON.
        let s = HTTPService(config: .defaults(), telemetry: Telemetry(), logger: quietLogger, staleAfter: { 4 })
        let r = s.route(path: "/api/v1/trend", method: "GET", argument: { $0 == "days" ? "0" : nil })
        #expect(r.status == 400 && r.type.hasPrefix("application/json"))
        #expect(r.body.contains("\"error\": \"days must be from 1 to 366\""))
    }

    @Test func configChecksListenAndAuth() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aimon-http-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "0123456789abcdef0123\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try "short\n".write(toFile: dir + "/short", atomically: true, encoding: .utf8)
        func load(_ http: String) -> Result<Config, ConfigError> {
            Result { () throws(ConfigError) in try ConfigLoader.parse("sources: [{path: /var/log/gw.jsonl}]\nhttp:\n" + http) }
        }
        func problems(_ http: String) -> String {
            if case let .failure(e) = load(http) { return e.description }
            return ""
        }
        #expect(problems("  listen: 0.0.0.0:9464").contains("not a loopback address: other hosts may reach it, so set http.bearer_token_file or http.basic_auth_users"))
        let withToken = try load("  listen: 0.0.0.0:9464\n  bearer_token_file: \(dir)/token\n  external_url: https://aimon.example.com").get()
        #expect(withToken.http?.bearerToken == "0123456789abcdef0123")
        #expect(withToken.http?.externalURL == "https://aimon.example.com/")
        #expect(try load("  listen: 127.0.0.1:9464").get().http?.externalURL == "http://127.0.0.1:9464/")
        #expect(problems("  listen: 0.0.0.0:9464\n  bearer_token_file: \(dir)/short").contains("must hold one token of at least 16 characters"))
        #expect(problems("  listen: 0.0.0.0:9464\n  bearer_token_file: \(dir)/missing").contains("cannot read \(dir)/missing: No such file or directory"))
        #expect(problems("  listen: 0.0.0.0:9464\n  basic_auth_users: {prom: \"correct horse\"}").contains("must be a crypt(3) hash"))
        let basic = try load("  listen: 0.0.0.0:9464\n  basic_auth_users: {prom: \"\(Self.bcrypt)\"}").get()
        #expect(basic.http?.basicUsers == ["prom": Self.bcrypt])
        #expect(problems("  listen: 127.0.0.1:9464\n  external_url: aimon.example.com").contains("is not an http(s) URL"))
    }

    @Test func statusPageEscapesAndShowsWhatMatters() {
        var perf = ModelPerformance(model: "<script>alert(1)</script>", counts: BucketCounts(), topErrors: [], from: 0, to: 3600, resolution: .minute)
        perf.counts.calls = 10
        perf.counts.successes = 7
        perf.counts.failures = 3
        perf.counts.providerErrors = 3
        var hour = BucketCounts()
        hour.calls = 10
        hour.successes = 7
        hour.providerErrors = 3
        let firing = AlertTransition(kind: .firing, type: .lowSuccessRate, model: perf.model, severity: .critical, value: 0.7, threshold: 0.95,
                                     window: 300, sample: 10, fingerprint: "fp123", episodeStart: 1000, at: 1300, notifyCount: 1)
        var f = Telemetry.Figures()
        f.files.open = 2
        f.ingest.badLines[.invalidJSON] = 4
        let page = StatusPage(host: "gw-1", version: "1.0", now: 1300, hours: 1,
                              rows: [.init(performance: perf, hourly: [BucketCounts(), hour])], firing: [firing], figures: f).render()
        #expect(!page.contains("<script>"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(page.contains("<tr id=\"fp123\" class=\"alert critical\">"))
        #expect(page.contains("<td class=\"n\" title=\"since 1970-01-01T00:16:40.000Z\">5 min</td>"))
        #expect(page.contains("<td class=\"n bad\">70.0%</td>"))
        #expect(page.contains("<meta http-equiv=\"refresh\" content=\"10\">"))
        #expect(page.contains("<dt>bad lines</dt><dd>4 (invalid_json 4)</dd>"))
        #expect(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"))  // no external asset, no script
        // The second hour: 10 calls, 3 failed, full height: 20 px of success over 8 px of failure.
        #expect(page.contains("<rect class=\"ok\" x=\"6\" y=\"0\" width=\"5\" height=\"20\"/><rect class=\"failed\" x=\"6\" y=\"20\" width=\"5\" height=\"8\"/>"))
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.hasSuffix("</html>\n"))
        #expect(!page.contains("first token p95") && !page.contains("<th>cost</th>"))  // the log has none
        var llm = perf
        llm.counts.add(APICall(model: "x", responseTime: 2, cost: 1.25, ttft: 0.3))
        let withLLM = StatusPage(host: "gw-1", version: "1.0", now: 1300, hours: 1, rows: [.init(performance: llm, hourly: [])],
                                 firing: [], figures: f).render()
        #expect(withLLM.contains("<th>first token p95</th><th>cost</th>") && withLLM.contains("<td class=\"n\">$1.25</td>"))
    }
}

@Suite struct BucketFieldTests {
    /// Every stored field name is found by its bytes; other names are not.
    @Test func fieldNamesMatchAsBytes() {
        for (i, name) in BucketCounts.fieldNames.enumerated() { #expect(BucketCounts.fieldIndex(Array(name.utf8)) == i, "\(name)") }
        for other in ["", "h", "h15", "h01x", "s6", "sy", "s", "calls2", "cal", "x", "H0"] {
            #expect(BucketCounts.fieldIndex(Array(other.utf8)) == nil, "\(other)")
        }
        var c = BucketCounts()
        c.calls = 5; c.successes = 4; c.providerErrors = 1; c.histogram[14] = 2; c.statusClasses[6] = 1
        let hash = zip(BucketCounts.fieldNames, c.fieldValues).flatMap { [RedisReply.string(Array($0.utf8)), .string(Array(String($1).utf8))] }
        #expect(BucketCounts(hash: hash + [.string(Array("unknown".utf8)), .string([0x31])]) == c)
    }
}

/// `prices:`: a cost for calls whose log gives tokens and no cost; the log's own cost wins.
@Suite struct PricesTests {
    @Test func tokensTimesPricesWhereTheLogHasNoCost() throws {
        let now = 1_795_773_630.0
        let prices = Prices(["gpt-4o": .init(input: 2.5, output: 10, cachedInput: 1.25)])
        var batch = WindowBatch(retention: Retention(), prices: prices)
        var registry = ModelRegistry(capacity: 10)
        // 1000 input (400 cached) and 200 output tokens: 600 * 2.5 + 400 * 1.25 + 200 * 10 = 4000 per million.
        try batch.add(APICall(timestamp: now, model: "gpt-4o", inputTokens: 1000, outputTokens: 200, cachedInputTokens: 400), registry: &registry, now: now)
        try batch.add(APICall(timestamp: now, model: "gpt-4o", inputTokens: 10, cost: 1.5), registry: &registry, now: now)  // its own
        try batch.add(APICall(timestamp: now, model: "gpt-4o"), registry: &registry, now: now)  // no tokens: no cost
        try batch.add(APICall(timestamp: now, model: "unpriced", inputTokens: 99), registry: &registry, now: now)
        let hour = Int64(now) - Int64(now) % 3600
        let priced = try #require(batch.hour[.init(model: "gpt-4o", start: hour)])
        #expect(priced.costCalls == 2)
        #expect(priced.costNanos == BucketCounts.nanos(0.004) + BucketCounts.nanos(1.5))
        #expect(batch.hour[.init(model: "unpriced", start: hour)]?.cost == nil)

        let config = try ConfigLoader.parse("sources: [{path: /var/log/gw.jsonl}]\nprices:\n  gpt-4o: {input: 2.5, output: 10, cached_input: 1.25}\n")
        #expect(config.prices == prices)
        do {
            _ = try ConfigLoader.parse("sources: [{path: /var/log/gw.jsonl}]\nprices:\n  a: {input: -1, output: 10}\n  b: {input: 1}\n")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("prices.a.input: '-1' must be USD per million tokens"))
            #expect(error.description.contains("prices.b: needs input and output"))
        }
    }
}

/// Findings of the review of the LLM fields.
@Suite struct LLMFieldReviewTests {
    /// slow_first_token turned on for one model only still reads the TTFT fields.
    @Test func aRuleOnForOneModelOnlyStillReadsItsFields() throws {
        let config = try ConfigLoader.parse("sources: [{path: /var/log/gw.jsonl}]\nrules:\n  slow_first_token: {enabled: false, models: {gpt-4o: {enabled: true}}}\n")
        #expect(config.alerts.readsFirstToken)
        let off = try ConfigLoader.parse("sources: [{path: /var/log/gw.jsonl}]\nrules:\n  slow_first_token: {enabled: false}\n")
        #expect(!off.alerts.readsFirstToken)
    }

    /// A deployment is split as a list only where the gateway writes lists (nginx's $upstream_addr):
    /// elsewhere "OpenAI, backup" is a name, and the native and mapped parsers agree.
    @Test func onlyNginxDeploymentsAreLists() {
        let native = #"{"model_name":"m","deployment":"eu, us"}"#
        let mapped = SourceFormat(preset: .native, custom: FieldMapping(fields: LogFormat.native.mapping.fields)).makeParser()
        #expect((try? FormatFixtures.parse(native, .preset(.native)).get())?.deployment == "eu, us")
        #expect((try? FormatFixtures.parse(native, with: mapped).get())?.deployment == "eu, us")
        let oneAPI = #"{"type":2,"created_at":1795773600,"model_name":"m","channel_name":"OpenAI, backup"}"#
        #expect((try? FormatFixtures.parse(oneAPI, .preset(.openaiGateway)).get())?.deployment == "OpenAI, backup")
        let nginx = #"{"time":"2026-11-27T10:00:09+00:00","status":"200","model":"m","upstream_addr":"10.0.0.1:443, 10.0.0.2:443"}"#
        #expect((try? FormatFixtures.parse(nginx, .preset(.nginx)).get())?.deployment == "10.0.0.2:443")
    }

    /// U+001F separates a model from its deployment in stored names: a model name cannot hold it.
    @Test func aModelNameCannotHoldTheSeparator() {
        #expect(FormatFixtures.parse(#"{"model_name":"a\u001fb"}"#, .preset(.native)).failure == .wrongType)
        #expect(FormatFixtures.parse(#"{"model":"a\u001fb","status":"200"}"#, .preset(.nginx)).failure == .wrongType)
    }

    /// A cost from prices: stays within the cost of one call (10,000 USD), as a logged cost must.
    @Test func pricedCostsKeepTheirDomain() throws {
        let now = 1_795_773_630.0
        var batch = WindowBatch(retention: Retention(), prices: Prices(["m": .init(input: 10_000, output: 10_000)]))
        var registry = ModelRegistry(capacity: 10)
        try batch.add(APICall(timestamp: now, model: "m", inputTokens: RecordLimits.maxCount), registry: &registry, now: now)
        let hour = Int64(now) - Int64(now) % 3600
        #expect(batch.hour[.init(model: "m", start: hour)]?.costNanos == BucketCounts.nanos(RecordLimits.maxCost))
    }
}

/// (model, deployment) pairs have their own buckets, apart from models.
@Suite struct DeploymentFoldTests {
    @Test func pairsCountApartAndNeverTwiceInTheSums() throws {
        let now = 1_795_773_630.0
        var batch = WindowBatch(retention: Retention())
        var registry = ModelRegistry(capacity: 10, deployments: 2)
        for (i, d) in ["azure-east", "azure-east", "openai", nil, "third"].enumerated() {
            try batch.add(APICall(timestamp: now, userID: "u\(i)", model: "m", success: d != "openai", deployment: d), registry: &registry, now: now)
        }
        let hour = Int64(now) - Int64(now) % 3600
        #expect(batch.records == 5)
        #expect(batch.hour[.init(model: nil, start: hour)]?.calls == 5)  // all models: each call once
        #expect(batch.hour[.init(model: "m", start: hour)]?.calls == 5)
        #expect(batch.hour[.init(model: Deployment.pair("m", "azure-east"), start: hour)]?.calls == 2)
        #expect(batch.hour[.init(model: Deployment.pair("m", "openai"), start: hour)]?.failedCalls == 1)
        // Past max_deployments (2 here): the model's other deployments.
        #expect(batch.hour[.init(model: Deployment.pair("m", Deployment.overflowName), start: hour)]?.calls == 1)
        // Pairs keep runs of failures (for deployment rules) but are not models.
        #expect(batch.models == ["m"])
        #expect(Set(batch.runs.keys) == ["m", Deployment.pair("m", "azure-east"), Deployment.pair("m", "openai"), Deployment.pair("m", "")])
        #expect(batch.deployments[hour] == [Deployment.pair("m", "azure-east"), Deployment.pair("m", "openai"), Deployment.pair("m", "")])
        #expect(batch.users[.init(model: nil, start: hour)]?.count == 5 && batch.users.keys.allSatisfy { $0.model.map { !Deployment.isPair($0) } ?? true })
        #expect(Deployment.split(Deployment.pair("m", "x")).map { [$0.model, $0.deployment] } == ["m", "x"] && Deployment.split("m") == nil)
    }
}
