import AimonCore
import ArgumentParser

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and print what aimon would do with it.",
        discussion: """
        Every problem is listed with its key and line. With --sample N, each source's format is also \
        tried on the first N lines of the first file its path matches: how many became records, of \
        which failure class, which lines were refused and why, and the first record field by field. \
        A source whose folder does not exist, or whose path matches no file yet, is listed as a warning. \
        Exit code 0 when valid, 78 when not (also when a sample has lines and none became a record, \
        and with --strict when a source reads nothing).
        """)

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("Try each source's format on the first N lines of its first file.", valueName: "N"))
    var sample: Int?

    @Flag(help: "Also fail (exit 78) when a source's folder does not exist or its path matches no file.")
    var strict = false

    func validate() throws {
        if let sample, sample < 1 { throw ValidationError("--sample must be at least 1") }
    }

    func run() throws {
        let config = try options.load()
        print("\(options.path): valid")
        print("  host_id: \(config.hostID)")
        var unfit: [String] = []
        var empty = 0
        for s in config.sources {
            print("  source: \(s.path) (\(s.format.summary); start_at \(s.startAt.rawValue))")
            if let problem = SourceCheck.problem(pattern: s.path) {
                print("    warning: \(problem)")
                empty += 1
            }
            if let sample, let file = FileSystem.glob(s.path).paths.first {
                do {
                    let r = try FormatSample.read(path: file, format: s.format, maxLines: sample, maxLineBytes: config.ingest.maxLineBytes,
                                                  limits: config.ingest.limits)
                    print("    sample of \(file): \(r.summary)")
                    if let first = r.firstRecord { print("    first record: \(first)") }
                    if !r.fits { unfit.append(file) }
                } catch {
                    print("    sample of \(file): cannot read it: \(error)")
                }
            } else if sample != nil {
                print("    sample: no file matches \(s.path) yet")
            }
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
        if strict, empty > 0 {
            printError("\(empty) source\(empty == 1 ? "" : "s") read\(empty == 1 ? "s" : "") nothing (see the warnings above), and --strict was given")
            throw ExitCode(ExitCodes.config)
        }
        if !unfit.isEmpty {
            printError("no line of \(unfit.joined(separator: ", ")) became a record: the source's format or fields do not fit that log (Docs/formats.md)")
            throw ExitCode(ExitCodes.config)
        }
    }
}
