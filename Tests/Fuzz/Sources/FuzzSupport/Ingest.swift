import AimonCore

/// What every fuzz target checks: input goes through ingest as the daemon takes it (parse, the value
/// domains, the fold, the commit script's arguments) without trapping, and what comes out keeps the
/// domains. A broken invariant traps, which libFuzzer reports as a crash with the input that did it.
public enum Ingest {
    public static let now = 1_795_773_600.0
    public static let limits = RecordLimits.default

    /// Parses `line` and, when it is a record, folds it and builds its commit.
    public static func line(_ line: UnsafeBufferPointer<UInt8>, parser: any LineParser) {
        var calls: [APICall] = []
        do throws(ParseFailure) {
            if let many = parser as? any MultiRecordParser { try many.parseAll(line, into: &calls) } else { calls = [try parser.parse(line)] }
        } catch { return }
        precondition(!calls.isEmpty, "a line parsed into no call")
        calls.forEach(checkDomains)
        fold(calls)
    }

    /// The record's values lie in their domains (RecordLimits), as the parsers promise.
    public static func checkDomains(_ c: APICall) {
        precondition(!c.model.isEmpty && c.model.utf8.count <= RecordLimits.maxModelBytes, "model out of its domain")
        if let t = c.timestamp { precondition(t.isFinite && t >= 0, "timestamp \(t)") }
        if let l = c.responseTime { precondition(l >= 0 && l <= limits.maxLatency, "latency \(l)") }
        precondition((0...RecordLimits.maxCount).contains(c.inputLength) && (0...RecordLimits.maxCount).contains(c.outputLength), "count")
        if let s = c.statusCode { precondition((0...RecordLimits.maxStatus).contains(s), "status \(s)") }
        for n in [c.inputTokens, c.outputTokens, c.cachedInputTokens] { if let n { precondition((0...RecordLimits.maxCount).contains(n), "tokens \(n)") } }
        if let usd = c.cost { precondition(usd >= 0 && usd <= RecordLimits.maxCost, "cost \(usd)") }
        if let t = c.ttft { precondition(t >= 0 && t <= limits.maxLatency, "ttft \(t)") }
    }

    /// Folds the records into a batch (those out of the time domain are refused) and builds the
    /// commit's script call; checks what the script will read as numbers.
    public static func fold(_ calls: [APICall], policy: FailurePolicy = .default) {
        var batch = WindowBatch(retention: Retention(), limits: limits, maxErrorMessages: 5)
        var registry = ModelRegistry(capacity: 3)
        for c in calls {
            do throws(ParseFailure) { try batch.add(c, policy: policy, registry: &registry, now: now) } catch {
                precondition(error == .futureTimestamp || error == .badTimestamp, "fold refused with \(error)")
            }
        }
        for (_, errors) in batch.errors {
            for m in errors.keys { precondition(m.utf8.count <= ErrorMessage.maxBytes, "message of \(m.utf8.count) bytes") }
        }
        // Sums saturate: with the negative values only hostile records hold, the order of the
        // additions can tell. The parsers' records (checkDomains) are folded alike in any order.
        if calls.allSatisfy(inDomains) { checkAppend(calls, policy: policy, whole: batch) }
        let store = WindowStore(keys: KeySchema(prefix: "f"), retention: Retention(), host: "h")
        let call = store.scriptCall(for: .init(batch: batch, changes: [CheckpointChange(id: "1:2", expected: "", new: "1 1 h0 /f")],
                                               counters: ["lines": Int64(calls.count)], now: Int64(now)))
        checkArguments(call.arguments)
    }

    /// Whether a record's values lie in the domains the parsers keep (`checkDomains`).
    static func inDomains(_ c: APICall) -> Bool {
        let counts = [c.inputLength, c.outputLength] + [c.inputTokens, c.outputTokens, c.cachedInputTokens].compactMap { $0 }
        return counts.allSatisfy { (0...RecordLimits.maxCount).contains($0) }
            && [c.responseTime, c.ttft].allSatisfy { $0.map { $0 >= 0 && $0 <= limits.maxLatency } ?? true }
            && (c.cost.map { $0 >= 0 && $0 <= RecordLimits.maxCost } ?? true)
            && (c.statusCode.map { (0...RecordLimits.maxStatus).contains($0) } ?? true)
    }

    /// The record with each value brought into its domain (hostile records made parser-like).
    public static func clamped(_ c: APICall) -> APICall {
        var c = c
        func count(_ n: Int) -> Int { min(max(n, 0), RecordLimits.maxCount) }
        func seconds(_ t: Double?) -> Double? { t.map { $0.isFinite ? min(max($0, 0), limits.maxLatency) : 0 } }
        c.inputLength = count(c.inputLength)
        c.outputLength = count(c.outputLength)
        c.inputTokens = c.inputTokens.map(count)
        c.outputTokens = c.outputTokens.map(count)
        c.cachedInputTokens = c.cachedInputTokens.map(count)
        c.responseTime = seconds(c.responseTime)
        c.ttft = seconds(c.ttft)
        c.cost = c.cost.map { $0.isFinite ? min(max($0, 0), RecordLimits.maxCost) : 0 }
        c.statusCode = c.statusCode.map { min(max($0, 0), RecordLimits.maxStatus) }
        return c
    }

    /// The calls folded in two parts, the second appended to the first (as the fold workers do),
    /// give the batch one pass gives: the same buckets, users, failure runs and counts, and the same
    /// failures under the error messages (which names they keep past the cap may differ).
    static func checkAppend(_ calls: [APICall], policy: FailurePolicy, whole: WindowBatch) {
        var registry = ModelRegistry(capacity: 3)
        var parts = [WindowBatch(retention: Retention(), limits: limits, maxErrorMessages: 5),
                     WindowBatch(retention: Retention(), limits: limits, maxErrorMessages: 5)]
        for (i, c) in calls.enumerated() { _ = try? parts[i < calls.count / 2 ? 0 : 1].add(c, policy: policy, registry: &registry, now: now) }
        parts[0].append(parts[1])
        let joined = parts[0]
        precondition(joined.records == whole.records && joined.late == whole.late, "appended: other counts")
        precondition(joined.minute == whole.minute && joined.hour == whole.hour, "appended: other buckets")
        precondition(joined.users == whole.users, "appended: other users")
        precondition(joined.runs == whole.runs, "appended: other failure runs")
        func failures(_ b: WindowBatch) -> [WindowBatch.BucketKey: Int64] { b.errors.mapValues { $0.values.reduce(0, +) } }
        precondition(failures(joined) == failures(whole), "appended: other failures under the error messages")
    }

    /// Walks the script's operations as the Lua does, checking that every count, expiry, TTL, delta
    /// and score is an integer (the script reads them with tonumber) and that every key index exists.
    static func checkArguments(_ a: [String]) {
        func int(_ i: Int) -> Int64 {
            guard i < a.count, let v = Int64(a[i]) else { preconditionFailure("argument \(i) is not an integer: \(i < a.count ? a[i] : "missing")") }
            return v
        }
        var i = 0
        let changes = int(i); i += 1 + 3 * Int(changes)
        let markers = int(i); i += 1 + 2 * Int(markers)
        precondition(int(i) > 0, "TTL"); i += 1
        let params: [String: Int] = ["u": 1, "h": 1, "e": 2, "s": 1, "z": 2, "r": 5, "c": 0]
        let width: [String: Int] = ["u": 1, "h": 2, "e": 2, "s": 1, "z": 2, "r": 0, "c": 2]
        while i < a.count {
            let op = a[i]
            guard let p = params[op], let w = width[op] else { preconditionFailure("unknown op \(op)") }
            precondition(int(i + 1) >= 1, "key index")
            let n = Int(int(i + 2))
            let first = i + 3
            switch op {
            case "u", "h", "s": precondition(int(first) > 0, "expiry")
            case "e": precondition(int(first) > 0 && int(first + 1) > 0, "expiry, cap")
            case "z": _ = (int(first), int(first + 1))
            case "r": for k in 0..<4 { _ = int(first + k) }; if !a[first + 4].isEmpty { _ = int(first + 4) }
            default: break
            }
            let items = first + p
            if op == "h" || op == "c" || op == "e" { for k in 0..<n { _ = int(items + 2 * k + 1) } }
            if op == "z" { for k in 0..<n { _ = int(items + 2 * k + 1) } }
            i = items + n * w
        }
        precondition(i == a.count, "arguments end mid-operation")
    }
}
