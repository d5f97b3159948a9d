import AimonCore
import ArgumentParser

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and print what aimon would do with it.",
        discussion: "Every problem is listed with its key and line. Exit code 0 when valid, 78 when not.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        print("\(options.path): valid")
        print("  host_id: \(config.hostID)")
        for s in config.sources {
            print("  source: \(s.path) (\(s.format.summary); start_at \(s.startAt.rawValue))")
        }
        print("  redis: \(config.redis.url), key prefix '\(config.redis.keyPrefix)'")
        print("  retention: minute buckets \(config.retention.minuteBuckets / 3600)h, hour buckets \(config.retention.hourBuckets / 86400)d")
        for r in config.alerts.engine.rules {
            guard r.enabled else { print("  rule \(r.type.rawValue): disabled"); continue }
            var parts = ["\(r.type.firesBelow ? "below" : r.type.inclusive ? "at least" : "above") \(AlertTransition.format(r.threshold, r.type))",
                         r.scope == .allModels ? "all models" : "per model", "window \(r.windowText)", r.severity.rawValue]
            if r.minRequests > 0 { parts.append("min \(r.minRequests) calls") }
            if r.forDuration > 0 { parts.append("for \(AlertRule.durationText(r.forDuration))") }
            if r.keepFiringFor > 0 { parts.append("keep firing \(AlertRule.durationText(r.keepFiringFor))") }
            if let every = r.repeatInterval { parts.append("remind every \(AlertRule.durationText(every))") }
            if !r.overrides.isEmpty { parts.append("overrides for \(r.overrides.keys.sorted().joined(separator: ", "))") }
            print("  rule \(r.type.rawValue): \(parts.joined(separator: ", "))")
        }
        print("  alert table: \(config.alerts.database)")
    }
}
