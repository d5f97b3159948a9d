#if canImport(Glibc)
import Glibc
#endif

/// One `rules.spend` entry: the cost of the calls in a calendar period (an hour, a day, N days, a
/// week, a month, in UTC or a fixed offset) against one or more thresholds, for all models together
/// or for each model. Each threshold is announced once per period and resolves when the period is
/// over (SpendWatcher.swift does the I/O; this is the pure part).
public struct SpendRule: Equatable, Sendable {
    public enum Period: Equatable, Sendable {
        /// A clock hour.
        case hour
        /// N days counted from 1970-01-01 in the zone; `days(1)` is the calendar day.
        case days(Int)
        /// Monday to Sunday.
        case week
        /// A calendar month.
        case month

        /// As the configuration writes it: `1h`, `1d`, `30d`, `week`, `month`.
        public var name: String {
            switch self {
            case .hour: "1h"
            case let .days(n): "\(n)d"
            case .week: "week"
            case .month: "month"
            }
        }

        /// `1h`/`hour`, `1d`/`day`, `Nd` (1 to 366), `7d` is N days (not a Monday week), `week`, `month`.
        public init?(parsing text: String) {
            switch text {
            case "1h", "hour", "hourly": self = .hour
            case "1d", "day", "daily": self = .days(1)
            case "week", "weekly": self = .week
            case "month", "monthly": self = .month
            default:
                guard text.hasSuffix("d"), let n = Int(text.dropLast()), (1...366).contains(n) else { return nil }
                self = .days(n)
            }
        }

        /// Longest period in seconds (for the retention check).
        public var longest: Int64 {
            switch self {
            case .hour: 3600
            case let .days(n): Int64(n) * 86400
            case .week: 7 * 86400
            case .month: 31 * 86400
            }
        }

        var noun: String {
            switch self {
            case .hour: "hour"
            case .days(1): "day"
            case let .days(n): "\(n) days"
            case .week: "week"
            case .month: "month"
            }
        }
    }

    public var period: Period
    /// Seconds east of UTC of the zone the periods follow (0: UTC); whole quarter hours.
    public var utcOffset: Int = 0
    /// USD, ascending, each above 0.
    public var thresholds: [Double]
    /// USD; when set, the configuration gave the thresholds as percentages of it.
    public var budget: Double?
    public var scope: AlertScope = .allModels
    public var severity: AlertSeverity = .warning

    public init(period: Period, utcOffset: Int = 0, thresholds: [Double], budget: Double? = nil, scope: AlertScope = .allModels,
                severity: AlertSeverity = .warning) {
        self.period = period
        self.utcOffset = utcOffset
        self.thresholds = thresholds.sorted()
        self.budget = budget
        self.scope = scope
        self.severity = severity
    }

    /// Names the rule in Redis (announced sets, active alerts) and across reloads: one rule per
    /// (period, zone, scope).
    public var id: String { "\(period.name)@\(zone)/\(scope.rawValue)" }

    /// `UTC`, or the offset as `+05:30`.
    public var zone: String { Self.zoneText(utcOffset) }

    public static func zoneText(_ offset: Int) -> String {
        guard offset != 0 else { return "UTC" }
        let a = abs(offset)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return (offset < 0 ? "-" : "+") + two(a / 3600) + ":" + two(a % 3600 / 60)
    }

    /// `UTC`, `Z`, or `+HH:MM` / `-HH:MM` (also `+HH`, `UTC+05:30`), from -12:00 to +14:00 in quarter hours.
    public static func parseZone(_ text: String) -> Int? {
        var t = Substring(text)
        if t == "UTC" || t == "Z" || t == "GMT" { return 0 }
        if t.hasPrefix("UTC") || t.hasPrefix("GMT") { t = t.dropFirst(3) }
        guard let sign = t.first, sign == "+" || sign == "-" else { return nil }
        let parts = t.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.count <= 2 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let h = Int(parts[0]), let m = parts.count == 2 ? Int(parts[1]) : 0, m >= 0, m < 60, m % 15 == 0 else { return nil }
        let offset = (h * 3600 + m * 60) * (sign == "-" ? -1 : 1)
        return (-12 * 3600...14 * 3600).contains(offset) ? offset : nil
    }

    /// The period holding `now`: [start, end) in epoch seconds. Its bounds are the zone's calendar
    /// bounds moved back to the start of their UTC hour, since spend is summed over hour buckets
    /// (this differs only in zones whose offset is not whole hours: +05:30's day begins at 23:30).
    /// A UTC hour belongs wholly to the period of its last second, so the period found for any
    /// moment of the hour holds it.
    public func bounds(at now: Double) -> (start: Int64, end: Int64) {
        let second = Int64(now.rounded(.down))
        let local = second - WindowBatch.mod(second, 3600) + 3599 + Int64(utcOffset)
        let day = Self.floorDiv(local, 86400)
        let localStart: Int64, localEnd: Int64
        switch period {
        case .hour:
            localStart = local - WindowBatch.mod(local, 3600)
            localEnd = localStart + 3600
        case let .days(n):
            let first = Self.floorDiv(day, Int64(n)) * Int64(n)
            localStart = first * 86400
            localEnd = (first + Int64(n)) * 86400
        case .week:
            // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
            let first = day - WindowBatch.mod(day + 3, 7)
            localStart = first * 86400
            localEnd = (first + 7) * 86400
        case .month:
            let (y, m) = Self.yearMonth(day: day)
            localStart = Int64(Timestamp.daysFromCivil(year: y, month: m, day: 1)) * 86400
            localEnd = Int64(m == 12 ? Timestamp.daysFromCivil(year: y + 1, month: 1, day: 1)
                                     : Timestamp.daysFromCivil(year: y, month: m + 1, day: 1)) * 86400
        }
        func utcHour(_ l: Int64) -> Int64 { let u = l - Int64(utcOffset); return u - WindowBatch.mod(u, 3600) }
        return (utcHour(localStart), utcHour(localEnd))
    }

    /// "the day from 2026-12-03 00:00 UTC": the period as people read it, in its zone.
    public func describe(start: Int64) -> String {
        var t = time_t(start + Int64(utcOffset))
        if utcOffset % 3600 != 0 { t += time_t(3600 - WindowBatch.mod(Int64(utcOffset), 3600)) }  // the calendar bound
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "the \(period.noun) from \(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)) \(zone)"
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { (a - WindowBatch.mod(a, b)) / b }

    /// The civil year and month of a day number (days since 1970-01-01).
    static func yearMonth(day: Int64) -> (Int, Int) {
        var t = time_t(day * 86400)
        var parts = tm()
        gmtime_r(&t, &parts)
        return (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1)
    }
}
