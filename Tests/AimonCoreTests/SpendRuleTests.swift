import Testing
@testable import AimonCore

/// `rules.spend`: calendar periods in UTC and fixed offsets, and the configuration's checks.
@Suite struct SpendRuleTests {
    /// Epoch seconds of a UTC date and time.
    static func at(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0) -> Int64 {
        Int64(Timestamp.daysFromCivil(year: y, month: mo, day: d)) * 86400 + Int64(h * 3600 + mi * 60)
    }

    func bounds(_ p: SpendRule.Period, _ t: Int64) -> [Int64] { bounds(p, "UTC", t) }

    func bounds(_ p: SpendRule.Period, _ zone: String, _ t: Int64) -> [Int64] {
        let b = SpendRule(period: p, utcOffset: SpendRule.parseZone(zone)!, thresholds: [1]).bounds(at: Double(t) + 0.5)
        return [b.start, b.end]
    }

    @Test func periodsInUTC() {
        let t = Self.at(2026, 12, 3, 11, 53)
        #expect(bounds(.hour, t) == [Self.at(2026, 12, 3, 11), Self.at(2026, 12, 3, 12)])
        #expect(bounds(.days(1), t) == [Self.at(2026, 12, 3), Self.at(2026, 12, 4)])
        // 2026-11-30 is a Monday.
        #expect(bounds(.week, t) == [Self.at(2026, 11, 30), Self.at(2026, 12, 7)])
        #expect(bounds(.week, Self.at(2026, 11, 30)) == [Self.at(2026, 11, 30), Self.at(2026, 12, 7)])
        #expect(bounds(.week, Self.at(2026, 11, 30) - 1) == [Self.at(2026, 11, 23), Self.at(2026, 11, 30)])
        #expect(bounds(.month, t) == [Self.at(2026, 12, 1), Self.at(2027, 1, 1)])
        #expect(bounds(.month, Self.at(2028, 2, 29, 23, 59)) == [Self.at(2028, 2, 1), Self.at(2028, 3, 1)])
        #expect(bounds(.month, Self.at(2027, 1, 1)) == [Self.at(2027, 1, 1), Self.at(2027, 2, 1)])
        // 30 days counted from 1970-01-01.
        let day = Int64(Timestamp.daysFromCivil(year: 2026, month: 12, day: 3))
        let first = day - day % 30
        #expect(bounds(.days(30), t) == [first * 86400, (first + 30) * 86400])
        // The instant a period ends belongs to the next.
        #expect(bounds(.days(1), Self.at(2026, 12, 4)) == [Self.at(2026, 12, 4), Self.at(2026, 12, 5)])
    }

    @Test func periodsInAFixedOffset() {
        // 23:30 UTC on the 3rd is 00:30 on the 4th at +01:00: that day began at 23:00 UTC.
        #expect(bounds(.days(1), "+01:00", Self.at(2026, 12, 3, 23, 30)) == [Self.at(2026, 12, 3, 23), Self.at(2026, 12, 4, 23)])
        #expect(bounds(.days(1), "-08:00", Self.at(2026, 12, 3, 7)) == [Self.at(2026, 12, 2, 8), Self.at(2026, 12, 3, 8)])
        #expect(bounds(.month, "-08:00", Self.at(2027, 1, 1, 7)) == [Self.at(2026, 12, 1, 8), Self.at(2027, 1, 1, 8)])
        // +05:30: the day begins at 18:30 UTC, taken back to 18:00 (hour buckets); the text keeps local midnight.
        let india = SpendRule(period: .days(1), utcOffset: SpendRule.parseZone("+05:30")!, thresholds: [1])
        let b = india.bounds(at: Double(Self.at(2026, 12, 3, 18, 45)))
        #expect([b.start, b.end] == [Self.at(2026, 12, 3, 18), Self.at(2026, 12, 4, 18)])
        #expect(india.describe(start: b.start) == "the day from 2026-12-04 00:00 +05:30")
        // 18:15 UTC is 23:45 there, but its hour bucket (18:00-19:00 UTC) belongs to the next day: the
        // period holding it is the one that takes that bucket, never one already over.
        #expect(bounds(.days(1), "+05:30", Self.at(2026, 12, 3, 18, 15)) == [Self.at(2026, 12, 3, 18), Self.at(2026, 12, 4, 18)])
        #expect(bounds(.days(1), "+05:30", Self.at(2026, 12, 3, 17, 59)) == [Self.at(2026, 12, 2, 18), Self.at(2026, 12, 3, 18)])
        for minute in stride(from: 0, to: 1440, by: 5) {
            for zone in ["+05:30", "-03:30", "+05:45", "+01:00", "-09:30"] {
                let t = Self.at(2026, 12, 3) + Int64(minute * 60)
                for p in [SpendRule.Period.hour, .days(1), .week, .month] {
                    let b = bounds(p, zone, t)
                    #expect(b[0] <= t && t < b[1], "\(p) \(zone) \(minute)")
                }
            }
        }
        #expect(SpendRule(period: .days(1), utcOffset: -12600, thresholds: [1]).describe(start: Self.at(2026, 12, 3, 3)) == "the day from 2026-12-03 00:00 -03:30")
        #expect(SpendRule(period: .hour, thresholds: [1]).describe(start: Self.at(2026, 12, 3, 11)) == "the hour from 2026-12-03 11:00 UTC")
        #expect(SpendRule(period: .days(30), thresholds: [1]).describe(start: Self.at(2026, 12, 3)) == "the 30 days from 2026-12-03 00:00 UTC")
    }

    @Test func zonesAndPeriodsAsWritten() {
        #expect(SpendRule.parseZone("UTC") == 0 && SpendRule.parseZone("Z") == 0)
        #expect(SpendRule.parseZone("+05:30") == 19800 && SpendRule.parseZone("UTC-08:00") == -28800 && SpendRule.parseZone("+14") == 50400)
        for bad in ["Europe/Berlin", "+15:00", "-13:00", "+05:20", "+5:3", "05:00", "+", "+aa", "+01:00:00", "+-05:00", "++5", "+01:-0"] {
            #expect(SpendRule.parseZone(bad) == nil, "\(bad)")
        }
        #expect(SpendRule.zoneText(19800) == "+05:30" && SpendRule.zoneText(-28800) == "-08:00" && SpendRule.zoneText(0) == "UTC")
        #expect(SpendRule.Period(parsing: "1d") == .days(1) && SpendRule.Period(parsing: "30d") == .days(30))
        #expect(SpendRule.Period(parsing: "month") == .month && SpendRule.Period(parsing: "1h") == .hour && SpendRule.Period(parsing: "week") == .week)
        for bad in ["0d", "2h", "367d", "d", "monthly-ish", ""] { #expect(SpendRule.Period(parsing: bad) == nil, "\(bad)") }
    }

    static func parse(_ spend: String) throws(ConfigError) -> [SpendRule] {
        try ConfigLoader.parse("sources:\n  - path: /x.jsonl\nrules:\n  spend:\n" + spend, hostname: "h").alerts.spend
    }

    static func problems(_ spend: String) -> [String] {
        do { _ = try parse(spend); return [] } catch { return error.problems.map(\.description) }
    }

    @Test func configuration() throws {
        #expect(try ConfigLoader.parse("sources:\n  - path: /x.jsonl\n", hostname: "h").alerts.spend.isEmpty)
        let one = try Self.parse("    period: 1d\n    thresholds: [100, 80, $12.50]\n")
        #expect(one == [SpendRule(period: .days(1), thresholds: [12.5, 80, 100])])
        let budget = try Self.parse("    period: month\n    zone: \"-05:00\"\n    budget: 1000\n    scope: model\n    severity: critical\n")
        #expect(budget == [SpendRule(period: .month, utcOffset: -18000, thresholds: [800, 900, 1000], budget: 1000, scope: .model, severity: .critical)])
        let shares = try Self.parse("    - period: 1h\n      budget: 50\n      thresholds: [50%, 100%]\n    - period: 1h\n      scope: model\n      thresholds: 5\n")
        #expect(shares.map(\.thresholds) == [[25, 50], [5]])
        #expect(shares.map(\.id) == ["1h@UTC/all", "1h@UTC/model"])
        #expect(try Self.parse("    period: 1d\n    thresholds: 5\n    enabled: false\n").isEmpty)

        #expect(Self.problems("    thresholds: [5]\n").contains { $0.contains("rules.spend.period: is missing") })
        #expect(Self.problems("    period: 1d\n").contains { $0.contains("rules.spend.thresholds: is missing") })
        #expect(Self.problems("    period: 1d\n    thresholds: [80%]\n").contains { $0.contains("is a percentage: give the rule a budget") })
        #expect(Self.problems("    period: 1d\n    budget: 10\n    thresholds: [8]\n").contains { $0.contains("with a budget, thresholds are percentages") })
        #expect(Self.problems("    period: 1d\n    thresholds: [0]\n").contains { $0.contains("must be an amount in USD above 0") })
        #expect(Self.problems("    period: 1d\n    thresholds: [1e12]\n").contains { $0.contains("must be an amount in USD above 0") })
        #expect(Self.problems("    period: 60d\n    thresholds: [5]\n").contains { $0.contains("longer than retention.hour_buckets") })
        #expect(Self.problems("    period: 1d\n    zone: Europe/Paris\n    thresholds: [5]\n").contains { $0.contains("is not a zone") })
        #expect(Self.problems("    - {period: 1d, thresholds: [5]}\n    - {period: 1d, zone: \"+01:00\", thresholds: [9]}\n")
            .contains { $0.contains("a second rule for period 1d and scope all") })
        #expect(Self.problems("    period: 1d\n    thresholds: [5]\n    window: 1h\n").contains { $0.contains("window") })
    }

    @Test func messagesSayWhatWasSpentAgainstWhat() {
        var t = AlertTransition(kind: .firing, type: .spend, model: nil, severity: .warning, value: 83.204, threshold: 80, window: 86400,
                                sample: 1234, fingerprint: "f", episodeStart: 10, at: 10, notifyCount: 1)
        t.spend = .init(period: "1d", text: "the day from 2026-12-03 00:00 UTC", start: 0, end: 86400, budget: 100)
        #expect(t.message == "Firing spend for all models: $83.20 spent in the day from 2026-12-03 00:00 UTC (1234 priced calls) (threshold $80.00, 80% of the $100.00 budget)")
        #expect(t.windowText == "1d")
        t.kind = .resolved
        #expect(t.message.hasSuffix("budget); the period is over"))
        t.spend?.withdrawn = true
        #expect(t.message.hasSuffix("; the rule no longer has this threshold"))
        let fields = JournalSink.fields(t, host: "h")
        #expect(fields.contains("AIMON_ALERT_TYPE=spend") && fields.contains("AIMON_WINDOW=1d") && fields.contains("AIMON_THRESHOLD=80"))
        #expect(fields.contains("AIMON_PERIOD_START=1970-01-01T00:00:00.000Z") && fields.contains("AIMON_PERIOD_END=1970-01-02T00:00:00.000Z"))
        #expect(fields.contains("MESSAGE_ID=" + AlertType.spend.messageID))
    }
}
