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
            print("  source: \(s.path) (format \(s.format.rawValue), start_at \(s.startAt.rawValue))")
        }
        print("  redis: \(config.redis.url), key prefix '\(config.redis.keyPrefix)'")
        print("  retention: minute buckets \(config.retention.minuteBuckets / 3600)h, hour buckets \(config.retention.hourBuckets / 86400)d")
    }
}
