#if canImport(Glibc)
import Glibc
#endif

/// What a source's format makes of the first lines of one of its files: `aimon check-config --sample`,
/// so that a mapping is tried on the real log before the daemon relies on it.
public struct FormatSample: Sendable {
    public var path: String
    public var lines = 0
    public var outcomes: [CallOutcome: Int] = [:]
    /// Valid lines that are not calls (one-api's top-ups).
    public var notCalls = 0
    /// Lines refused, by reason, with the number of the first such line.
    public var failures: [ParseFailure: (count: Int, firstLine: Int)] = [:]
    public var overlong = 0
    /// The first record read.
    public var first: APICall?

    public var records: Int { outcomes.values.reduce(0, +) }

    /// Lines were read, and not one became a record or a known non-call: the format does not fit.
    public var fits: Bool { lines == 0 || records > 0 || notCalls > 0 }

    /// Parses up to `maxLines` lines from the start of `path` with `format`, refusing values outside
    /// `limits` (a time after `now` plus the clock skew included) as the daemon would.
    public static func read(path: String, format: SourceFormat, maxLines: Int, maxLineBytes: Int,
                            limits: RecordLimits = .default, now: Double = wallClock()) throws(SystemError) -> FormatSample {
        var sample = FormatSample(path: path)
        let fd = try FileSystem.openForReading(path)
        defer { close(fd) }
        let parser = format.makeParser(limits: limits)
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset: Int64 = 0
        while sample.lines + sample.overlong < maxLines {
            let n: Int
            do { n = try buffer.withUnsafeMutableBytes { raw in try FileSystem.pread(fd, raw, at: offset, path: path) } }
            catch let e as SystemError { throw e } catch { throw SystemError("pread", path) }
            if n == 0 { break }
            offset += Int64(n)
            buffer.withUnsafeBufferPointer { buf in
                splitter.feed(UnsafeBufferPointer(rebasing: buf[0..<n])) { event, _ in
                    guard sample.lines + sample.overlong < maxLines else { return }
                    guard case let .line(bytes) = event else { sample.overlong += 1; return }
                    sample.lines += 1
                    do throws(ParseFailure) {
                        // Every call of the line, as ingest takes them: all or none.
                        var calls: [APICall] = []
                        if let many = parser as? any MultiRecordParser { try many.parseAll(bytes, into: &calls) } else { calls = [try parser.parse(bytes)] }
                        for call in calls { _ = try limits.eventTime(call, now: now) }
                        for call in calls { sample.outcomes[call.outcome, default: 0] += 1 }
                        if sample.first == nil { sample.first = calls.first }
                    } catch where error == .notACall {
                        sample.notCalls += 1
                    } catch {
                        let seen = sample.failures[error]
                        sample.failures[error] = ((seen?.count ?? 0) + 1, seen?.firstLine ?? sample.lines + sample.overlong)
                    }
                }
            }
        }
        return sample
    }

    /// One line for people: "100 lines: 97 records (94 success, 3 provider_error), 3 bad (missing_model x3, first at line 12)".
    public var summary: String {
        var parts = ["\(lines + overlong) lines: \(records) records"]
        if records > 0 {
            parts[0] += " (" + CallOutcome.allCases.compactMap { o in outcomes[o].map { "\($0) \(o.name)" } }.joined(separator: ", ") + ")"
        }
        if notCalls > 0 { parts.append("\(notCalls) not calls") }
        if !failures.isEmpty {
            let total = failures.values.reduce(0) { $0 + $1.count }
            parts.append("\(total) bad (" + failures.sorted { $0.value.firstLine < $1.value.firstLine }
                .map { "\($0.key.rawValue) x\($0.value.count), first at line \($0.value.firstLine)" }.joined(separator: "; ") + ")")
        }
        if overlong > 0 { parts.append("\(overlong) over max_line_bytes") }
        return parts.joined(separator: ", ")
    }

    /// The first record, field by field.
    public var firstRecord: String? {
        guard let c = first else { return nil }
        var parts = ["model \(c.model)", "outcome \(c.outcome.name)"]
        if let t = c.timestamp { parts.append("time \(AlertRow.timestamp(t))") }
        if let s = c.statusCode { parts.append("status \(s)") }
        if let r = c.responseTime { parts.append("latency \(AlertTransition.fixed(r, 3)) s") }
        if let u = c.userID { parts.append("user \(u)") }
        if let w = c.workOrderID { parts.append("work order \(w)") }
        if let e = c.endpoint { parts.append("endpoint \(e)") }
        if c.inputLength > 0 || c.outputLength > 0 { parts.append("lengths \(c.inputLength)/\(c.outputLength)") }
        if let m = c.errorMessage { parts.append("error \(m.prefix(80))") }
        return parts.joined(separator: ", ")
    }
}
