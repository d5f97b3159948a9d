import AimonCore

/// The human form of `aimon stats`: an aligned table, units on every figure.
enum StatsTable {
    static func render(_ reports: [ModelPerformance], hours: Double) -> String {
        guard !reports.isEmpty else { return "no calls in the last \(format(hours)) h" }
        let header = ["MODEL", "CALLS", "OK", "FAILED", "SUCCESS", "AVG LATENCY", "ERRORS", "LEVEL"]
        var rows = [header]
        for r in reports {
            rows.append([
                r.model, String(r.counts.calls), String(r.counts.successes), String(r.counts.failures),
                r.successRate.map(percent) ?? "no data",
                r.avgResponseTime.map(seconds) ?? "no data",
                r.errorRate.map(percent) ?? "no data",
                r.level.0.rawValue,
            ])
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = rows.map { row in
            row.enumerated().map { c, cell in
                c == row.count - 1 ? cell : c == 0 ? cell.padding(widths[c]) : cell.leftPadding(widths[c])
            }.joined(separator: "  ")
        }
        for r in reports where !r.topErrors.isEmpty {
            out.append("")
            out.append("top errors, \(r.model):")
            for e in r.topErrors { out.append("  \(String(e.count).leftPadding(8))  \(e.message)") }
        }
        if let first = reports.first {
            out.append("")
            out.append("window: last \(format(hours)) h in \(first.resolution == .minute ? "minute" : "hour") buckets")
        }
        return out.joined(separator: "\n")
    }

    static func percent(_ v: Double) -> String {
        let p = (v * 10000).rounded() / 100
        return "\(p)%"
    }

    static func seconds(_ v: Double) -> String {
        v < 1 ? "\(Int((v * 1000).rounded())) ms" : "\((v * 100).rounded() / 100) s"
    }

    static func format(_ h: Double) -> String { h == h.rounded() ? String(Int(h)) : String(h) }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
