import AimonCore
import ArgumentParser
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground: tail the sources into Redis windows and raise alerts.",
        discussion: """
        Under systemd (Type=notify; systemd/aimon.service) aimon sends READY=1 once Redis answers and \
        the sources are open, keeps STATUS= current (files, lines/s, backlog, Redis, last alert), feeds \
        the watchdog from its ingest loop, and sends STOPPING=1 on SIGTERM.

        Alerts go to the systemd journal (journalctl SYSLOG_IDENTIFIER=aimon -p warning), or to \
        stderr when there is no journal, and to the alert table (alerts.database; see aimon alerts). \
        Logs go to stderr. SIGTERM or SIGINT commits what has been read and exits 0. While Redis is \
        unreachable aimon pauses reading, retries with backoff, and catches up when it returns; while \
        the alert table is unreachable its writes wait in a queue.
        """)

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        let logger = makeLogger(level: config.logLevel)
        var sinks: [any AlertSink] = [JournalSink(host: config.hostID)]
        var table: AlertTableWriter?
        if config.alerts.database != .none {
            let database = config.alerts.database
            let writer = AlertTableWriter(host: config.hostID, capacity: config.alerts.queueSize, logger: logger) { () throws(AlertTableError) in
                try database.openTable()!
            }
            writer.start()
            sinks.append(writer)
            table = writer
        }
        let notifier = ServiceNotifier()
        let pipeline = IngestPipeline(config: config, mode: .follow, logger: logger, alertSinks: sinks, notifier: notifier)
        let signals = installStopSignals {
            notifier.stopping()
            pipeline.stop()
        }
        defer { _ = signals }
        do { try pipeline.run() } catch {
            logger.critical("ingest failed: \(error)")
            table?.stop(timeout: 2)
            throw ExitCode.failure
        }
        table?.stop(timeout: 5)
    }
}

/// Routes SIGTERM and SIGINT to `stop` through Dispatch (no work in a signal handler).
///
/// The signals are unblocked first: a parent may have started aimon with them blocked (a blocked
/// mask is inherited across exec), and a daemon that cannot be stopped is worse than useless.
func installStopSignals(_ stop: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
    var set = sigset_t()
    sigemptyset(&set)
    for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, sig) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    return [SIGTERM, SIGINT].map { sig in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "aimon.signals"))
        source.setEventHandler(handler: stop)
        source.resume()
        return source
    }
}
