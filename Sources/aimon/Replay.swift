import AimonCore
import ArgumentParser

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read log files from their start to their end into the windows, then exit (backfill).",
        discussion: """
        Lines land in the windows of their own timestamps. Progress is checkpointed like the daemon's, \
        so a replay that is interrupted and run again counts nothing twice, and a file already read by \
        the daemon on this host (a log rotated away included) is not counted again. A file that the \
        running daemon of this host has open is refused, with exit code 75: the daemon counts it \
        already. Lines older than retention.hour_buckets are \
        counted as late and dropped. A replay raises no alert: history fills the windows, and a \
        running daemon judges them as they are now. The files are read in --format when it is given; else in the format of \
        the first configured source whose path matches one of them (its preset, fields and failure \
        policy); else as native.

        Files are read one at a time, so any number can be replayed under any open-file limit. A file \
        that cannot be read (missing, not a regular file, no permission) does not stop the others: \
        replay lists it and exits with code 66.
        """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Format of the files: a preset (\(LogFormat.names)). Default: that of the configured source the files match.")
    var format: String?

    @Argument(help: "Files to read.")
    var files: [String]

    func validate() throws {
        if let format, LogFormat(rawValue: format) == nil {
            throw ValidationError("unknown format '\(format)'; known: \(LogFormat.names)")
        }
    }

    func run() throws {
        let config = try options.load()
        for f in files where (try? FileSystem.status(of: f)) == nil {
            printError("cannot read \(f): no such file")
            throw ExitCode(ExitCodes.noInput)
        }
        let absolute = files.map { $0.hasPrefix("/") ? $0 : currentDirectory() + "/" + $0 }
        let logger = makeLogger(level: config.logLevel)
        let sourceFormat = format.flatMap(LogFormat.init(rawValue:)).map(SourceFormat.preset)
            ?? config.sources.first { s in absolute.contains { FileSystem.matches(pattern: s.path, path: $0) } }?.format
            ?? .preset(.native)
        let pipeline = IngestPipeline(config: config, mode: .replay(paths: absolute, format: sourceFormat), logger: logger)
        let signals = installStopSignals { pipeline.stop() }
        defer { _ = signals }
        do { try pipeline.run() } catch let error as IngestError {
            printError("\(error)")
            if case .heldByDaemon = error { throw ExitCode(ExitCodes.busy) }
            if case .filesNotRead = error { throw ExitCode(ExitCodes.noInput) }
            throw ExitCode.failure
        } catch {
            logger.critical("replay failed: \(error)")
            throw ExitCode.failure
        }
        if pipeline.stopSignal.isStopped { throw ExitCode(130) }
        // To a tenth of a MiB: whole MiB rounded down hid up to a MiB of it.
        let peak = ProcessMemory.peakResidentBytes().map { bytes in
            let tenths = (bytes * 10 + 524_288) / 1_048_576
            return ", peak memory \(tenths / 10).\(tenths % 10) MiB"
        } ?? ""
        print("replayed \(files.count) file(s): \(pipeline.stats.summary)\(peak)")
        print("time: \(pipeline.telemetry.figures.stages.summary)")
    }
}

func currentDirectory() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, buf.count) != nil else { return "." }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

#if canImport(Glibc)
import Glibc
#endif
