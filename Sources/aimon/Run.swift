import AimonCore
import ArgumentParser
import Dispatch
import Logging
import Synchronization
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

        One daemon per host_id: a second one with the same host_id waits (and says so) until the first \
        stops, since both would read the same files.
        """)

    @OptionGroup var options: ConfigOptions

    func run() throws {
        var config = try options.load()
        let logger = makeLogger(level: config.logLevel)
        let notifier = ServiceNotifier()
        let current = Mutex<IngestPipeline?>(nil)
        let reloadAsked = Atomic<Bool>(false)
        let stopAsked = Atomic<Bool>(false)
        let signals = installStopSignals(stop: {
            notifier.stopping()
            stopAsked.store(true, ordering: .releasing)
            current.withLock { $0?.stop() }
        }, reload: {
            // The running pipeline commits what it has read and returns; the loop below re-reads the file.
            reloadAsked.store(true, ordering: .releasing)
            current.withLock { $0?.stop() }
        })
        defer { _ = signals }
        while true {
            let (sinks, table) = makeSinks(config, logger: logger)
            let pipeline = IngestPipeline(config: config, mode: .follow, logger: logger, alertSinks: sinks, notifier: notifier)
            current.withLock { $0 = pipeline }
            // A SIGTERM during a reload found the old pipeline: it stops the new one too.
            if stopAsked.load(ordering: .acquiring) { pipeline.stop() }
            var restart = false
            do { try pipeline.run() } catch let error as IngestError {
                // Nothing of the refused batch was applied: a new pipeline resumes from Redis's checkpoints.
                logger.error("ingest restarts from the checkpoints in Redis: \(error)")
                restart = true
            } catch {
                logger.critical("ingest failed: \(error)")
                table?.stop(timeout: 2)
                throw ExitCode.failure
            }
            table?.stop(timeout: 5)
            if restart, !stopAsked.load(ordering: .acquiring) {
                usleep(1_000_000)  // a stop asked meanwhile stops the next pipeline at once
                continue
            }
            guard reloadAsked.exchange(false, ordering: .acquiringAndReleasing), !stopAsked.load(ordering: .acquiring) else { return }
            // Nothing is lost or read twice across a reload: every line read was committed with its
            // checkpoint, and the next pipeline resumes from the checkpoints in Redis.
            notifier.reloading()
            do {
                config = try ConfigLoader.load(path: options.path)
                logger.notice("reloaded \(options.path)", metadata: ["sources": "\(config.sources.count)"])
            } catch {
                logger.error("refusing the new configuration, the old one stays in force: \(error.description)")
            }
        }
    }

    /// The journal, and the alert table when there is one (its writer runs until stopped).
    func makeSinks(_ config: Config, logger: Logger) -> ([any AlertSink], AlertTableWriter?) {
        var sinks: [any AlertSink] = [JournalSink(host: config.hostID)]
        guard config.alerts.database != .none else { return (sinks, nil) }
        let database = config.alerts.database
        let writer = AlertTableWriter(host: config.hostID, capacity: config.alerts.queueSize, logger: logger) { () throws(AlertTableError) in
            try database.openTable()!
        }
        writer.start()
        sinks.append(writer)
        return (sinks, writer)
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
