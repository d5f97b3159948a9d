/// Event-time parsing: RFC 3339 text and epoch numbers, to seconds since the Unix epoch.
public enum Timestamp {
    /// Epoch numbers at or above this are taken as milliseconds (1e11 s is the year 5138).
    static let millisecondsThreshold = 1e11

    /// Seconds since the epoch from an epoch number in seconds or milliseconds.
    public static func fromEpoch(_ value: Double) -> Double? {
        guard value.isFinite, value >= 0 else { return nil }
        return value >= millisecondsThreshold ? value / 1000 : value
    }

    /// Seconds since the epoch from text holding one JSON number, epoch seconds or milliseconds
    /// (`"1733140000.25"`: some loggers quote every value); nil for anything else.
    public static func fromEpochText(_ text: UnsafeBufferPointer<UInt8>) -> Double? {
        var s = JSONScanner(text)
        guard let token = try? s.readNumberToken(), s.index == text.count else { return nil }
        return fromEpoch(s.doubleValue(token))
    }

    /// Parses `YYYY-MM-DD(T| )hh:mm:ss[.fraction](Z|±hh:mm|±hhmm)`; a missing zone means UTC. nil for
    /// a time before the epoch.
    public static func parseRFC3339(_ s: UnsafeBufferPointer<UInt8>) -> Double? {
        let n = s.count
        guard n >= 19 else { return nil }
        /// Two ASCII digits at `i` as a number, or nil.
        @inline(__always) func two(_ i: Int) -> Int? {
            let a = s[i] &- 0x30, b = s[i + 1] &- 0x30
            return a < 10 && b < 10 ? Int(a) * 10 + Int(b) : nil
        }
        guard let century = two(0), let yy = two(2), s[4] == 0x2D, let month = two(5), s[7] == 0x2D,
              let day = two(8), s[10] == 0x54 || s[10] == 0x74 || s[10] == 0x20,
              let hour = two(11), s[13] == 0x3A, let minute = two(14), s[16] == 0x3A, let second = two(17)
        else { return nil }
        let year = century * 100 + yy
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < n && s[i] == 0x2E {
            i += 1
            var scale = 0.1
            let start = i
            while i < n, case let d = s[i] &- 0x30, d < 10 {
                fraction += Double(d) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offsetSeconds = 0
        if i < n {
            switch s[i] {
            case 0x5A, 0x7A: i += 1
            case 0x2B, 0x2D:
                // ±hh:mm, or ±hhmm as strftime's %z writes it.
                let sign = s[i] == 0x2D ? -1 : 1
                let colon = i + 3 < n && s[i + 3] == 0x3A
                let width = colon ? 6 : 5
                guard i + width <= n, let oh = two(i + 1), let om = two(i + width - 2), oh <= 23, om <= 59
                else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
                i += width
            default: return nil
            }
        }
        guard i == n else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // Before 1970, as a negative epoch number is: no call of a log happened then.
        return seconds >= 0 ? Double(seconds) + fraction : nil
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
