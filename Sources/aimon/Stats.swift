import AimonCore
import ArgumentParser

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How each model is doing over a trailing window (the seed's get_model_performance).",
        discussion: """
        Rates are shown as "no data" (null in JSON) for a window without calls. The average latency \
        is over the calls that carried one. Windows up to 48 h use minute buckets, longer ones hour \
        buckets; the output gives the window actually covered. Top errors are counted per hour bucket. \
        p50/p95/p99 latency are estimated from each bucket's histogram: always in the same histogram \
        bucket as the true value (Docs/reports.md). Failed calls are shown by class (provider error, \
        rate limited, client error); success and error rates are over the calls the sources judge: \
        by default client errors are left out (Docs/formats.md).
        """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Only this model (prints one object with --json); \"(other models)\" for those past ingest.max_models.")
    var model: String?

    @Option(help: ArgumentHelp("model, or deployment: one row per (model, deployment) pair, where the log names the upstream that served each call.", valueName: "grouping"))
    var by = "model"

    func validate() throws {
        guard by == "model" || by == "deployment" else { throw ValidationError("--by must be model or deployment") }
    }

    @OptionGroup var window: WindowOptions
    var hours: Double { window.hours }
    var json: Bool { window.json }

    func run() throws {
        let answer = try runReport(.stats(model: model, hours: hours, byDeployment: by == "deployment"), options)
        guard case let .stats(reports, _) = answer else { return }
        print(json ? answer.json.pretty : StatsTable.render(reports, hours: hours))
    }
}
