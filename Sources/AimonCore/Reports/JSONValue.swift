/// A JSON value with ordered object keys, for output whose key order people and diffs rely on.
public indirect enum JSONValue: Sendable {
    case string(String)
    case int(Int64)
    /// A number rounded to `digits` decimal places.
    case number(Double, digits: Int)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public var rendered: String {
        var out = ""
        render(into: &out, indent: nil, level: 0)
        return out
    }

    public var pretty: String {
        var out = ""
        render(into: &out, indent: "  ", level: 0)
        return out
    }

    private func render(into out: inout String, indent: String?, level: Int) {
        let newline = indent == nil ? "" : "\n"
        func pad(_ l: Int) -> String { indent.map { String(repeating: $0, count: l) } ?? "" }
        switch self {
        case let .string(s): Self.escape(s, into: &out)
        case let .int(i): out += String(i)
        case let .number(d, digits):
            guard d.isFinite else { out += "null"; return }
            var scale = 1.0
            for _ in 0..<digits { scale *= 10 }
            let r = (d * scale).rounded() / scale
            out += r == r.rounded() && abs(r) < 1e15 ? String(Int64(r)) : "\(r)"
        case let .bool(b): out += b ? "true" : "false"
        case .null: out += "null"
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "[" + newline
            for (i, v) in items.enumerated() {
                out += pad(level + 1)
                v.render(into: &out, indent: indent, level: level + 1)
                out += (i < items.count - 1 ? "," : "") + newline
            }
            out += pad(level) + "]"
        case let .object(pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{" + newline
            for (i, (k, v)) in pairs.enumerated() {
                out += pad(level + 1)
                Self.escape(k, into: &out)
                out += indent == nil ? ":" : ": "
                v.render(into: &out, indent: indent, level: level + 1)
                out += (i < pairs.count - 1 ? "," : "") + newline
            }
            out += pad(level) + "}"
        }
    }

    static func escape(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}
