/// Running totals of one ingest process, for logs, status and tests.
public struct IngestStats: Sendable, Equatable {
    public var lines: Int64 = 0
    public var records: Int64 = 0
    public var badLines: [ParseFailure: Int64] = [:]
    public var overlongLines: Int64 = 0
    /// Valid lines that are not API calls (one-api's top-ups...): neither records nor bad.
    public var skippedLines: Int64 = 0
    public var lateRecords: Int64 = 0
    public var batchesCommitted: Int64 = 0
    public var commitRetries: Int64 = 0
    /// Redis sums held at the Int64 edge, or replaced because they held no integer.
    public var saturated: Int64 = 0
    public var redisConnected = false
    /// Failovers to a Redis that lacked this host's last commits: lines read again from its
    /// checkpoints, and lines no one could read again (their files gone meanwhile).
    public var rewinds: Int64 = 0
    public var linesReadAgain: Int64 = 0
    public var linesLost: Int64 = 0
    public var bytesLost: Int64 = 0
    /// Commits that reached fewer replicas than `redis.min_replicas` within its timeout.
    public var replicasShort: Int64 = 0

    public init() {}

    public var badTotal: Int64 { badLines.values.reduce(0, +) }

    /// The most frequent bad-line reasons, "bad_latency 12, invalid_json 3".
    public var topBadReasons: String {
        badLines.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue }
            .prefix(3).map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
    }

    public var summary: String {
        var parts = ["\(lines) lines", "\(records) records", "\(badTotal) bad", "\(overlongLines) overlong",
                     "\(lateRecords) late", "\(batchesCommitted) batches"]
        if skippedLines > 0 { parts.insert("\(skippedLines) not calls", at: 3) }
        if commitRetries > 0 { parts.append("\(commitRetries) commit retries") }
        if saturated > 0 { parts.append("\(saturated) sums saturated") }
        if replicasShort > 0 { parts.append("\(replicasShort) commits short of redis.min_replicas") }
        if rewinds > 0 { parts.append("\(rewinds) Redis rewinds (\(linesReadAgain) lines read again, \(linesLost) lost\(bytesLost > 0 ? ", \(bytesLost) bytes lost" : ""))") }
        if !badLines.isEmpty {
            parts.append("bad by reason: " + badLines.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " "))
        }
        return parts.joined(separator: ", ")
    }
}
