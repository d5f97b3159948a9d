import AimonCore
import ArgumentParser
import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground: tail the sources into Redis windows and raise alerts.",
        discussion: """
        Under systemd (Type=notify; systemd/aimon.service) aimon sends READY=1 once Redis answers and \
        the sources are open, keeps STATUS= current (files, lines/s, backlog, Redis, last alert), feeds \
        the watchdog only while its ingest and evaluation loops both make progress, and sends \
        STOPPING=1 on SIGTERM.

        SIGHUP reloads the configuration and keeps what did not change: sources kept keep their open \
        files and positions, an unchanged alert table keeps its queue. An invalid file changes nothing.

        Alerts go to the systemd journal (journalctl SYSLOG_IDENTIFIER=aimon -p warning), or to \
        stderr when there is no journal, and to the alert table (alerts.database; see aimon alerts). \
        Logs go to stderr. SIGTERM or SIGINT commits what has been read and exits 0. While Redis is \
        unreachable aimon pauses reading, retries with backoff, and catches up when it returns; while \
        the alert table is unreachable its writes wait in a queue.

        One daemon per host_id: a second one with the same host_id waits (and says so) until the first \
        stops, since both would read the same files.
        """)

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        let logger = makeLogger(level: config.logLevel)
        let path = options.path
        let daemon = Daemon(config: config, logger: logger) { try ConfigLoader.load(path: path) }
        let signals = installStopSignals(stop: { daemon.stop() }, reload: { daemon.reload() })
        defer { _ = signals }
        do { try daemon.run() } catch {
            logger.critical("aimon stops: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Routes SIGTERM and SIGINT to `stop`, and SIGHUP to `reload` when given, through Dispatch (no
/// work in a signal handler).
///
/// The signals are unblocked first: a parent may have started aimon with them blocked (a blocked
/// mask is inherited across exec), and a daemon that cannot be stopped is worse than useless.
func installStopSignals(stop: @escaping @Sendable () -> Void, reload: (@Sendable () -> Void)? = nil) -> [any DispatchSourceSignal] {
    var set = sigset_t()
    sigemptyset(&set)
    for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, sig) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    let queue = DispatchQueue(label: "aimon.signals")
    var handlers: [(Int32, @Sendable () -> Void)] = [(SIGTERM, stop), (SIGINT, stop)]
    if let reload { handlers.append((SIGHUP, reload)) }
    return handlers.map { sig, handler in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }
}
