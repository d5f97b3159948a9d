import Testing
@testable import AimonCore

/// Every numeric field has a domain, for every format: a value outside it makes the line a bad line
/// with its own reason, never a trap and never a silent drop (Docs/design.md, "Value domains").
@Suite struct ValueDomainTests {
    let now = 1_795_773_600.0  // 2026-11-27T10:00:00Z
    let retention = Retention()

    /// A value written into a line: a number in the field's base unit (seconds), or raw JSON text.
    enum Value {
        case number(Double)
        case json(String)

        /// The JSON text, the number scaled to the format's unit.
        func text(scale: Double = 1) -> String {
            switch self {
            case let .number(v): return Value.format(v * scale)
            case let .json(t): return t
            }
        }

        static func format(_ v: Double) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
        }
    }

    /// The formats of one call a line, with times in seconds or milliseconds; otlp-json (nanosecond
    /// times, several calls a line) has its own test below.
    static let lineFormats = LogFormat.allCases.filter { $0 != .otlpJSON }

    /// otlp-json's domains: the same reasons, from span attributes and nanosecond times.
    @Test func otlpValuesOutOfTheirDomain() {
        let start = Int64(now) * 1_000_000_000
        func line(start: String = "\"\(Int64(1_795_773_600) * 1_000_000_000)\"", end: String? = nil, attrs: String) -> String {
            let e = end ?? start
            return #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":\#(start),"endTimeUnixNano":\#(e),"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"m"}}\#(attrs)]}]}]}]}"#
        }
        let s = "\"\(start)\""
        expectFailure(.otlpJSON, line(start: s, end: "\"\(start - 1)\"", attrs: ""), .badLatency)  // ends before it starts
        expectFailure(.otlpJSON, line(start: s, end: "\"\(start + 3601 * 1_000_000_000)\"", attrs: ""), .badLatency)
        expectFailure(.otlpJSON, line(start: "\"soon\"", attrs: ""), .badTimestamp)
        expectFailure(.otlpJSON, line(start: "\"99999999999999999999\"", attrs: ""), .badTimestamp)  // over 64 bits
        expectFailure(.otlpJSON, line(start: "\"\(start + 301 * 1_000_000_000)\"", attrs: ""), .futureTimestamp)
        expectFailure(.otlpJSON, line(start: s, attrs: #",{"key":"gen_ai.usage.input_tokens","value":{"intValue":"-1"}}"#), .badCount)
        expectFailure(.otlpJSON, line(start: s, attrs: #",{"key":"gen_ai.usage.output_tokens","value":{"intValue":"99999999999"}}"#), .badCount)
        expectFailure(.otlpJSON, line(start: s, attrs: #",{"key":"http.response.status_code","value":{"intValue":1000}}"#), .badStatus)
        let long = String(repeating: "b", count: RecordLimits.maxModelBytes + 1)
        expectFailure(.otlpJSON, #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":\#(s),"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"\#(long)"}}]}]}]}]}"#, .modelTooLong)
        // Times far apart: no trap, a bad latency (review: end - start overflowed Int64).
        expectFailure(.otlpJSON, line(start: "\"9000000000000000000\"", end: "-900000000000000000", attrs: ""), .badLatency)
        // A time as a 19-digit JSON number, and a count written 4.0, are read as in the other formats.
        #expect(ingest(line(start: "\(start)", end: "\(start + 500_000_000)", attrs: #",{"key":"gen_ai.usage.input_tokens","value":{"intValue":4.0}}"#), .otlpJSON).1.records == 1)
        // Valid JSON of other shapes where a span or an attribute is expected: not invalid JSON.
        #expect(ingest(#"{"resourceSpans":[{"scopeSpans":[{"spans":[null,{"startTimeUnixNano":\#(s),"attributes":[7,{"key":"gen_ai.request.model","value":{"stringValue":"m"}}]}]}]}]}"#, .otlpJSON).1.records == 1)
        // A key written twice counts by its later value, as everywhere: not both.
        var twice: [APICall] = []
        let doubled = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":\#(s),"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"m"}}]}]}]}],"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":\#(s),"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"n"}}]}]}]}]}"#
        Array(doubled.utf8).withUnsafeBufferPointer { buf in try? OTLPParser().parseAll(buf, into: &twice) }
        #expect(twice.map(\.model) == ["n"])
        // One bad span fails its whole line: a line counts once, all of it or none.
        let (result, batch) = ingest(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":\#(s),"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"ok"}}]},{"startTimeUnixNano":"x","attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"m"}}]}]}]}]}"#, .otlpJSON)
        #expect(result.failure == .badTimestamp && batch.records == 0)
        // The calls go into the caller's array and are taken back when the line fails: what it held
        // before stays, and nothing of a failed line is left behind.
        let earlier = APICall(model: "earlier")
        let span = #"{"startTimeUnixNano":\#(s),"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"ok"}}]}"#
        let lines = [
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[\#(span),{"startTimeUnixNano":"x","attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"m"}}]}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[\#(span)]}]}]} x"#,  // invalid after the spans
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":\#(s)}]}]}]}"#,  // no call
        ]
        for text in lines {
            var out = [earlier]
            let failed = Array(text.utf8).withUnsafeBufferPointer { buf in
                do throws(ParseFailure) { try OTLPParser().parseAll(buf, into: &out); return false } catch { return true }
            }
            #expect(failed && out == [earlier], "\(text)")
        }
        var out = [earlier]
        Array(doubled.utf8).withUnsafeBufferPointer { buf in try? OTLPParser().parseAll(buf, into: &out) }
        #expect(out.map(\.model) == ["earlier", "n"])
    }

    /// One line of `format` with the given timestamp, latency, input count, status and model.
    static func line(_ format: LogFormat, time: Value, latency: Value = .number(0.5), count: Value = .number(10),
                     status: Value = .number(200), model: String = "\"m\"") -> String {
        let t = time.text(), l = latency.text(), n = count.text(), s = status.text()
        switch format {
        case .native:
            return #"{"timestamp":\#(t),"model_name":\#(model),"success":true,"response_time":\#(l),"status_code":\#(s),"input_length":\#(n)}"#
        case .litellm:
            // The latency is endTime - startTime.
            let end: String
            switch (time, latency) {
            case let (.number(a), .number(b)): end = Value.format(a + b)
            case let (_, .json(text)): end = text
            default: end = t
            }
            return #"{"status":"success","startTime":\#(t),"endTime":\#(end),"model":\#(model),"prompt_tokens":\#(n),"error_information":{"error_code":\#(s)}}"#
        case .nginx:
            return #"{"time":\#(t),"model":\#(model),"status":\#(s),"request_time":\#(l),"input_tokens":\#(n)}"#
        case .kong:
            return #"{"started_at":\#(time.text(scale: 1000)),"ai":{"proxy":{"meta":{"request_model":\#(model)},"usage":{"prompt_tokens":\#(n)}}},"response":{"status":\#(s)},"latencies":{"request":\#(latency.text(scale: 1000))}}"#
        case .envoy:
            return #"{"start_time":\#(t),"genai_model_name":\#(model),"response_code":\#(s),"duration":\#(latency.text(scale: 1000)),"genai_tokens_input":\#(n)}"#
        case .openaiGateway:
            return #"{"type":2,"created_at":\#(t),"model_name":\#(model),"use_time":\#(l),"prompt_tokens":\#(n)}"#
        case .otlpJSON:
            preconditionFailure("otlp-json lines have their own test (otlpValuesOutOfTheirDomain)")
        }
    }

    /// What ingest makes of one line: parse with the format's parser, then fold into a batch at `now`.
    func ingest(_ line: String, _ format: LogFormat, limits: RecordLimits = .default) -> (Result<APICall, ParseFailure>, WindowBatch) {
        var batch = WindowBatch(retention: retention, limits: limits)
        var models = ModelRegistry(capacity: 10)
        let parser = SourceFormat.preset(format).makeParser(limits: limits)
        let result = FormatFixtures.parse(line, with: parser).flatMap { call -> Result<APICall, ParseFailure> in
            do throws(ParseFailure) {
                try batch.add(call, registry: &models, now: now)
                return .success(call)
            } catch { return .failure(error) }
        }
        return (result, batch)
    }

    func expectFailure(_ format: LogFormat, _ line: String, _ reason: ParseFailure, sourceLocation: SourceLocation = #_sourceLocation) {
        let (result, batch) = ingest(line, format)
        #expect(result.failure == reason, "\(format.rawValue): \(line)\n got \(result)", sourceLocation: sourceLocation)
        #expect(batch.records == 0 && batch.late == 0, sourceLocation: sourceLocation)
    }

    @Test(arguments: Self.lineFormats)
    func aValidLineOfEveryFormatIsAccepted(format: LogFormat) throws {
        let (result, batch) = ingest(Self.line(format, time: .number(now - 60), latency: .number(3600)), format)
        let call = try result.get()
        #expect(call.model == "m" && abs((call.responseTime ?? 0) - 3600) < 1e-6)
        #expect(batch.records == 1)
    }

    @Test(arguments: Self.lineFormats)
    func timestampsOutOfTheirDomain(format: LogFormat) {
        // 1e22 (read as milliseconds: the year 316 million), 1e19, the year 2100: all in the future.
        for t in [1e22, 1e19, 4_102_444_800, now + 301] {
            expectFailure(format, Self.line(format, time: .number(t)), .futureTimestamp)
        }
        expectFailure(format, Self.line(format, time: .number(-1)), .badTimestamp)
        // Within the clock skew: accepted. Older than the retention: late, counted, not stored.
        #expect(ingest(Self.line(format, time: .number(now + 299)), format).1.records == 1)
        let (old, batch) = ingest(Self.line(format, time: .number(now - 40 * 86400)), format)
        #expect(old.failure == nil && batch.late == 1 && batch.records == 0)
    }

    @Test(arguments: Self.lineFormats)
    func latenciesOutOfTheirDomain(format: LogFormat) {
        for l in [1e13, -1, 3601, 1e300] {
            expectFailure(format, Self.line(format, time: .number(now), latency: .number(l)), .badLatency)
        }
        // "NaN" in a string: the native record's latency must be a number; in the other formats a
        // string may hold a number (nginx quotes everything), and this one holds none. LiteLLM's
        // latency is a span between two times, so there it is a bad time.
        let nan = Self.line(format, time: .number(now), latency: .json(#""NaN""#))
        let reason: ParseFailure = format == .native ? .wrongType : format == .litellm ? .badTimestamp : .badLatency
        expectFailure(format, nan, reason)
    }

    @Test(arguments: Self.lineFormats)
    func countsOutOfTheirDomain(format: LogFormat) {
        for n in [-1, 1.5, 1e10] {
            expectFailure(format, Self.line(format, time: .number(now), count: .number(n)), .badCount)
        }
    }

    @Test(arguments: Self.lineFormats.filter { $0 != .openaiGateway })  // one-api logs no status
    func statusesOutOfTheirDomain(format: LogFormat) {
        for s in [1000, -1, 1e12] {
            expectFailure(format, Self.line(format, time: .number(now), status: .number(s)), .badStatus)
        }
    }

    @Test(arguments: Self.lineFormats)
    func modelNamesAreBounded(format: LogFormat) {
        let ok = String(repeating: "a", count: RecordLimits.maxModelBytes)
        #expect(ingest(Self.line(format, time: .number(now), model: "\"\(ok)\""), format).1.records == 1)
        for n in [RecordLimits.maxModelBytes + 1, 1 << 20] {
            let long = "\"" + String(repeating: "b", count: n) + "\""
            expectFailure(format, Self.line(format, time: .number(now), model: long), .modelTooLong)
        }
        // Bytes, not characters: 128 two-byte characters are 256 bytes, 129 are too many.
        #expect(ingest(Self.line(format, time: .number(now), model: "\"" + String(repeating: "é", count: 128) + "\""), format).1.records == 1)
        expectFailure(format, Self.line(format, time: .number(now), model: "\"" + String(repeating: "é", count: 129) + "\""), .modelTooLong)
    }

    @Test func limitsAreConfigurable() {
        let strict = RecordLimits(maxLatency: 10, maxClockSkew: 0)
        let (slow, _) = ingest(Self.line(.native, time: .number(now), latency: .number(11)), .native, limits: strict)
        #expect(slow.failure == .badLatency)
        let (ahead, _) = ingest(Self.line(.native, time: .number(now + 1)), .native, limits: strict)
        #expect(ahead.failure == .futureTimestamp)
    }

    // MARK: - Arithmetic on figures that may come from anywhere

    @Test func conversionsFromDoublesNeverTrap() {
        #expect(Int64(clamping: Double.nan) == 0)
        #expect(Int64(clamping: Double.infinity) == .max && Int64(clamping: -Double.infinity) == .min)
        #expect(Int64(clamping: 0x1p63) == .max && Int64(clamping: -0x1p63) == .min && Int64(clamping: -0x1p64) == .min)
        #expect(Int64(clamping: 1e22) == .max && Int64(clamping: -2.9) == -2)
        #expect(Int64.max.addingSaturated(1) == .max && Int64.min.addingSaturated(-1) == .min)
        #expect(Int64.min.subtractingSaturated(1) == .min && Int64(0).subtractingSaturated(.min) == .max)
    }

    @Test func sumsSaturateInsteadOfTrapping() {
        var a = BucketCounts()
        a.latencySumMicros = .max - 1
        a.inputSum = .max
        a.histogram[0] = .max
        a.calls = .max
        a.successes = .min
        var b = BucketCounts()
        b.add(APICall(model: "m", responseTime: 86_400, inputLength: RecordLimits.maxCount))
        a.merge(b)
        #expect(a.latencySumMicros == .max && a.inputSum == .max && a.calls == .max)
        #expect(a.failedCalls == .max)  // calls - successes, at the edge
        #expect(LatencyBuckets.quantile(0.99, of: a.histogram) != nil)
        #expect(BucketCounts.rates(successes: .max, failures: .max).judged == .max)
        var snapshot = WindowSnapshot(minutes: [WindowSnapshot.Minute(calls: .max, latencyCount: .max, latencySumMicros: .max),
                                                WindowSnapshot.Minute(calls: .max, latencyCount: 1, latencySumMicros: .max)])
        #expect(snapshot.sum(window: 3600).latencySumMicros == .max)
        snapshot.run = .init(current: .max, lastFailure: now, announced: 0)
        _ = RuleEngine.defaults.evaluate(model: "m", snapshot: snapshot, states: [:], now: now)
    }

    @Test func textOfExtremeValuesNeverTraps() {
        #expect(!AlertRow.timestamp(1e300).isEmpty && !AlertRow.timestamp(-1e300).isEmpty)
        for type in AlertType.allCases {
            #expect(!AlertTransition.format(1e300, type).isEmpty)
            #expect(!AlertTransition.format(-Double.infinity, type).isEmpty)
        }
        #expect(!AlertFingerprint.make(type: .slowResponse, model: "m", start: .infinity).isEmpty)
    }
}

extension Result {
    var failure: Failure? {
        if case let .failure(e) = self { return e }
        return nil
    }
}

@Suite struct IngestCounterNameTests {
    @Test func aReasonIsItsCountersName() {
        #expect(HostIngestStatus.isBadReason("bad_latency"))
        #expect(HostIngestStatus.isBadReason("invalid_json"))
        #expect(!HostIngestStatus.isBadReason("not_a_call"))  // counted as "skipped"
        #expect(!HostIngestStatus.isBadReason("lines"))
        #expect(!HostIngestStatus.isBadReason("saturated"))
    }

    @Test func countersOfEarlierBuildsAreReadUnderTheirReason() {
        #expect(HostIngestStatus.currentName("bad_bad_latency") == "bad_latency")
        #expect(HostIngestStatus.currentName("bad_invalid_json") == "invalid_json")
        #expect(HostIngestStatus.currentName("bad_latency") == "bad_latency")
        #expect(HostIngestStatus.currentName("bad_unknown") == "bad_unknown")
        let status = HostIngestStatus(host: "h", counters: ["bad_latency": 2, "lines": 9, "invalid_json": 1],
                                      daemon: nil, filesHeld: 0, filesLetGo: 0)
        #expect(status.badLines.map(\.reason) == ["bad_latency", "invalid_json"])
        #expect(status.badTotal == 3)
    }
}

@Suite struct RepeatLimiterTests {
    @Test func aLastingFaultIsSaidTwiceThenOnceAMinuteWithACount() {
        var limiter = RepeatLimiter(interval: 60)
        var said: [String] = []
        for t in 0..<300 {  // once a second for five minutes
            if let suffix = limiter.check("redis", now: Double(t)) { said.append("\(t)\(suffix)") }
        }
        #expect(said == ["0", "1", "61 (repeated 59 times in the last 60 s)", "121 (repeated 59 times in the last 60 s)",
                         "181 (repeated 59 times in the last 60 s)", "241 (repeated 59 times in the last 60 s)"])
        #expect(limiter.check("other", now: 300) == "")  // each fault on its own
        limiter.clear("redis")
        #expect(limiter.check("redis", now: 301) == "")
    }
}
