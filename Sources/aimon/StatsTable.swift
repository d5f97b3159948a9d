import AimonCore

/// The human form of `aimon stats`: an aligned table, units on every figure, failing ones coloured.
enum StatsTable {
    static func render(_ reports: [ModelPerformance], hours: Double) -> String {
        guard let first = reports.first else { return "no calls in the last \(format(hours)) h" }
        var table = TextTable(["MODEL", "CALLS", "CALLS/MIN", "OK", "PROVIDER", "RATE LTD", "CLIENT", "SUCCESS", "AVG", "P50", "P95", "P99", "ERRORS", "LEVEL"])
        for r in reports {
            let bad = r.successRate.map { $0 < 0.95 } ?? false
            let slow = r.avgResponseTime.map { $0 > 10 } ?? false
            let level = r.level.0
            let plain: (String) -> String = { $0 }
            let red: (String) -> String = { TerminalStyle.red($0) }
            let yellow: (String) -> String = { TerminalStyle.yellow($0) }
            let levelPaint = level == .poor ? red : level == .fair ? yellow : plain
            table.add([
                name(r.model), String(r.counts.calls), fixed(r.callsPerMinute, 1), String(r.counts.successes),
                String(r.counts.providerErrors), String(r.counts.rateLimited), String(r.counts.clientErrors),
                r.successRate.map(percent) ?? "no data",
                r.avgResponseTime.map(seconds) ?? "no data",
                r.latency(quantile: 0.5).map(seconds) ?? "no data",
                r.latency(quantile: 0.95).map(seconds) ?? "no data",
                r.latency(quantile: 0.99).map(seconds) ?? "no data",
                r.errorRate.map(percent) ?? "no data",
                level.rawValue,
            ], paint: [plain, plain, plain, plain, plain, plain, plain, bad ? red : plain, slow ? red : plain,
                       plain, plain, plain, bad ? red : plain, levelPaint])
        }
        var out = table.render()
        out += llmTable(reports)
        out.append("")
        out.append("levels:")
        for r in reports { out.append("  \(name(r.model)): \(r.level.0.rawValue), \(r.level.1)") }
        for r in reports where !r.topErrors.isEmpty {
            out.append("")
            out.append("top errors, \(name(r.model)):")
            for e in r.topErrors { out.append("  \(String(e.count).leftPadding(8))  \(e.message)") }
        }
        out.append("")
        out.append("window: \(AlertRow.timestamp(Double(first.from)).prefix(16))Z to \(AlertRow.timestamp(Double(first.to)).prefix(16))Z "
                   + "(last \(format(hours)) h, \(first.resolution == .minute ? "minute" : "hour") buckets); "
                   + "percentiles are estimated within their histogram bucket (Docs/reports.md)")
        out.append("PROVIDER, RATE LTD, CLIENT: failed calls by class; SUCCESS and ERRORS are over the calls the sources judge "
                   + "(by default client errors are left out: Docs/formats.md)")
        return out.joined(separator: "\n")
    }

    /// Tokens, cost and time to first token, for the models whose calls carried any (a column is
    /// "-" where none did).
    static func llmTable(_ reports: [ModelPerformance]) -> [String] {
        let rows = reports.filter { $0.counts.tokenCalls > 0 || $0.counts.costCalls > 0 || $0.counts.ttftCount > 0 }
        guard !rows.isEmpty else { return [] }
        var table = TextTable(["MODEL", "IN TOKENS", "OUT TOKENS", "CACHED", "COST", "TTFT AVG", "TTFT P50", "TTFT P95", "STREAMED"])
        for r in rows {
            let c = r.counts
            let tokens = c.tokenCalls > 0
            table.add([name(r.model), tokens ? String(c.inputTokens) : "-", tokens ? String(c.outputTokens) : "-",
                       tokens ? String(c.cachedInputTokens) : "-", c.cost.map(usd) ?? "-", c.avgTTFT.map(seconds) ?? "-",
                       LatencyBuckets.quantile(0.5, of: c.ttftHistogram).map(seconds) ?? "-",
                       LatencyBuckets.quantile(0.95, of: c.ttftHistogram).map(seconds) ?? "-", String(c.ttftCount)])
        }
        return [""] + table.render()
    }

    /// A model, or a (model, deployment) pair as "model @ deployment".
    static func name(_ stored: String) -> String {
        guard let p = Deployment.split(stored) else { return ModelRegistry.label(stored) }
        return ModelRegistry.label(p.model) + " @ " + Deployment.label(p.deployment)
    }

    static func usd(_ v: Double) -> String { "$" + (v >= 100 ? fixed(v, 2) : v >= 1 ? fixed(v, 3) : fixed(v, 6)) }

    static func percent(_ v: Double) -> String { fixed(v * 100, 2) + "%" }

    static func seconds(_ v: Double) -> String { v < 1 ? "\(Int((v * 1000).rounded())) ms" : fixed(v, 2) + " s" }

    static func fixed(_ v: Double, _ digits: Int) -> String { AlertTransition.fixed(v, digits) }

    static func format(_ h: Double) -> String { h == h.rounded() ? String(Int(h)) : String(h) }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
