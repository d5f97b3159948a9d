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

    @OptionGroup var window: WindowOptions
    var hours: Double { window.hours }
    var json: Bool { window.json }

    func run() throws {
        let config = try options.load()
        let redis = try connectOnce(config)
        let reader = WindowReader(keys: config.keys, redis: redis)
        let now = wallClock()
        let reports: [ModelPerformance]
        do {
            if let model {
                // "(other models)" is how the models past ingest.max_models are shown, and asked for.
                let stored = model == ModelRegistry.overflowLabel ? ModelRegistry.overflowName : model
                reports = [try reader.performance(model: stored, hours: hours, now: now)]
            } else {
                let w = WindowReader.window(hours: hours, now: now)
                reports = try reader.performances(models: try reader.models(from: w.from, to: w.to), hours: hours, now: now)
            }
        } catch {
            printError("reading the windows failed: \(error)")
            throw ExitCode.failure
        }
        if json {
            print(model != nil ? reports[0].json.pretty : JSONValue.array(reports.map(\.json)).pretty)
        } else {
            print(StatsTable.render(reports, hours: hours))
        }
    }
}
