import Testing
@testable import AimonCore
import AimonSamples

@Suite struct WindowTests {
    let retention = Retention(minuteBuckets: 48 * 3600, hourBuckets: 35 * 86400)
    let now = 1_795_773_600.0  // 2026-11-27T10:00:00Z, on an hour boundary

    @Test func foldsRecordsIntoMinuteAndHourBucketsPerModelAndForAll() throws {
        var b = WindowBatch(retention: retention)
        var models = ModelRegistry(capacity: 100)
        try b.add(APICall(timestamp: now - 30, userID: "u1", model: "a", success: true, responseTime: 0.5, statusCode: 200, inputLength: 10, outputLength: 20), registry: &models, now: now)
        try b.add(APICall(timestamp: now - 20, userID: "u2", model: "a", success: false, responseTime: 30, statusCode: 503, errorMessage: "boom  42"), registry: &models, now: now)
        try b.add(APICall(timestamp: now + 5, userID: "u1", model: "b", success: true), registry: &models, now: now)
        let minuteA = b.minute[.init(model: "a", start: Int64(now) - 60)]!
        #expect(minuteA.calls == 2 && minuteA.successes == 1 && minuteA.failures == 1)
        #expect(minuteA.latencyCount == 2 && minuteA.latencySumMicros == 30_500_000)
        #expect(minuteA.inputSum == 10 && minuteA.outputSum == 20)
        #expect(minuteA.statusClasses[2] == 1 && minuteA.statusClasses[5] == 1)
        #expect(minuteA.histogram[LatencyBuckets.index(of: 0.5)] == 1 && minuteA.histogram[LatencyBuckets.index(of: 30)] == 1)
        #expect(b.minute[.init(model: nil, start: Int64(now) - 60)]!.calls == 2)
        #expect(b.minute[.init(model: nil, start: Int64(now))]!.calls == 1)
        #expect(b.hour[.init(model: nil, start: Int64(now) - 3600)]!.calls == 2)
        #expect(b.hour[.init(model: "b", start: Int64(now))]!.statusClasses[0] == 1)
        #expect(b.users[.init(model: nil, start: Int64(now) - 3600)] == ["u1", "u2"])
        #expect(b.errors[.init(model: "a", start: Int64(now) - 3600)] == ["boom 42": 1])
        #expect(b.records == 3 && b.late == 0)
        #expect(b.models == ["a", "b"])
    }

    @Test func eventTimeDecidesTheBucketAndOldLinesAreLate() throws {
        var b = WindowBatch(retention: retention)
        var models = ModelRegistry(capacity: 100)
        try b.add(APICall(timestamp: now - 3 * 86400, model: "a", success: true), registry: &models, now: now)  // hour bucket only
        try b.add(APICall(timestamp: now - 40 * 86400, model: "a", success: true), registry: &models, now: now)  // late
        try b.add(APICall(model: "a", success: true), registry: &models, now: now + 0.5)  // no timestamp: ingest time
        #expect(b.minute.keys.map(\.start).sorted() == [Int64(now), Int64(now)])
        #expect(b.hour[.init(model: "a", start: Int64(now) - 3 * 86400)]?.calls == 1)
        #expect(b.late == 1 && b.records == 2)
    }

    @Test func foldEqualsANaiveFoldWhateverTheOrder() throws {
        var rng = SplitMix64(seed: 77)
        var b = WindowBatch(retention: retention)
        var registry = ModelRegistry(capacity: 3)
        var minute: [WindowBatch.BucketKey: BucketCounts] = [:]
        var hour: [WindowBatch.BucketKey: BucketCounts] = [:]
        var users: [WindowBatch.BucketKey: Set<String>] = [:]
        for i in 0..<5000 {
            let model = i < 3 ? ["a", "b", "c"][i] : ["a", "b", "c", "d", "e"][Int(rng.next() % 5)]  // a, b, c seen first
            let t = now - Double(rng.next() % 7200) - rng.nextDouble()  // out of order, over two hours
            let call = APICall(timestamp: t, userID: "u\(rng.next() % 50)", model: model, success: rng.next() % 4 != 0,
                               responseTime: rng.nextDouble() * 5, statusCode: [200, 429, 503][Int(rng.next() % 3)])
            try b.add(call, registry: &registry, now: now)
            let stored = ["a", "b", "c"].contains(model) ? model : ModelRegistry.overflowName
            let ts = Int64(t.rounded(.down))
            for m in [stored, nil] as [String?] {
                minute[.init(model: m, start: ts - WindowBatch.mod(ts, 60)), default: BucketCounts()].add(call)
                hour[.init(model: m, start: ts - WindowBatch.mod(ts, 3600)), default: BucketCounts()].add(call)
                users[.init(model: m, start: ts - WindowBatch.mod(ts, 3600)), default: []].insert(call.userID!)
            }
        }
        // The first three names seen are kept; d and e share the overflow name.
        #expect(b.models == ["a", "b", "c", ModelRegistry.overflowName])
        #expect(b.minute == minute)
        #expect(b.hour == hour)
        #expect(b.users == users)
        #expect(b.minute.filter { $0.key.model == nil }.values.reduce(0) { $0 + $1.calls } == 5000)
        #expect(b.hour.filter { $0.key.model != nil }.values.reduce(0) { $0 + $1.calls } == 5000)
    }

    @Test func histogramBoundsAreInclusive() {
        #expect(LatencyBuckets.index(of: 0) == 0)
        #expect(LatencyBuckets.index(of: 0.01) == 0)
        #expect(LatencyBuckets.index(of: 0.0100001) == 1)
        #expect(LatencyBuckets.index(of: 81.92) == 13)
        #expect(LatencyBuckets.index(of: 1000) == 14)
    }

    @Test func bucketFieldsRoundTrip() {
        var c = BucketCounts()
        c.add(APICall(model: "m", success: false, responseTime: 2, statusCode: 429, inputLength: 3, outputLength: 4))
        let fields = Dictionary(uniqueKeysWithValues: zip(BucketCounts.fieldNames, c.fieldValues))
        #expect(BucketCounts(fields: fields) == c)
    }

    /// Every Int64 stored in a bucket is a named field of the layout (a new one cannot be left out
    /// of merges, reads and writes), and merge adds each field.
    @Test func everyStoredFigureIsAFieldAndMergesFieldByField() {
        let scalars = Mirror(reflecting: BucketCounts()).children.filter { $0.value is Int64 }.count
        #expect(scalars == BucketCounts.Scalar.allCases.count)
        let inLayout = BucketCounts.layout.compactMap { if case let .scalar(k) = $0.slot { k } else { nil } }
        #expect(Set(inLayout.map { "\($0)" }) == Set(BucketCounts.Scalar.allCases.map { "\($0)" }))
        #expect(inLayout.count == BucketCounts.Scalar.allCases.count)
        var a = BucketCounts(), b = BucketCounts()
        for (i, field) in BucketCounts.layout.enumerated() {
            a[field.slot] = Int64(i + 1)
            b[field.slot] = Int64(1000 * (i + 1))
        }
        var sum = a
        sum.merge(b)
        for (i, field) in BucketCounts.layout.enumerated() { #expect(sum[field.slot] == Int64(1001 * (i + 1)), "\(field.name)") }
        #expect(Mirror(reflecting: a).children.filter { $0.value is Int64 }.allSatisfy { ($0.value as! Int64) > 0 })
    }

    /// The fold's set of user ids holds what a `Set<String>` would for ASCII ids, through growth and
    /// repeats, short (inline) and long.
    @Test func userSetsHoldEachIdOnce() {
        var rng = SplitMix64(seed: 5)
        var set = UserSet(), truth = Set<String>()
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 3000)
            let id = n % 2 == 0 ? "u\(n)" : "a-rather-long-user-identifier-\(n)-\(n % 7)"
            set.insert(id)
            truth.insert(id)
        }
        #expect(set.count == truth.count)
        #expect(Set(set.items) == truth)
        var other = UserSet()
        for id in truth.prefix(10) { other.insert(id) }
        other.insert("not-in-the-first")
        set.formUnion(other)
        #expect(set.count == truth.count + 1)
    }

    /// Records that go back and forth across an hour (stamped at the request's start, written at its
    /// end) keep each hour's users apart and whole.
    @Test func usersOfRecordsAlternatingAcrossAnHourStayInTheirHours() throws {
        let hourStart = (Int64(now) - 7200) - WindowBatch.mod(Int64(now) - 7200, 3600) + 3600
        var b = WindowBatch(retention: retention)
        var registry = ModelRegistry(capacity: 10)
        var truth: [Int64: Set<String>] = [:]
        for i in 0..<20_000 {
            let t = Double(hourStart) + (i % 2 == 0 ? -1 : 1) * Double(1 + i % 5)
            let user = "user-\(i % 4000)-\(i % 2)"
            try b.add(APICall(timestamp: t, userID: user, model: "m", success: true, responseTime: 0.1), registry: &registry, now: now)
            let ts = Int64(t.rounded(.down))
            truth[ts - WindowBatch.mod(ts, 3600), default: []].insert(user)
        }
        b.finish()
        #expect(b.users[.init(model: "m", start: hourStart - 3600)] == truth[hourStart - 3600])
        #expect(b.users[.init(model: "m", start: hourStart)] == truth[hourStart])
        #expect(truth[hourStart]?.count == 2000 && truth[hourStart - 3600]?.count == 2000)
    }

    /// A finished batch (its current buckets put with the others) shows the same views.
    @Test func finishingABatchChangesNoView() throws {
        var b = WindowBatch(retention: retention)
        var registry = ModelRegistry(capacity: 10)
        for i in 0..<300 {
            try b.add(APICall(timestamp: now - Double(i * 37 % 5000), userID: "u\(i % 7)", model: ["a", "b"][i % 2], success: i % 5 != 0,
                              responseTime: 0.1, statusCode: 200), registry: &registry, now: now)
        }
        let (minute, hour, users) = (b.minute, b.hour, b.users)
        b.finish()
        #expect(b.minute == minute)
        #expect(b.hour == hour)
        #expect(b.users == users)
        try b.add(APICall(timestamp: now, userID: "u-new", model: "a", success: true, responseTime: 0.1, statusCode: 200), registry: &registry, now: now)
        #expect(b.hour.values.reduce(0) { $0 + $1.calls } == 2 * 301)
        let hourNow = Int64(now) - WindowBatch.mod(Int64(now), 3600)
        #expect(b.users[.init(model: "a", start: hourNow)] == (users[.init(model: "a", start: hourNow)] ?? []).union(["u-new"]))
    }

    @Test func failureRunsFoldInEventOrder() {
        func fold(_ outcomes: String) -> FailureRun {
            var r = FailureRun()
            for ch in outcomes { r.add(success: ch == "s") }
            return r
        }
        // Eight failures then a success inside one batch: they extend the stored run, which the
        // success ends (the store adds `leading` to it atomically and reads the length back).
        let burst = fold("ffffffffs")
        #expect(burst.sawSuccess && burst.leading == 8 && burst.trailing == 0 && burst.longestInside == 0)
        let none = fold("fff")
        #expect(!none.sawSuccess && none.trailing == 3)
        // A run that began and ended inside the batch is known only here.
        let mixed = fold("ffsfffffsff")
        #expect(mixed.leading == 2 && mixed.longestInside == 5 && mixed.trailing == 2)
        #expect(fold("sss") == { var r = FailureRun(); r.sawSuccess = true; return r }())
    }

    @Test func modelRegistryCapsNamesAndFreesThePlacesOfIdleModels() {
        var r = ModelRegistry(capacity: 2, ttl: 3600, known: ["a": now - 100])
        #expect(r.canonical("a", now: now) == "a")
        #expect(r.canonical("b", now: now) == "b")
        #expect(r.canonical("c", now: now) == ModelRegistry.overflowName)
        #expect(r.canonical("b", now: now + 10) == "b")
        // An hour after "a" was last seen, its place is free; "b" was seen since and keeps its own.
        #expect(r.canonical("c", now: now + 3601) == "c")
        #expect(r.canonical("b", now: now + 3602) == "b")
        #expect(r.canonical("a", now: now + 3603) == ModelRegistry.overflowName)
    }

    @Test func theOverflowModelHasANameNoLogCanWrite() throws {
        var r = ModelRegistry(capacity: 1)
        #expect(r.canonical("x", now: now) == "x")
        #expect(r.canonical("(other)", now: now) == ModelRegistry.overflowName)
        #expect(ModelRegistry.overflowName.isEmpty)  // an empty model name is a bad line (missing_model)
        #expect(FormatFixtures.parse(#"{"model_name":""}"#, .preset(.native)).failure == .missingModel)
        #expect(ModelRegistry.label(ModelRegistry.overflowName) == "(other models)" && ModelRegistry.label("(other)") == "(other)")
        let k = KeySchema(prefix: "p")
        #expect(k.bucket(ModelRegistry.overflowName, .minute, start: 0) == "p:{%}:m:0")
        #expect(k.bucket("%", .minute, start: 0) == "p:{%25}:m:0")
    }

    @Test func keysEscapeModelNames() {
        let k = KeySchema(prefix: "aimon")
        #expect(KeySchema.escape("gpt-4o_mini.v2") == "gpt-4o_mini.v2")
        #expect(KeySchema.escape("a b:{c}*/é") == "a%20b%3A%7Bc%7D%2A%2F%C3%A9")
        #expect(k.bucket("a:b", .minute, start: 60) == "aimon:{a%3Ab}:m:60")
        #expect(k.bucket(nil, .hour, start: 3600) == "aimon:{*}:h:3600")
        #expect(KeySchema.escape("*") != KeySchema.allModels)
    }

    @Test func errorMessagesAreNormalised() {
        #expect(ErrorMessage.normalise("  upstream\n timeout   after 30s ", status: 504) == "upstream timeout after #s")
        #expect(ErrorMessage.normalise("request 1234567 failed", status: nil) == "request # failed")
        #expect(ErrorMessage.normalise("id 12345 and 1234 and 123456789", status: nil) == "id # and # and #")
        #expect(ErrorMessage.normalise("timeout\t\r\n after 30s", status: nil) == "timeout after #s")
        #expect(ErrorMessage.normalise("é 日本", status: nil) == "é 日本")
        #expect(ErrorMessage.normalise(nil, status: 503) == "HTTP 503")
        #expect(ErrorMessage.normalise("", status: nil) == "unknown")
        let long = ErrorMessage.normalise(String(repeating: "é", count: 500), status: nil)
        #expect(long.utf8.count <= ErrorMessage.maxBytes && long.hasSuffix("..."))
        let longWord = ErrorMessage.normalise(String(repeating: "a", count: 5000), status: nil)
        #expect(longWord.utf8.count <= ErrorMessage.maxBytes && longWord.hasSuffix("..."))
    }

    /// Messages as providers and gateways write them: what varies from call to call is folded, what
    /// tells errors apart is kept.
    @Test(arguments: [
        ("Rate limit reached for gpt-4o in organization org-abc123XYZ on tokens per min (TPM): Limit 30000, Used 29500, Requested 1200. Please try again in 1.4s. Visit https://platform.openai.com/account/rate-limits to learn more.",
         "Rate limit reached for gpt-4o in organization org-# on tokens per min (TPM): Limit #, Used #, Requested #. Please try again in #s. Visit https://platform.openai.com/account/rate-limits to learn more."),
        ("Error code: 503 - {'error': {'message': 'The server is overloaded', 'request_id': 'req_3a8b9c0d1e2f'}}",
         "Error code: 503 - {'error': {'message': 'The server is overloaded', 'request_id': 'req_#'}}"),
        ("request 5f2c1e8a-9b3d-4e7f-a1c2-3d4e5f6a7b8c failed", "request # failed"),
        ("This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (8000 in the messages, 1000 in the completion).",
         "This model's maximum context length is # tokens. However, you requested # tokens (# in the messages, # in the completion)."),
        ("litellm.Timeout: Connection timed out after 600.0 seconds.", "litellm.Timeout: Connection timed out after # seconds."),
        ("Used 9800, Requested 500", "Used #, Requested 500"),
        ("model gpt-3.5-turbo-0613 and claude-3-5-sonnet-20241022 unavailable", "model gpt-3.5-turbo-# and claude-3-5-sonnet-# unavailable"),
        ("API version 2024-02-01 at 2026-12-02T10:00:00Z from 10.0.0.1:8080", "API version # at #Z from #"),
        ("upstream took 500ms, retried 3x", "upstream took #ms, retried #x"),
        ("HTTP 429 Too Many Requests", "HTTP 429 Too Many Requests"),
        ("trace 0xdeadbeef01 at a8f3c2", "trace # at #"),
        ("request 1234567890123b and 77d", "request # and 77d"),
        ("gpt4o and o1 are fine", "gpt4o and o1 are fine"),
    ])
    func errorMessagesFoldWhatVaries(message: String, expected: String) {
        #expect(ErrorMessage.normalise(message, status: nil) == expected)
    }

    @Test func tenThousandDistinctIdsMakeOneMessage() {
        let messages = Set((1...10_000).map { ErrorMessage.normalise("upstream error, request id req-\(UInt64($0) &* 0x9E3779B97F4A7C15 >> 8)", status: 502) })
        #expect(messages == ["upstream error, request id req-#"])
    }

    @Test func theCommitScriptCarriesEveryWriteWithItsExpiryAndItsCondition() throws {
        var b = WindowBatch(retention: retention)
        var models = ModelRegistry(capacity: 100)
        try b.add(APICall(timestamp: now, userID: "u", model: "a", success: false), registry: &models, now: now)
        let store = WindowStore(keys: KeySchema(prefix: "p"), retention: retention, host: "h1", maxErrorMessages: 7, modelTTL: 3600)
        let change = CheckpointChange(id: "1:2", expected: "", new: "10 ff h1795773600 /x")
        let call = store.scriptCall(for: .init(batch: b, changes: [change], counters: ["lines": 1], markers: ["~src:/x": "1"], now: Int64(now)))
        #expect(Array(call.keys.prefix(2)) == ["p:ckpt:h1", "p:ingest:h1"])
        let t = Int64(now)
        for key in ["p:{a}:m:\(t)", "p:{*}:h:\(t)", "p:{a}:u:\(t)", "p:{a}:e:\(t)", "p:{a}:runs", "p:models:\(t)", "p:model-registry"] {
            #expect(call.keys.contains(key), "\(key)")
        }
        // The condition first, then the markers, then the TTL of the host's hashes.
        #expect(Array(call.arguments.prefix(8)) == ["1", "1:2", "", "10 ff h1795773600 /x", "1", "~src:/x", "1", String(retention.hourBuckets)])
        func op(_ key: String) -> ArraySlice<String> {
            let index = String(call.keys.firstIndex(of: key)! + 1)
            let at = call.arguments.indices.first { $0 > 8 && call.arguments[$0] == index && "uhesrzc".contains(call.arguments[$0 - 1]) }!
            return call.arguments[(at - 1)...]
        }
        // Every key written expires: buckets and sets at the end of their retention, the run after its
        // TTL. A failure without status or latency: calls, fail, s0 and prov.
        #expect(Array(op("p:{a}:m:\(t)").prefix(4)) == ["h", String(call.keys.firstIndex(of: "p:{a}:m:\(t)")! + 1), "4", String(t + 60 + retention.minuteBuckets)])
        #expect(op("p:{a}:u:\(t)").prefix(5).last == "u")
        #expect(Array(op("p:{a}:e:\(t)").dropFirst(3).prefix(4)) == [String(t + 3600 + retention.hourBuckets), "7", "unknown", "1"])
        // No success: the run grows by one, and its last failure is when it happened, in ms.
        #expect(Array(op("p:{a}:runs").dropFirst(3).prefix(5)) == [String(retention.hourBuckets), "1", "0", "1", String(t * 1000)])
        #expect(call.runModels == ["a"])
        // The model is seen now; models unseen for an hour are dropped from the registry.
        #expect(Array(op("p:model-registry").dropFirst(2).prefix(5)) == ["1", String(3600 + 86_400), String(t - 3600), "a", String(t)])
        #expect(Array(call.arguments.suffix(7)) == ["c", "2", "2", "lines", "1", "records", "1"])
    }
}
