import AimonCore
import ArgumentParser
import Foundation
import Logging

/// The `--config` option every command shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp(
        "Configuration file.", discussion: "Default: $AIMON_CONFIG, else /etc/aimon/aimon.yaml.", valueName: "path"))
    var config: String?

    var path: String { ConfigLoader.resolvePath(config, environment: ProcessInfo.processInfo.environment) }

    /// Loads and checks the configuration; an invalid one ends the command with exit code 78.
    func load() throws -> Config {
        do { return try ConfigLoader.load(path: path) } catch {
            printError(error.description)
            throw ExitCode(ExitCodes.config)
        }
    }
}

/// `--hours` and `--json`, shared by the trailing-window reports (stats, system).
struct WindowOptions: ParsableArguments {
    @Option(help: "Window length in hours, ending now.")
    var hours: Double = 24

    @Flag(help: "Machine-readable output with the seed's key names (the same as the HTTP API's /api/v1/...).")
    var json = false

    func validate() throws {
        if let p = ReportQuery.problem(hours: hours) { throw ValidationError("--hours \(p)") }
    }
}

enum ExitCodes {
    /// EX_NOINPUT (sysexits.h): a file to read is missing or could not be read.
    static let noInput: Int32 = 66
    /// EX_UNAVAILABLE (sysexits.h): a service aimon needs (Redis) is not there.
    static let unavailable: Int32 = 69
    /// EX_TEMPFAIL (sysexits.h): a running daemon of this host reads the files asked for.
    static let busy: Int32 = 75
    /// EX_CONFIG (sysexits.h): the configuration is invalid.
    static let config: Int32 = 78
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("aimon: " + message + "\n").utf8))
}

/// A stderr logger at the configured level; one bootstrap per process, from the command. Under
/// systemd, when stderr is the journal, lines carry their priority for journald instead of a timestamp.
func makeLogger(level: String) -> Logger {
    let journal = JournalStreamLogHandler.stderrIsJournal
    LoggingSystem.bootstrap { label in
        var handler: any LogHandler = journal ? JournalStreamLogHandler(label: label) : StreamLogHandler.standardError(label: label)
        handler.logLevel = Logger.Level(rawValue: level) ?? .info
        return handler
    }
    return Logger(label: "aimon")
}

/// Connects for a one-shot command; Redis being down ends it with exit code 69.
func connectOnce(_ config: Config) throws -> RedisConnection {
    do { return try config.redis.connect() } catch {
        printError(error.description)
        throw ExitCode(ExitCodes.unavailable)
    }
}

/// Runs a report for a one-shot command: Redis being down ends it with exit code 69, a failed read
/// with 1; no alert table (alerts.database: none) with 69.
func runReport(_ query: ReportQuery, _ options: ConfigOptions) throws -> ReportAnswer {
    let config = try options.load()
    var connection: RedisConnection?
    if case .alerts = query {} else { connection = try connectOnce(config) }
    do {
        return try query.answer(redis: { () throws(ReportError) in connection! }, config: config, now: wallClock())
    } catch {
        printError(error.message)
        switch error.kind {
        case .unavailable, .noTable: throw ExitCode(ExitCodes.unavailable)
        case .badRequest, .failed: throw ExitCode.failure
        }
    }
}
