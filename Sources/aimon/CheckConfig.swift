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

        With --connect, also reaches what the configuration names, one line per check, like nginx -t: \
        Redis (reachable, password accepted, server version, every command aimon sends allowed by the \
        user's ACL, tried on scratch keys that are removed after), the alert table (opened, and written: \
        its schema version is set in a transaction) and the journal socket. Exit code 69 when any of these fails.
        """)

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("Try each source's format on the first N lines of its first file.", valueName: "N"))
    var sample: Int?

    @Flag(help: "Also fail (exit 78) when a source's folder does not exist or its path matches no file.")
    var strict = false

    @Flag(help: "Also reach Redis, the alert table, Alertmanager and the journal, and check each can serve aimon (exit 69 if not).")
    var connect = false

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
        print("  redis: \(config.redis.location), key prefix '\(config.redis.keyPrefix)'")
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
        for r in config.alerts.spend {
            let amounts = r.thresholds.map { t in
                AlertTransition.format(t, .spend) + (r.budget.map { " (\(AlertTransition.fixed(t / $0 * 100, 0))%)" } ?? "")
            }
            print("  rule spend: at least \(amounts.joined(separator: ", ")) per \(r.period.name) (\(r.zone)), "
                  + "\(r.scope == .allModels ? "all models" : "per model"), \(r.severity.rawValue)"
                  + (r.budget.map { ", budget \(AlertTransition.format($0, .spend))" } ?? ""))
        }
        print("  alert table: \(config.alerts.database)")
        if let am = config.alerts.alertmanager {
            print("  alertmanager: \(am.urls.joined(separator: ", ")) (resend every \(AlertRule.durationText(am.resendInterval)))")
        }
        let failed = connect ? checkConnections(config) : 0
        if strict, empty > 0 {
            printError("\(empty) source\(empty == 1 ? "" : "s") read\(empty == 1 ? "s" : "") nothing (see the warnings above), and --strict was given")
            throw ExitCode(ExitCodes.config)
        }
        if !unfit.isEmpty {
            printError("no line of \(unfit.joined(separator: ", ")) became a record: the source's format or fields do not fit that log (Docs/formats.md)")
            throw ExitCode(ExitCodes.config)
        }
        if failed > 0 {
            printError("\(failed) connection check\(failed == 1 ? "" : "s") failed (see above)")
            throw ExitCode(ExitCodes.unavailable)
        }
    }

    /// Prints one line per check; returns how many failed.
    func checkConnections(_ config: Config) -> Int {
        var failed = 0
        func line(_ name: String, _ ok: Bool, _ detail: String) {
            print("  \(ok ? "ok    " : "FAILED") \(name): \(detail)")
            if !ok { failed += 1 }
        }
        print("connections:")
        do {
            let redis = try config.redis.connect()
            line("redis", true, "reachable at \(config.redis.location)" + (config.redis.url.password == nil ? "" : ", password accepted"))
            do {
                let o = try RedisCheck.run(on: redis, keys: config.keys, host: config.hostID, sentinel: config.redis.sentinel != nil,
                                           waits: config.redis.minReplicas > 0)
                line("redis version", true, o.version)
                line("redis commands", o.refused.isEmpty, o.refused.isEmpty ? "every command aimon sends is allowed"
                     : "the ACL refuses \(o.refused.joined(separator: ", ")): allow them for aimon's Redis user (ACL SETUSER)")
            } catch {
                line("redis commands", false, error.description)
            }
        } catch {
            line("redis", false, error.description)
        }
        if case .none = config.alerts.database {
            print("  -      alert table: none configured")
        } else {
            do {
                _ = try config.alerts.database.openTable()
                line("alert table", true, "\(config.alerts.database): opened and written (its schema version, in a transaction)")
            } catch {
                line("alert table", false, "\(error)")
            }
        }
        for url in config.alerts.alertmanager?.urls ?? [] {
            do {
                try HTTPClient(timeout: config.alerts.alertmanager!.timeout).get(url + "/-/ready")
                line("alertmanager", true, "\(url) is ready")
            } catch {
                line("alertmanager", false, "\(error) (is Alertmanager running there? see alerts.alertmanager.urls)")
            }
        }
        let journal = access(JournalSink.socketPath, W_OK) == 0
        line("journal", journal, journal ? JournalSink.socketPath
             : "no journal socket at \(JournalSink.socketPath): alerts and logs would go to stderr")
        return failed
    }
}

#if canImport(Glibc)
import Glibc
#endif
