/// Normalises error messages so that the same error counts as one entry in "top errors", and so that
/// the ids and figures a message carries cannot make each failure a new entry (each one is a field of
/// the hour's error hash, kept for the retention).
public enum ErrorMessage {
    public static let maxBytes = 200
    /// Where messages past `ingest.max_error_messages` distinct ones per model and hour are counted:
    /// the empty text, which `normalise` never gives.
    public static let others = ""
    /// How reports show `others`.
    public static let othersLabel = "(other errors)"

    /// The message with what varies from call to call folded into `#`:
    /// - UUIDs, and ids: words of letters and digits of 8 characters or more, hex words of 6 or more
    ///   (`req_3a8b9c0d1e2f` -> `req_#`, `org-abc123XYZ` -> `org-#`);
    /// - numbers of 4 digits or more, numbers with a fraction or in parts (`1.4`, `10.0.0.1`,
    ///   `2024-02-01`, `12:30:00`), and numbers with a unit, which is kept (`1.4s` -> `#s`, `500ms`
    ///   -> `#ms`, `30000` -> `#`);
    /// - but not short numbers alone (`429`, `Requested 500`), nor short numbers inside a name
    ///   (`gpt-4o`, `gpt-3.5-turbo`, `claude-3-5-sonnet` stay as they are).
    /// Runs of whitespace become one space, the ends are trimmed, and the result is cut to `maxBytes`
    /// on a UTF-8 boundary, ending with "...". A failure without a message is named by its status.
    /// Works on UTF-8 bytes: it runs for every failed call.
    public static func normalise(_ message: String?, status: Int?) -> String {
        guard var message, !message.isEmpty else {
            return status.map { "HTTP \($0)" } ?? "unknown"
        }
        return message.withUTF8 { normalise(bytes: $0) }
    }

    static func normalise(bytes s: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(s.count, maxBytes + 8))
        var pendingSpace = false
        @inline(__always) func emit(_ bytes: UnsafeBufferPointer<UInt8>.SubSequence) {
            if pendingSpace { out.append(0x20); pendingSpace = false }
            out.append(contentsOf: bytes)
        }
        @inline(__always) func emit(_ b: UInt8) {
            if pendingSpace { out.append(0x20); pendingSpace = false }
            out.append(b)
        }
        let n = s.count
        var i = 0
        while i < n && out.count <= maxBytes {
            let b = s[i]
            if b == 0x20 || (0x09...0x0D).contains(b) {
                pendingSpace = !out.isEmpty
                i += 1
                continue
            }
            guard isAlnum(b) else { emit(b); i += 1; continue }
            // At the start of a word (letters and digits).
            if let end = uuidEnd(s, at: i) {
                emit(0x23)
                i = end
                continue
            }
            if isDigit(b), let number = numberEnd(s, at: i) {
                // Inside a name (`gpt-4`, `claude-3-5`): short numbers are part of the name.
                let attached = i >= 2 && (s[i - 1] == 0x2D || s[i - 1] == 0x5F || s[i - 1] == 0x2E) && isAlnum(s[i - 2])
                let fold = attached ? number.digits >= 4 : number.digits >= 4 || number.parts > 1 || number.unit != nil
                if fold {
                    emit(0x23)
                    if let unit = number.unit { emit(s[unit]) }
                } else {
                    emit(s[i..<number.end])
                }
                i = number.end
                continue
            }
            var end = i
            var digits = 0, hex = true
            while end < n, isAlnum(s[end]) {
                if isDigit(s[end]) { digits += 1 } else if !isHexLetter(s[end]) { hex = false }
                end += 1
            }
            let length = end - i
            if digits > 0 && (length >= 8 || (hex && length >= 6)) { emit(0x23) } else { emit(s[i..<end]) }
            i = end
        }
        if out.count > maxBytes {
            var end = maxBytes - 3
            while end > 0 && out[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a UTF-8 sequence
            out.removeSubrange(end...)
            out += Array("...".utf8)
        }
        return out.isEmpty ? "unknown" : String(decoding: out, as: UTF8.self)
    }

    /// A number at `i` (which holds a digit): digit words joined by `.`, `:`, `/`, `-` (or a `T`
    /// between a date and a time), and an optional unit attached to its last part. nil when the word
    /// at `i` is digits followed by letters that are no unit (an id, `4o`).
    static func numberEnd(_ s: UnsafeBufferPointer<UInt8>, at start: Int) -> (end: Int, digits: Int, parts: Int, unit: Range<Int>?)? {
        let n = s.count
        var j = start
        var digits = 0, parts = 0
        while true {
            var d = j
            while d < n, isDigit(s[d]) { d += 1 }
            var w = d
            while w < n, isAlnum(s[w]) { w += 1 }
            if w > d {
                // Letters after the digits: a unit, a date's T and its time, or (first word) not a number.
                if (s[d] == 0x54 || s[d] == 0x74), d + 1 < n, isDigit(s[d + 1]) {
                    digits += d - j
                    parts += 1
                    j = d + 1
                    continue
                }
                if units.contains(where: { $0.elementsEqual(s[d..<w]) }) {
                    return (w, digits + d - j, parts + 1, d..<w)
                }
                if parts == 0 { return nil }
                return (j - 1, digits, parts, nil)  // the separator before this word is not part of the number
            }
            digits += d - j
            parts += 1
            j = d
            guard j + 1 < n, s[j] == 0x2E || s[j] == 0x3A || s[j] == 0x2F || s[j] == 0x2D, isDigit(s[j + 1]) else {
                return (j, digits, parts, nil)
            }
            j += 1
        }
    }

    /// The end of a UUID (8-4-4-4-12 hex digits) starting at `i`, not followed by a letter or digit.
    static func uuidEnd(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard i + 36 <= s.count else { return nil }
        for k in 0..<36 {
            let b = s[i + k]
            if k == 8 || k == 13 || k == 18 || k == 23 {
                if b != 0x2D { return nil }
            } else if !(isDigit(b) || isHexLetter(b)) {
                return nil
            }
        }
        return i + 36 < s.count && isAlnum(s[i + 36]) ? nil : i + 36
    }

    /// Units a number may carry (`1.4s`, `500ms`, `2MiB`). No single hex letter (`b`, `d`): a hex id
    /// that ends in one is an id, not a number of bytes or days.
    static let units: [[UInt8]] = [
        "s", "ms", "us", "ns", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr", "hrs",
        "hour", "hours", "day", "days", "Z", "k", "K", "M", "KB", "MB", "GB", "KiB", "MiB", "GiB", "kb", "mb", "gb",
        "x", "rpm", "tpm", "rps", "tps", "RPM", "TPM", "tokens",
    ].map { Array($0.utf8) }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { b &- 0x30 < 10 || (b | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isHexLetter(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 6 }
}
