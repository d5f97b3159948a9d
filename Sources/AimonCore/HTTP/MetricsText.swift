/// The Prometheus text exposition format (0.0.4) of one telemetry snapshot: what `/metrics` serves.
///
/// Written here rather than through swift-prometheus: that library keeps a registry of live metric
/// objects that instrumentation updates, while aimon's figures already live in one snapshot
/// (`Telemetry`), updated once per batch; rendering the snapshot is a few lines, and costs nothing
/// per line read.
public enum MetricsText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ f: Telemetry.Figures, version: String) -> String {
        var out = Writer()
        out.metric("aimon_build_info", "gauge", "aimon's version.", [(["version": version], 1)])
        out.metric("aimon_log_lines_total", "counter", "Log lines read and committed.", [([:], Double(f.ingest.lines))])
        out.metric("aimon_records_total", "counter", "API-call records committed.", [([:], Double(f.ingest.records))])
        out.metric("aimon_bad_lines_total", "counter", "Lines skipped as bad, by reason.",
                   f.ingest.badLines.sorted { $0.key.rawValue < $1.key.rawValue }.map { (["reason": $0.key.rawValue], Double($0.value)) }
                   + [(["reason": "overlong"], Double(f.ingest.overlongLines))])
        out.metric("aimon_late_records_total", "counter", "Records older than retention.hour_buckets, dropped.", [([:], Double(f.ingest.lateRecords))])
        out.metric("aimon_batches_committed_total", "counter", "Batches committed to Redis.", [([:], Double(f.ingest.batchesCommitted))])
        out.metric("aimon_commit_retries_total", "counter", "Commits sent again after a failure.", [([:], Double(f.ingest.commitRetries))])
        out.metric("aimon_redis_up", "gauge", "1 while ingest's Redis connection is up.", [([:], f.ingest.redisConnected ? 1 : 0)])
        out.metric("aimon_redis_rewinds_total", "counter", "Times Redis was found without this host's last commits (a failover) and ingest read them again.",
                   [([:], Double(f.ingest.rewinds))])
        out.metric("aimon_commits_short_of_replicas_total", "counter", "Commits that reached fewer replicas than redis.min_replicas within its timeout.",
                   [([:], Double(f.ingest.replicasShort))])
        out.metric("aimon_lines_read_again_total", "counter", "Lines read again after a Redis failover lost their commit.", [([:], Double(f.ingest.linesReadAgain))])
        out.metric("aimon_lines_lost_total", "counter", "Lines whose commit a Redis failover lost and whose file was gone before they could be read again.",
                   [([:], Double(f.ingest.linesLost))])
        out.metric("aimon_files_open", "gauge", "Log files open.", [([:], Double(f.files.open))])
        out.metric("aimon_unread_bytes", "gauge", "Bytes written to the open files and not read yet.", [([:], Double(f.files.unreadBytes))])
        out.metric("aimon_file_rotations_total", "counter", "Rotations noticed.", [([:], Double(f.files.rotations))])
        out.metric("aimon_file_truncations_total", "counter", "Truncations noticed.", [([:], Double(f.files.truncations))])

        var calls: [([String: String], Double)] = []
        for (model, c) in f.calls.sorted(by: { $0.key < $1.key }) {
            let other = c.calls - c.successes - c.clientErrors - c.rateLimited - c.providerErrors
            for (cls, n) in [("success", c.successes), ("client_error", c.clientErrors), ("rate_limited", c.rateLimited),
                             ("provider_error", c.providerErrors), ("other", other)] where n > 0 || cls == "success" {
                calls.append((["model": model, "class": cls], Double(n)))
            }
        }
        out.metric("aimon_calls_total", "counter", "API calls committed, by model and class.", calls)
        out.header("aimon_call_duration_seconds", "histogram", "Latency of the calls that carried one, by model.")
        for (model, c) in f.calls.sorted(by: { $0.key < $1.key }) {
            out.histogram("aimon_call_duration_seconds", model: model, c.histogram, count: c.latencyCount, sumMicros: c.latencySumMicros)
        }
        let llm = f.calls.sorted(by: { $0.key < $1.key })
        var tokens: [([String: String], Double)] = []
        for (model, c) in llm where c.tokenCalls > 0 {
            for (kind, n) in [("input", c.inputTokens), ("output", c.outputTokens), ("cached_input", c.cachedInputTokens)] {
                tokens.append((["model": model, "kind": kind], Double(n)))
            }
        }
        out.metric("aimon_tokens_total", "counter", "Tokens of the calls committed, by model and kind (cached_input is part of input).", tokens)
        out.metric("aimon_cost_usd_total", "counter", "Cost in USD of the calls committed that carried one, by model.",
                   llm.filter { $0.value.costCalls > 0 }.map { (["model": $0.key], Double($0.value.costNanos) / 1e9) })
        out.header("aimon_time_to_first_token_seconds", "histogram", "Time to the first token of streamed calls, by model.")
        for (model, c) in llm where c.ttftCount > 0 {
            out.histogram("aimon_time_to_first_token_seconds", model: model, c.ttftHistogram, count: c.ttftCount, sumMicros: c.ttftSumMicros)
        }

        out.metric("aimon_alert_firing", "gauge", "1 for each alert firing (every aimon host's, from Redis).",
                   f.firing.sorted { $0.fingerprint < $1.fingerprint }.map { t in
                       (["alert_type": t.type.rawValue, "model": t.modelField, "severity": t.severity.rawValue]
                            .merging(t.deployment.map { ["deployment": $0] } ?? [:]) { a, _ in a }
                            .merging(t.spend.map { ["period": $0.period, "threshold": t.thresholdLabel] } ?? [:]) { a, _ in a }, 1)
                   })
        out.metric("aimon_evaluations_total", "counter", "Evaluations of the alert rules.", [([:], Double(f.evaluation.evaluations))])
        out.metric("aimon_evaluations_missed_total", "counter", "Timer slots that passed without an evaluation.", [([:], Double(f.evaluation.missed))])
        out.metric("aimon_evaluation_failures_total", "counter", "Evaluations that failed (Redis).", [([:], Double(f.evaluation.failures))])
        out.metric("aimon_alert_transitions_total", "counter", "Alert transitions this process announced.", [([:], Double(f.evaluation.transitions))])
        let sinks = f.sinks.sorted { $0.key < $1.key }
        out.metric("aimon_sink_deliveries_total", "counter", "Alerts delivered, by sink.", sinks.map { (["sink": $0.key], Double($0.value.delivered)) })
        out.metric("aimon_sink_failures_total", "counter", "Failed delivery attempts, by sink.", sinks.map { (["sink": $0.key], Double($0.value.failures)) })
        out.metric("aimon_sink_dropped_total", "counter", "Alerts dropped from a full queue, by sink.", sinks.map { (["sink": $0.key], Double($0.value.dropped)) })
        out.metric("aimon_sink_queue_length", "gauge", "Deliveries waiting, by sink.", sinks.map { (["sink": $0.key], Double($0.value.queued)) })
        let s = f.stages
        out.metric("aimon_stage_seconds_total", "counter", "Seconds spent in each stage (parse and fold estimated from a sample).",
                   [("read", s.read), ("parse", s.parse), ("fold", s.fold), ("commit", s.commit), ("evaluate", s.evaluate)].map { (["stage": $0.0], $0.1) })
        return out.text
    }

    struct Writer {
        var text = ""

        mutating func header(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }

        /// One model's series of a histogram over the latency buckets (counts per bucket, cumulated).
        mutating func histogram(_ name: String, model: String, _ buckets: [Int64], count: Int64, sumMicros: Int64) {
            var cumulative: Int64 = 0
            for (i, bound) in LatencyBuckets.bounds.enumerated() {
                cumulative += buckets[i]
                sample(name + "_bucket", ["model": model, "le": Self.number(bound)], Double(cumulative))
            }
            sample(name + "_bucket", ["model": model, "le": "+Inf"], Double(count))
            sample(name + "_sum", ["model": model], Double(sumMicros) / 1e6)
            sample(name + "_count", ["model": model], Double(count))
        }

        mutating func metric(_ name: String, _ type: String, _ help: String, _ samples: [([String: String], Double)]) {
            header(name, type, help)
            for (labels, value) in samples { sample(name, labels, value) }
        }

        mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
            }
            text += " " + Self.number(value) + "\n"
        }

        /// Label values: backslash, double quote and newline escaped.
        static func escape(_ s: String) -> String {
            var out = ""
            for c in s.unicodeScalars {
                switch c {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(c)
                }
            }
            return out
        }

        static func number(_ v: Double) -> String {
            if v.isNaN { return "NaN" }
            if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        }
    }
}
