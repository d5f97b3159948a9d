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

    @Test func modelRegistryCapsNames() {
        var r = ModelRegistry(capacity: 2, known: ["a"])
        #expect(r.canonical("a") == "a")
        #expect(r.canonical("b") == "b")
        #expect(r.canonical("c") == ModelRegistry.overflowName)
        #expect(r.canonical("b") == "b")
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
        #expect(ErrorMessage.normalise("  upstream\n timeout   after 30s ", status: 504) == "upstream timeout after 30s")
        #expect(ErrorMessage.normalise("request 1234567 failed", status: nil) == "request # failed")
        #expect(ErrorMessage.normalise("id 12345 and 1234 and 123456789", status: nil) == "id # and 1234 and #")
        #expect(ErrorMessage.normalise("timeout\t\r\n after 30s", status: nil) == "timeout after 30s")
        #expect(ErrorMessage.normalise("é 日本", status: nil) == "é 日本")
        #expect(ErrorMessage.normalise(nil, status: 503) == "HTTP 503")
        #expect(ErrorMessage.normalise("", status: nil) == "unknown")
        let long = ErrorMessage.normalise(String(repeating: "é", count: 500), status: nil)
        #expect(long.utf8.count <= ErrorMessage.maxBytes && long.hasSuffix("..."))
    }

    @Test func storeWritesOneTransactionWithTTLsAndCheckpoints() throws {
        var b = WindowBatch(retention: retention)
        var models = ModelRegistry(capacity: 100)
        try b.add(APICall(timestamp: now, userID: "u", model: "a", success: false), registry: &models, now: now)
        let store = WindowStore(keys: KeySchema(prefix: "p"), retention: retention, host: "h1")
        let cmds = store.commands(for: .init(batch: b, checkpoints: ["1:2": Checkpoint(offset: 10, fingerprint: 255, path: "/x")],
                                            counters: ["lines": 1], forget: ["1:3"]))
        let text = String(decoding: cmds.commands.bytes, as: UTF8.self)
        // Every key written gets an expiry.
        for key in ["p:{a}:m:\(Int64(now))", "p:{*}:h:\(Int64(now))", "p:{a}:u:\(Int64(now))", "p:{a}:e:\(Int64(now))",
                    "p:{a}:runs", "p:models", "p:models:\(Int64(now))", "p:ckpt:h1", "p:ingest:h1"] {
            #expect(text.contains(key), "\(key)")
        }
        #expect(text.contains("EXPIREAT\r\n$\(String(Int64(now) + 60 + retention.minuteBuckets).count)\r\n") || text.contains("EXPIREAT"))
        #expect(text.contains("10 ff /x"))
        #expect(text.contains("HDEL"))
        #expect(text.contains("HINCRBY\r\n$10\r\np:{a}:runs\r\n$1\r\nn\r\n$1\r\n1"))  // no success: the run grows
        #expect(text.contains("$4\r\nlast\r\n$13\r\n\(Int64(now) * 1000)"))  // when its last failure happened
        #expect(cmds.runReplies["a"] != nil)
    }
}
