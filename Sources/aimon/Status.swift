import AimonCore
import ArgumentParser

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What each host's aimon has read: lines, records, bad lines by reason, and its daemon.",
        discussion: """
        One entry per host_id that wrote under this key prefix. The counters are committed with the \
        windows, so they are exact: lines read, records counted, lines that were no call, late lines \
        (older than retention.hour_buckets), lines over max_line_bytes, and bad lines by reason \
        (invalid_json, bad_latency, future_timestamp...: Docs/formats.md lists them). A running daemon \
        shows as the pid and machine holding the host's lease, with the files it has open; files let go \
        after rotation are kept so that a replay of them counts nothing twice.
        """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "An array of host objects.")
    var json = false

    func run() throws {
        let config = try options.load()
        let redis = try connectOnce(config)
        let hosts: [HostIngestStatus]
        do { hosts = try WindowReader(keys: config.keys, redis: redis).ingestStatus(now: wallClock()) } catch {
            printError("reading the ingest counters failed: \(error)")
            throw ExitCode.failure
        }
        if json { print(JSONValue.array(hosts.map(\.json)).pretty); return }
        guard !hosts.isEmpty else {
            print("no host has written under the key prefix '\(config.redis.keyPrefix)' yet")
            return
        }
        var out: [String] = []
        for h in hosts {
            let daemon = h.daemon.map { "aimon run \($0), \(h.filesHeld) file\(h.filesHeld == 1 ? "" : "s") open" } ?? "no daemon running"
            out.append("host \(h.host): \(daemon); \(h.filesLetGo) file\(h.filesLetGo == 1 ? "" : "s") read and let go")
            let c = h.counters
            func n(_ k: String) -> Int64 { c[k] ?? 0 }
            out.append("  lines \(n("lines")), records \(n("records")), not calls \(n("skipped")), late \(n("late")), "
                + "over max_line_bytes \(n("overlong")), bad \(h.badTotal)")
            if !h.badLines.isEmpty {
                out.append("  bad lines: " + h.badLines.map { "\($0.reason) \($0.count)" }.joined(separator: ", "))
            }
            let alerts = c.filter { $0.key.hasPrefix("alerts_") }.sorted { $0.key < $1.key }
            if !alerts.isEmpty { out.append("  alerts: " + alerts.map { "\($0.key.dropFirst(7)) \($0.value)" }.joined(separator: ", ")) }
            if n("saturated") + n("repaired") > 0 {
                out.append("  Redis sums held at the Int64 edge: \(n("saturated")); replaced (held no integer): \(n("repaired"))")
            }
        }
        print(out.joined(separator: "\n"))
    }
}
