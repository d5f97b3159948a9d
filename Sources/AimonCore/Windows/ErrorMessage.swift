/// Normalises error messages so that the same error counts as one entry in "top errors".
public enum ErrorMessage {
    public static let maxBytes = 200
    /// Where messages past `ingest.max_error_messages` distinct ones per model and hour are counted:
    /// the empty text, which `normalise` never gives.
    public static let others = ""
    /// How reports show `others`.
    public static let othersLabel = "(other errors)"

    /// Collapses runs of ASCII whitespace into one space (and trims the ends), folds runs of five or
    /// more ASCII digits (request ids, timestamps) into `#`, and truncates to `maxBytes` on a UTF-8
    /// boundary, ending with "...". A failure without a message is named by its status.
    /// Works on UTF-8 bytes: it runs for every failed call.
    public static func normalise(_ message: String?, status: Int?) -> String {
        guard let message, !message.isEmpty else {
            return status.map { "HTTP \($0)" } ?? "unknown"
        }
        var out: [UInt8] = []
        out.reserveCapacity(min(message.utf8.count, maxBytes + 8))
        var pendingSpace = false
        var digits = 0  // digits of the run at the end of `out`; 5 once it is folded into '#'
        var truncated = false
        for b in message.utf8 {
            if b == 0x20 || (0x09...0x0D).contains(b) {
                pendingSpace = !out.isEmpty
                digits = 0
                continue
            }
            if pendingSpace { out.append(0x20); pendingSpace = false }
            if b >= 0x30 && b <= 0x39 {
                if digits < 4 {
                    out.append(b)
                    digits += 1
                } else if digits == 4 {  // the fifth digit: the run becomes '#'
                    out.removeLast(4)
                    out.append(0x23)
                    digits = 5
                }  // further digits of a folded run are dropped
                continue
            }
            digits = 0
            out.append(b)
            if out.count > maxBytes { truncated = true; break }
        }
        if truncated || out.count > maxBytes {
            var end = maxBytes - 3
            while end > 0 && out[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a UTF-8 sequence
            out.removeSubrange(end...)
            out += Array("...".utf8)
        }
        return out.isEmpty ? "unknown" : String(decoding: out, as: UTF8.self)
    }
}
