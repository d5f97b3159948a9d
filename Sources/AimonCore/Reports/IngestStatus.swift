/// What each host's aimon has read, as committed in Redis with the windows (`aimon status`): lines,
/// records, bad lines by reason, late lines, the daemon that holds the host (if one runs) and its
/// files. The counters move in the same transaction as the windows, so they are exact.
public struct HostIngestStatus: Sendable {
    public var host: String
    /// Ingest counters by name (lines, records, late, overlong, skipped, alerts_*, saturated...).
    public var counters: [String: Int64]
    /// The running daemon's lease, if it is live.
    public var daemon: DaemonLease.Holder?
    /// Files a daemon holds open, and files let go (kept so a replay or a return resumes).
    public var filesHeld: Int
    public var filesLetGo: Int

    /// Bad lines by reason (the counters named after the reasons), most frequent first.
    public var badLines: [(reason: String, count: Int64)] {
        counters.compactMap { k, v in Self.isBadReason(k) && v > 0 ? (k, v) : nil }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    /// A counter that counts bad lines: its name is the reason's (`invalid_json`, `bad_latency`...).
    static func isBadReason(_ field: String) -> Bool {
        ParseFailure(rawValue: field).map { $0 != .notACall } ?? false
    }

    /// The counter's name today: earlier builds named a reason's counter `bad_<reason>`
    /// (`bad_bad_latency`); such fields count until they expire.
    static func currentName(_ field: String) -> String {
        field.hasPrefix("bad_") && isBadReason(String(field.dropFirst(4))) ? String(field.dropFirst(4)) : field
    }

    public var badTotal: Int64 { badLines.reduce(0) { $0.addingSaturated($1.count) } }

    public var json: JSONValue {
        let plain = counters.filter { !Self.isBadReason($0.key) }.sorted { $0.key < $1.key }
        return .object([
            ("host", .string(host)),
            ("daemon", daemon.map { .object([("owner", .string($0.owner)), ("lease_until", .string(AlertRow.timestamp($0.expires)))]) } ?? .null),
            ("files_held", .int(Int64(filesHeld))),
            ("files_let_go", .int(Int64(filesLetGo))),
            ("counters", .object(plain.map { ($0.key, .int($0.value)) })),
            ("bad_lines", .object(badLines.map { ($0.reason, .int($0.count)) })),
        ])
    }
}

extension WindowReader {
    /// The ingest status of every host that wrote under this prefix: its counters, or its checkpoints
    /// (a daemon that has read nothing yet). Found with SCAN, never KEYS.
    public func ingestStatus(now: Double) throws(RedisError) -> [HostIngestStatus] {
        var found = Set<String>()
        for prefix in [keys.ingestCounters(host: ""), keys.checkpoints(host: "")] {
            var cursor = "0"
            repeat {
                let reply = try redis.command(["SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"])
                guard let page = reply.array, page.count == 2, let next = page[0].text else {
                    throw RedisError(.protocolViolation, "unexpected SCAN reply: \(reply)")
                }
                cursor = next
                for case let key? in (page[1].array ?? []).map(\.text) where key.hasPrefix(prefix) {
                    found.insert(KeySchema.unescape(String(key.dropFirst(prefix.count))))
                }
            } while cursor != "0"
        }
        let hosts = found.sorted()
        var c = RedisCommands()
        for h in hosts {
            c.append("HGETALL", keys.ingestCounters(host: h))
            c.append("HGETALL", keys.checkpoints(host: h))
        }
        let replies = try redis.pipeline(c)
        var out: [HostIngestStatus] = []
        for (i, h) in hosts.enumerated() {
            for r in replies[(2 * i)...(2 * i + 1)] { if case let .error(e) = r { throw RedisError(.reply, e) } }
            var counters: [String: Int64] = [:]
            for (k, v) in replies[2 * i].pairs {
                let name = HostIngestStatus.currentName(k)
                counters[name] = (counters[name] ?? 0).addingSaturated(v.integer ?? 0)
            }
            var markers: [String: String] = [:]
            var held = 0, letGo = 0
            for (k, v) in replies[2 * i + 1].pairs {
                guard let text = v.text else { continue }
                if k.hasPrefix(WindowStore.markerPrefix) { markers[k] = text; continue }
                guard let cp = Checkpoint(encoded: text) else { continue }
                if cp.held { held += 1 } else { letGo += 1 }
            }
            let daemon = DaemonLease.holder(in: markers, now: now)
            out.append(HostIngestStatus(host: h, counters: counters, daemon: daemon, filesHeld: daemon == nil ? 0 : held,
                                        filesLetGo: daemon == nil ? held + letGo : letGo))
        }
        return out
    }
}
