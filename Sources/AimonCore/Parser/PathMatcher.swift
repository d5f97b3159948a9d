#if canImport(Glibc)
import Glibc
#endif

/// The paths a format reads, as a trie over object keys, and the one pass over a line that captures
/// their values (`Captures`) without allocating.
///
/// Each key of the line is matched against the children of the trie node it sits under: a bit per key
/// length rules most keys out at once, then equal-length names are compared with memcmp. Values under
/// no wanted path are skipped (still validated: the line must be valid JSON as a whole).
final class PathMatcher {
    struct Node {
        /// Children by exact key.
        var names: [[UInt8]] = []
        var children: [Int] = []
        /// Bit n set: some child name is n bytes long (n < 64); bit 63 stands for 63 and longer.
        var lengths: UInt64 = 0
        /// The child for `*`, or -1.
        var wildcard = -1
        /// The capture slot of a path ending here, or -1.
        var slot = -1
        var isInterior: Bool { !children.isEmpty || wildcard >= 0 }
    }

    private(set) var nodes: [Node] = [Node()]
    /// Slot -> the path it captures.
    private(set) var paths: [JSONPath] = []

    /// The slot of `path`, adding it when new (the same path asked twice shares a slot).
    func slot(for path: JSONPath) -> Int {
        if let i = paths.firstIndex(of: path) { return i }
        var node = 0
        for segment in path.segments {
            switch segment {
            case .any:
                if nodes[node].wildcard < 0 {
                    nodes.append(Node())
                    nodes[node].wildcard = nodes.count - 1
                }
                node = nodes[node].wildcard
            case let .key(name):
                if let k = nodes[node].names.firstIndex(of: name) {
                    node = nodes[node].children[k]
                } else {
                    nodes.append(Node())
                    nodes[node].names.append(name)
                    nodes[node].children.append(nodes.count - 1)
                    nodes[node].lengths |= Self.lengthBit(name.count)
                    node = nodes.count - 1
                }
            }
        }
        paths.append(path)
        nodes[node].slot = paths.count - 1
        return paths.count - 1
    }

    @inline(__always) static func lengthBit(_ n: Int) -> UInt64 { 1 << UInt64(min(n, 63)) }

    /// Reads the object at the scanner's cursor, capturing the wanted values into `captures`.
    func scan(_ s: inout JSONScanner, into captures: Captures) throws(ParseFailure) {
        try scanObject(&s, node: 0, captures: captures)
    }

    private func scanObject(_ s: inout JSONScanner, node: Int, captures: Captures) throws(ParseFailure) {
        try nodes.withUnsafeBufferPointer { nodes throws(ParseFailure) in
            try s.readObject { (s: inout JSONScanner, key) throws(ParseFailure) in
                let child = Self.match(key, in: nodes[node], scanner: s)
                guard child >= 0 else { return try s.skipValue() }
                let c = nodes[child]
                let kind = try s.peekKind()
                if kind == .object && c.isInterior {
                    try scanObject(&s, node: child, captures: captures)
                } else if c.slot >= 0 {
                    try captures.capture(c.slot, kind: kind, from: &s)
                } else {
                    try s.skipValue()
                }
            }
        }
    }

    /// The child of `node` that `key` names: an exact name first, else the wildcard; -1 for none.
    @inline(__always) static func match(_ key: JSONScanner.StringToken, in node: Node, scanner s: JSONScanner) -> Int {
        if key.hasEscapes { return matchSlow(key, in: node, scanner: s) }
        let n = key.end - key.start
        if node.lengths & lengthBit(n) != 0 {
            let p = s.bytes.baseAddress! + key.start
            for (k, name) in node.names.enumerated() where name.count == n {
                if name.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p, n) }) == 0 { return node.children[k] }
            }
        }
        return node.wildcard
    }

    private static func matchSlow(_ key: JSONScanner.StringToken, in node: Node, scanner s: JSONScanner) -> Int {
        let name = Array(s.decodeString(key).utf8)
        if let k = node.names.firstIndex(of: name) { return node.children[k] }
        return node.wildcard
    }
}

/// The values captured from one line, one slot per path: where each value lies in the line and what
/// it is. Nothing is materialised until a field is read. Reset for every line.
final class Captures {
    struct Value {
        /// nil: the path was absent.
        var kind: JSONScanner.ValueKind?
        var start: Int
        var end: Int
        var hasEscapes: Bool
    }

    let count: Int
    private let values: UnsafeMutablePointer<Value>

    init(count: Int) {
        self.count = count
        values = .allocate(capacity: max(count, 1))
        values.initialize(repeating: Value(kind: nil, start: 0, end: 0, hasEscapes: false), count: max(count, 1))
    }

    deinit { values.deallocate() }

    @inline(__always) func reset() {
        for i in 0..<count { values[i].kind = nil }
    }

    @inline(__always) subscript(slot: Int) -> Value { values[slot] }

    /// Records the value at the cursor. The first value that is not null wins, so a wildcard that
    /// matches several keys takes the first that has the field.
    @inline(__always) func capture(_ slot: Int, kind: JSONScanner.ValueKind, from s: inout JSONScanner) throws(ParseFailure) {
        let taken = values[slot].kind
        switch kind {
        case .string:
            let t = try s.readString()
            if taken == nil || taken == .null { values[slot] = Value(kind: .string, start: t.start, end: t.end, hasEscapes: t.hasEscapes) }
        default:
            let start = s.index  // peekKind skipped the whitespace
            try s.skipValue()
            if taken == nil || (taken == .null && kind != .null) {
                values[slot] = Value(kind: kind, start: start, end: s.index, hasEscapes: false)
            }
        }
    }
}
