/// Normalises error messages so that the same error counts as one entry in "top errors".
public enum ErrorMessage {
    public static let maxBytes = 200

    /// Collapses whitespace, folds long digit runs (request ids, timestamps) into `#`, and truncates
    /// to `maxBytes` on a character boundary. A failure without a message is named by its status.
    public static func normalise(_ message: String?, status: Int?) -> String {
        guard let message, !message.isEmpty else {
            return status.map { "HTTP \($0)" } ?? "unknown"
        }
        var out = ""
        var pendingSpace = false
        var digitRun = ""
        func flushDigits() {
            if digitRun.count >= 5 { out += "#" } else { out += digitRun }
            digitRun = ""
        }
        for ch in message {
            if ch.isWhitespace || ch.isNewline {
                flushDigits()
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace { out += " "; pendingSpace = false }
            if ch.isASCII, ch.isNumber { digitRun.append(ch); continue }
            flushDigits()
            out.append(ch)
            if out.utf8.count > maxBytes { break }
        }
        flushDigits()
        if out.utf8.count > maxBytes {
            while out.utf8.count > maxBytes - 3 { out.removeLast() }
            out += "..."
        }
        return out.isEmpty ? "unknown" : out
    }
}
