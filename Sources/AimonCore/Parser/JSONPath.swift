/// A dotted path into a JSON object: `response.status`, `ai.*.meta.request_model`.
///
/// Segments are object keys; `*` matches any key at its level; `\.` and `\*` write a key that holds a
/// dot or is a star, `\\` a backslash. Arrays are not entered.
public struct JSONPath: Hashable, Sendable, CustomStringConvertible {
    public enum Segment: Hashable, Sendable {
        case key([UInt8])
        case any
    }

    public let segments: [Segment]
    public let description: String

    /// Depth bound: nobody's log nests its fields deeper, and the matcher recurses once per level.
    public static let maxDepth = 16

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case empty, emptySegment, tooDeep, danglingEscape
        public var description: String {
            switch self {
            case .empty: return "the path is empty"
            case .emptySegment: return "a segment is empty (two dots, or a dot at an end)"
            case .tooDeep: return "the path is deeper than \(JSONPath.maxDepth) levels"
            case .danglingEscape: return "a backslash ends the path"
            }
        }
    }

    public init(parsing text: String) throws(Problem) {
        guard !text.isEmpty else { throw .empty }
        var segments: [Segment] = []
        var current: [UInt8] = []
        var escapedStar = false
        var escaping = false
        func finish() throws(Problem) {
            guard !current.isEmpty else { throw .emptySegment }
            segments.append(current == [0x2A] && !escapedStar ? .any : .key(current))
            current = []
            escapedStar = false
        }
        for b in text.utf8 {
            if escaping {
                current.append(b)
                if b == 0x2A { escapedStar = true }
                escaping = false
            } else if b == 0x5C {
                escaping = true
            } else if b == 0x2E {
                try finish()
            } else {
                current.append(b)
            }
        }
        guard !escaping else { throw .danglingEscape }
        try finish()
        guard segments.count <= Self.maxDepth else { throw .tooDeep }
        self.segments = segments
        self.description = text
    }

    /// For presets written in code: the path must be valid.
    init(_ text: StaticString) {
        do { try self.init(parsing: text.description) } catch { preconditionFailure("bad preset path \(text): \(error)") }
    }
}
