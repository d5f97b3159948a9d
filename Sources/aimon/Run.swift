import AimonCore
import ArgumentParser
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground: tail the sources into Redis windows.",
        discussion: """
        Logs go to stderr. SIGTERM or SIGINT commits what has been read and exits 0. While Redis is \
        unreachable aimon pauses reading, retries with backoff, and catches up when it returns.
        """)

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        let logger = makeLogger(level: config.logLevel)
        let pipeline = IngestPipeline(config: config, mode: .follow, logger: logger)
        let signals = installStopSignals { pipeline.stop() }
        defer { _ = signals }
        do { try pipeline.run() } catch {
            logger.critical("ingest failed: \(error)")
            throw ExitCode.failure
        }
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
