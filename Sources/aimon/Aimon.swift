import AimonCore
import ArgumentParser

@main
struct Aimon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aimon",
        abstract: "Watch an AI/LLM API gateway's logs and tell, within seconds, when a model fails or slows down.",
        discussion: """
        aimon tails the gateway's JSON-lines logs, keeps per-model windows in Redis (exactly once, even \
        across kill -9), raises alerts into the systemd journal and an alert table, and answers reports.

        Check a configuration, run the daemon, ask how the models are doing, list the alerts:
          aimon check-config --config config/aimon.yaml
          aimon run --config config/aimon.yaml
          aimon stats --config config/aimon.yaml
          aimon alerts --active --config config/aimon.yaml
          journalctl SYSLOG_IDENTIFIER=aimon -p warning

        The configuration file is --config PATH, else $AIMON_CONFIG, else /etc/aimon/aimon.yaml.
        Exit codes: 0 success, 1 failure, 64 bad usage, 66 files not read (replay: missing or unreadable), \
        69 Redis unavailable, 75 files busy (replay of files a running daemon of this host reads), 78 invalid configuration.
        """,
        version: AimonVersion.current,
        subcommands: [Run.self, Replay.self, Stats.self, SystemReport.self, Trend.self, Alerts.self, Status.self, Cleanup.self, CheckConfig.self]
    )
}
