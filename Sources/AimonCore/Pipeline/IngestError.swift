/// Why ingest stopped, when a retry cannot help.
public enum IngestError: Error, CustomStringConvertible {
    /// A checkpoint held neither what this process expected nor what it wrote: another process reads
    /// the same file for this host. Nothing of the batch was applied.
    case conflict(id: String, found: String)
    /// Replay: files a running `aimon run` of this host holds.
    case heldByDaemon(paths: [String], holder: String)
    /// Another daemon took this host's lease (this one stalled past it).
    case leaseLost(holder: String)
    /// Replay: files that could not be read (the others were counted).
    case filesNotRead([(path: String, reason: String)])
    /// Redis holds fewer of this host's commits than this process made (a failover to a replica that
    /// missed them): ingest starts again from Redis's checkpoints.
    case redisBehind(mine: Int64, redis: Int64, report: BehindReport)

    public var description: String {
        switch self {
        case let .conflict(id, found):
            return "another aimon process moved the checkpoint of file \(id) (found '\(found)'): give each daemon its own host_id, "
                + "and do not replay a file a daemon of this host reads; nothing was counted twice"
        case let .heldByDaemon(paths, holder):
            return "a running aimon of this host_id (\(holder)) reads \(paths.joined(separator: ", ")); it counts those lines "
                + "already, so they are not replayed (stop it first to replay them)"
        case let .leaseLost(holder):
            return "another aimon run took this host_id's lease: \(holder); each daemon needs its own host_id"
        case let .redisBehind(mine, redis, report):
            return "Redis holds \(redis) commits of this host, this process made \(mine): Redis lost the last \(mine - redis) "
                + "(a failover to a replica that had not received them); starting again from Redis's checkpoints: \(report.summary)"
        case let .filesNotRead(files):
            return "\(files.count) file(s) not read (the others were counted; replay these again once readable):\n"
                + files.map { "  \($0.path): \($0.reason)" }.joined(separator: "\n")
        }
    }
}
