/// Removes window keys older than a cut-off, walking the key space with SCAN (never KEYS, which
/// blocks Redis) and deleting with UNLINK (freed in the background). TTLs do the routine work; this
/// is for shrinking retention by hand.
public struct WindowCleanup: Sendable {
    public let keys: KeySchema

    public init(keys: KeySchema) { self.keys = keys }

    public struct Result: Sendable {
        public var scanned: Int64 = 0
        public var removed: Int64 = 0
    }

    /// The end (epoch seconds) of the bucket a key holds, when it is a time bucket of this prefix:
    /// `P:{M}:m|h|u|e:<start>`, `P:models:<hour>` or `P:deployments:<hour>`. nil for every other key (checkpoints, runs,
    /// alert states, counters...), which cleanup leaves alone.
    public func bucketEnd(_ key: String) -> Int64? {
        guard key.hasPrefix(keys.prefix + ":") else { return nil }
        let parts = key.dropFirst(keys.prefix.count + 1).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 2, let start = Int64(parts[parts.count - 1]) else { return nil }
        switch parts[parts.count - 2] {
        case "m": return parts.count == 3 ? start + 60 : nil
        case "h", "u", "e": return parts.count == 3 ? start + 3600 : nil
        case "models", "deployments": return parts.count == 2 ? start + 3600 : nil
        default: return nil
        }
    }

    /// Removes the buckets that ended before `cutoff`. `progress` is called after each SCAN page.
    public func removeBuckets(endingBefore cutoff: Int64, dryRun: Bool = false, on redis: RedisConnection,
                              progress: (Result) -> Void = { _ in }) throws(RedisError) -> Result {
        var result = Result()
        var cursor = "0"
        repeat {
            let reply = try redis.command(["SCAN", cursor, "MATCH", keys.prefix + ":*", "COUNT", "1000"])
            guard let page = reply.array, page.count == 2, let next = page[0].text else {
                throw RedisError(.protocolViolation, "unexpected SCAN reply: \(reply)")
            }
            cursor = next
            let found = (page[1].array ?? []).compactMap(\.text)
            result.scanned += Int64(found.count)
            let old = found.filter { bucketEnd($0).map { $0 <= cutoff } ?? false }
            if !old.isEmpty, !dryRun {
                let r = try redis.command(["UNLINK"] + old)
                if case let .error(e) = r { throw RedisError(.reply, "cannot remove keys: \(e)") }
            }
            result.removed += Int64(old.count)
            progress(result)
        } while cursor != "0"
        return result
    }
}
