/// The status page (`/`): what a person on call reads at a glance. Firing alerts first, then one
/// row per model (calls, success rate, p95, level, and the calls of the last hours as a sparkline
/// with the failed share in red), then the health of ingest.
///
/// Server-rendered HTML with inline CSS and SVG: no script, no external asset, so it works offline
/// and behind any proxy; it reloads itself every `refresh` seconds.
public struct StatusPage {
    public struct ModelRow {
        public var performance: ModelPerformance
        /// Hour buckets, oldest first, ending with the current hour.
        public var hourly: [BucketCounts]
    }

    public var host: String
    public var version: String
    /// Wall-clock seconds.
    public var now: Double
    /// The window of the table's figures.
    public var hours: Double
    public var rows: [ModelRow]
    /// Models seen but not shown (past the row limit).
    public var more = 0
    /// Why the windows could not be read (Redis down): the page still shows alerts and ingest.
    public var readError: String?
    public var firing: [AlertTransition]
    public var figures: Telemetry.Figures
    public var refresh = 10

    public static let contentType = "text/html; charset=utf-8"

    public func render() -> String {
        var h = ""
        h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        h += "<meta http-equiv=\"refresh\" content=\"\(refresh)\">"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        h += "<title>\(firing.isEmpty ? "" : "(\(firing.count) firing) ")aimon · \(Self.escape(host))</title>"
        h += "<style>\(Self.css)</style></head><body>\n"
        h += "<header><h1>aimon</h1><span>\(Self.escape(host)) · v\(Self.escape(version)) · \(Self.escape(AlertRow.timestamp(now).prefix(19).replacingT())) UTC"
        h += " · refreshes every \(refresh) s</span></header>\n"
        h += alertsSection()
        h += modelsSection()
        h += ingestSection()
        h += "<footer>JSON: <a href=\"api/v1/stats\">api/v1/stats</a> · <a href=\"api/v1/system\">system</a> · "
        h += "<a href=\"api/v1/trend\">trend</a> · <a href=\"api/v1/alerts?active\">alerts</a> · <a href=\"metrics\">metrics</a> · "
        h += "<a href=\"healthz\">healthz</a></footer>\n</body></html>\n"
        return h
    }

    // MARK: - Sections

    private func alertsSection() -> String {
        var h = "<section id=\"alerts\"><h2>Firing alerts (\(firing.count))</h2>\n"
        guard !firing.isEmpty else { return h + "<p class=\"ok\">No alert is firing.</p></section>\n" }
        h += "<table><thead><tr><th>severity</th><th>alert</th><th>model</th><th>value</th><th>threshold</th><th>for</th><th>what</th></tr></thead><tbody>\n"
        let sorted = firing.sorted { ($0.priority, $0.episodeStart) < ($1.priority, $1.episodeStart) }
        for a in sorted {
            h += "<tr id=\"\(Self.escape(a.fingerprint))\" class=\"alert \(a.severity.rawValue)\">"
            h += "<td><span class=\"badge \(a.severity.rawValue)\">\(a.severity.rawValue)</span></td>"
            h += "<td>\(a.type.rawValue)</td><td>\(Self.escape(a.model == nil ? "all models" : a.modelField + (a.deployment.map { " @ " + $0 } ?? "")))</td>"
            h += "<td class=\"n\">\(a.value.map { AlertTransition.format($0, a.type) } ?? "–")</td>"
            h += "<td class=\"n\">\(AlertTransition.format(a.threshold, a.type))</td>"
            h += "<td class=\"n\" title=\"since \(AlertRow.timestamp(a.episodeStart))\">\(Self.age(now - a.episodeStart))</td>"
            h += "<td class=\"msg\">\(Self.escape(a.message))</td></tr>\n"
        }
        return h + "</tbody></table></section>\n"
    }

    private func modelsSection() -> String {
        let spark = rows.first?.hourly.count ?? 24
        var h = "<section id=\"models\"><h2>Models, last \(Self.hoursText(hours))</h2>\n"
        if let readError { h += "<p class=\"bad\">Cannot read the windows: \(Self.escape(readError))</p>\n" }
        guard !rows.isEmpty else {
            return h + (readError == nil ? "<p>No calls in the last \(spark) hours.</p>" : "") + "</section>\n"
        }
        let firingModels = Dictionary(firing.compactMap { a in a.model.map { ($0, a.severity) } }, uniquingKeysWith: { a, b in a == .critical ? a : b })
        // Cost and time to first token, when the log carries them.
        let costs = rows.contains { $0.performance.counts.costCalls > 0 }
        let ttfts = rows.contains { $0.performance.counts.ttftCount > 0 }
        h += "<table><thead><tr><th>model</th><th>calls</th><th>success</th><th>p95</th><th>avg</th>"
        h += (ttfts ? "<th>first token p95</th>" : "") + (costs ? "<th>cost</th>" : "") + "<th>level</th>"
        h += "<th>calls per hour, last \(spark) h (red: failed)</th></tr></thead><tbody>\n"
        for row in rows {
            let p = row.performance
            let severity = firingModels[p.model]
            h += "<tr class=\"model\(severity.map { " \($0.rawValue)" } ?? "")\" data-model=\"\(Self.escape(p.model))\">"
            h += "<td class=\"name\">\(Self.escape(ModelRegistry.label(p.model)))\(severity == nil ? "" : " <span class=\"badge \(severity!.rawValue)\">firing</span>")</td>"
            h += "<td class=\"n\">\(p.counts.calls)</td>"
            let rate = p.successRate
            h += "<td class=\"n\(rate.map { $0 < 0.95 ? " bad" : "" } ?? "")\">\(rate.map { Self.percent($0) } ?? "no data")</td>"
            h += "<td class=\"n\">\(p.latency(quantile: 0.95).map(Self.seconds) ?? "–")</td>"
            h += "<td class=\"n\">\(p.avgResponseTime.map(Self.seconds) ?? "–")</td>"
            if ttfts { h += "<td class=\"n\">\(LatencyBuckets.quantile(0.95, of: p.counts.ttftHistogram).map(Self.seconds) ?? "–")</td>" }
            if costs { h += "<td class=\"n\">\(p.counts.cost.map { "$" + AlertTransition.fixed($0, $0 >= 1 ? 2 : 4) } ?? "–")</td>" }
            let level = p.level
            h += "<td><span class=\"level \(level.0.rawValue)\" title=\"\(Self.escape(level.1))\">\(level.0.rawValue)</span></td>"
            h += "<td>\(Self.sparkline(row.hourly, lastHour: now))</td></tr>\n"
        }
        h += "</tbody></table>"
        if more > 0 { h += "<p>\(more) more models with fewer calls: <a href=\"api/v1/stats?hours=\(Self.hoursText(hours, unit: false))\">all in JSON</a>.</p>" }
        return h + "</section>\n"
    }

    private func ingestSection() -> String {
        let f = figures
        var items: [(String, String, Bool)] = []  // (label, value, bad)
        items.append(("Redis", f.ingest.redisConnected ? "connected" : "unreachable", !f.ingest.redisConnected))
        items.append(("files open", String(f.files.open), f.files.open == 0))
        items.append(("unread (lag)", Self.bytes(f.files.unreadBytes), f.files.unreadBytes > 64 << 20))
        items.append(("lines read", String(f.ingest.lines), false))
        let bad = f.ingest.badTotal + f.ingest.overlongLines
        items.append(("bad lines", bad == 0 ? "0" : "\(bad) (\(f.ingest.topBadReasons))", bad > 0))
        items.append(("late records", String(f.ingest.lateRecords), false))
        items.append(("rotations", String(f.files.rotations), false))
        items.append(("evaluations", "\(f.evaluation.evaluations)\(f.evaluation.missed > 0 ? ", \(f.evaluation.missed) missed" : "")", f.evaluation.missed > 0))
        for (name, s) in f.sinks.sorted(by: { $0.key < $1.key }) {
            items.append(("sink \(name)", s.trouble ?? "\(s.delivered) delivered\(s.queued > 0 ? ", \(s.queued) queued" : "")", s.trouble != nil))
        }
        for (service, problem) in f.problems.sorted(by: { $0.key < $1.key }) { items.append((service, problem, true)) }
        var h = "<section id=\"ingest\"><h2>Ingest</h2><dl>\n"
        for (label, value, isBad) in items {
            h += "<div\(isBad ? " class=\"bad\"" : "")><dt>\(Self.escape(label))</dt><dd>\(Self.escape(value))</dd></div>\n"
        }
        return h + "</dl></section>\n"
    }

    // MARK: - Pieces

    /// Bars of calls per hour, the failed share of each in red; a tooltip per hour.
    static func sparkline(_ hours: [BucketCounts], lastHour now: Double) -> String {
        let width = 5, gap = 1, height = 28
        let top = max(hours.map(\.calls).max() ?? 0, 1)
        let current = Int64(now) - WindowBatch.mod(Int64(now), 3600)
        var s = "<svg class=\"spark\" width=\"\(hours.count * (width + gap))\" height=\"\(height)\" viewBox=\"0 0 \(hours.count * (width + gap)) \(height)\" role=\"img\">"
        for (i, b) in hours.enumerated() {
            let hour = current - Int64(hours.count - 1 - i) * 3600
            let x = i * (width + gap)
            let total = b.calls == 0 ? 0 : max(1, Int((Double(b.calls) / Double(top) * Double(height)).rounded()))
            let failed = b.calls == 0 ? 0 : Int((Double(b.failedCalls) / Double(b.calls) * Double(total)).rounded())
            let tip = "\(SystemPerformance.hourName(hour)): \(b.calls) calls" + (b.calls > 0 ? ", \(percent(Double(b.failedCalls) / Double(b.calls))) failed" : "")
            s += "<g><title>\(tip)</title>"
            s += "<rect x=\"\(x)\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"transparent\"/>"
            if total - failed > 0 { s += "<rect class=\"ok\" x=\"\(x)\" y=\"\(height - total)\" width=\"\(width)\" height=\"\(total - failed)\"/>" }
            if failed > 0 { s += "<rect class=\"failed\" x=\"\(x)\" y=\"\(height - failed)\" width=\"\(width)\" height=\"\(failed)\"/>" }
            s += "</g>"
        }
        return s + "</svg>"
    }

    public static func escape<S: StringProtocol>(_ text: S) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86400) d \(s % 86400 / 3600) h"
    }

    static func percent(_ v: Double) -> String { AlertTransition.fixed(v * 100, 1) + "%" }
    static func seconds(_ v: Double) -> String { v < 1 ? "\(Int((v * 1000).rounded())) ms" : AlertTransition.fixed(v, 2) + " s" }
    static func bytes(_ v: Int64) -> String {
        v < 1 << 10 ? "\(v) B" : v < 1 << 20 ? "\(v >> 10) KiB" : "\(v >> 20) MiB"
    }
    static func hoursText(_ h: Double, unit: Bool = true) -> String {
        let n = h == h.rounded() ? String(Int(h)) : AlertTransition.fixed(h, 2)
        return unit ? n + (h == 1 ? " hour" : " hours") : n
    }

    static let css = """
    body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#1d2329;background:#fafbfc}\
    header{display:flex;gap:1em;align-items:baseline;border-bottom:1px solid #dde1e6;margin-bottom:.5em}\
    h1{font-size:1.4em;margin:.5em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}header span{color:#5c6670}\
    table{border-collapse:collapse;background:#fff;border:1px solid #dde1e6}\
    th,td{padding:.3em .7em;border-bottom:1px solid #eef0f2;text-align:left;vertical-align:middle}\
    th{font-weight:600;color:#5c6670;font-size:.9em}td.n{text-align:right;font-variant-numeric:tabular-nums}\
    td.msg{color:#3b444d;max-width:40em}.bad{color:#b42318}.ok{color:#1a7f37}\
    tr.critical{background:#fdecea}tr.warning{background:#fff6e0}\
    .badge{display:inline-block;padding:0 .5em;border-radius:.8em;font-size:.85em;color:#fff}\
    .badge.critical{background:#b42318}.badge.warning{background:#b7791f}\
    .level{font-size:.9em;padding:0 .4em;border-radius:.3em}.level.excellent,.level.good{background:#dcf3e2}\
    .level.fair{background:#fff1c2}.level.poor{background:#fbd5d0}.level.unknown{background:#eceff1}\
    svg.spark rect.ok{fill:#6b8fd6}svg.spark rect.failed{fill:#d93025}\
    dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(14em,1fr));gap:.4em;margin:0}\
    dl div{background:#fff;border:1px solid #dde1e6;padding:.4em .7em}dt{color:#5c6670;font-size:.85em}dd{margin:0}\
    dl div.bad{border-color:#f0a39a}footer{margin-top:2em;color:#5c6670;font-size:.9em}a{color:#2f5fb3}
    """
}

private extension Substring {
    func replacingT() -> String { String(map { $0 == "T" ? " " : $0 }) }
}
