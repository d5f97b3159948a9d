import AimonCore
import ArgumentParser

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove window data older than some days (the seed's cleanup_old_data).",
        discussion: """
        Every key aimon writes already expires (retention in the configuration), so this is for \
        shrinking retention by hand. It walks the keys under the prefix with SCAN (never KEYS, which \
        would block Redis), removes minute and hour buckets, user counts, error counts and per-hour \
        model sets that ended more than --days ago, and says how many keys it removed. Checkpoints, \
        counters, runs and alert states are left alone.
        """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Remove data older than this many days.")
    var days: Double = 30

    @Flag(help: "Count what would be removed, remove nothing.")
    var dryRun = false

    @Flag(help: "Machine-readable output: removed_keys (the seed's return value), scanned_keys, cutoff, dry_run.")
    var json = false

    func validate() throws {
        guard days > 0 else { throw ValidationError("--days must be more than 0") }
    }

    func run() throws {
        let config = try options.load()
        let redis = try connectOnce(config)
        let cutoff = Int64(wallClock() - days * 86400)
        let result: WindowCleanup.Result
        do {
            result = try WindowCleanup(keys: config.keys).removeBuckets(endingBefore: cutoff, dryRun: dryRun, on: redis) { r in
                if r.scanned % 100_000 < 1000, r.scanned >= 100_000 {
                    printError("scanned \(r.scanned) keys, \(r.removed) \(dryRun ? "to remove" : "removed")")
                }
            }
        } catch {
            printError("cleanup failed: \(error)")
            throw ExitCode.failure
        }
        if json {
            print(JSONValue.object([("removed_keys", .int(result.removed)), ("scanned_keys", .int(result.scanned)),
                                    ("cutoff", .int(cutoff)), ("dry_run", .bool(dryRun))]).pretty)
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        print("\(verb) \(result.removed) keys older than \(StatsTable.format(days)) day\(days == 1 ? "" : "s") (before \(AlertRow.timestamp(Double(cutoff)).prefix(16))Z); scanned \(result.scanned) keys under '\(config.redis.keyPrefix):'")
    }
}
