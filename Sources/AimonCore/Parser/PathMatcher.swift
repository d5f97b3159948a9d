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
    /// One trie node, as built; `freeze()` lays the nodes out flat for the scan.
    private struct Node {
        var names: [[UInt8]] = []
        var children: [Int] = []
        var wildcard = -1
        var slot = -1
        /// The path went through `*`: of several matches the first with a value wins. A path of exact
        /// keys takes the last (a key written twice: the later one, as the native parser does).
        var firstWins = false
    }

    private var nodes: [Node] = [Node()]
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
                    node = nodes.count - 1
                }
            }
        }
        paths.append(path)
        nodes[node].slot = paths.count - 1
        nodes[node].firstWins = path.segments.contains(.any)
        frozen = nil
        return paths.count - 1
    }

    /// The trie laid out flat, without references, so the scan retains nothing: per node a range of
    /// edges; per edge the name's length, its first and last 8 bytes (zero-padded), and its bytes.
    private final class Frozen {
        /// `keyMask`: the `keyBit`s of the node's names.
        struct NodeInfo {
            var firstEdge: Int32; var edgeCount: Int32; var wildcard: Int32; var slot: Int32; var keyMask: UInt64; var interior: Bool
            var firstWins: Bool
        }
        struct Edge { var length: Int; var head: UInt64; var tail: UInt64; var nameOffset: Int; var child: Int32 }
        let nodes: UnsafeMutableBufferPointer<NodeInfo>
        let edges: UnsafeMutableBufferPointer<Edge>
        let names: UnsafeMutableBufferPointer<UInt8>

        /// Per node, 65 entries: the edges of names n bytes long (63: 63 and longer) are
        /// `byLength[node * 65 + n] ..< byLength[node * 65 + n + 1]`.
        let byLength: UnsafeMutableBufferPointer<Int32>

        init(_ built: [Node]) {
            var infos: [NodeInfo] = [], edges: [Edge] = [], names: [UInt8] = [], byLength: [Int32] = []
            for n in built {
                var keyMask: UInt64 = 0
                for name in n.names { keyMask |= PathMatcher.keyBit(name.count, name.first ?? 0, name.last ?? 0) }
                infos.append(NodeInfo(firstEdge: Int32(edges.count), edgeCount: Int32(n.names.count), wildcard: Int32(n.wildcard),
                                      slot: Int32(n.slot), keyMask: keyMask, interior: !n.names.isEmpty || n.wildcard >= 0,
                                      firstWins: n.firstWins))
                // Edges sorted by name length, so a key is compared only with names of its length.
                let sorted = zip(n.names, n.children).sorted { min($0.0.count, 63) < min($1.0.count, 63) }
                var k = 0
                for length in 0...64 {
                    while k < sorted.count && min(sorted[k].0.count, 63) < length { k += 1 }
                    byLength.append(Int32(edges.count + k))
                }
                for (name, child) in sorted {
                    edges.append(Edge(length: name.count, head: Self.head(name), tail: Self.tail(name), nameOffset: names.count, child: Int32(child)))
                    names += name
                }
            }
            self.byLength = .allocate(capacity: byLength.count)
            _ = self.byLength.initialize(from: byLength)
            self.nodes = .allocate(capacity: infos.count)
            _ = self.nodes.initialize(from: infos)
            self.edges = .allocate(capacity: max(edges.count, 1))
            _ = self.edges.initialize(from: edges)
            self.names = .allocate(capacity: max(names.count, 1))
            _ = self.names.initialize(from: names)
        }

        deinit { nodes.deallocate(); edges.deallocate(); names.deallocate(); byLength.deallocate(); layout.deallocate() }

        /// The four tables, behind one pointer: the scan passes 8 bytes down each call, not 64.
        struct Layout {
            let nodes: UnsafeMutablePointer<NodeInfo>
            let edges: UnsafeMutablePointer<Edge>
            let names: UnsafeMutablePointer<UInt8>
            let byLength: UnsafeMutablePointer<Int32>
        }

        private lazy var layout: UnsafeMutablePointer<Layout> = {
            let p = UnsafeMutablePointer<Layout>.allocate(capacity: 1)
            p.initialize(to: Layout(nodes: nodes.baseAddress!, edges: edges.baseAddress!, names: names.baseAddress!, byLength: byLength.baseAddress!))
            return p
        }()

        struct View {
            let layout: UnsafeMutablePointer<Layout>
            @inline(__always) var nodes: UnsafeMutablePointer<NodeInfo> { layout.pointee.nodes }
            @inline(__always) var edges: UnsafeMutablePointer<Edge> { layout.pointee.edges }
            @inline(__always) var names: UnsafeMutablePointer<UInt8> { layout.pointee.names }
            @inline(__always) var byLength: UnsafeMutablePointer<Int32> { layout.pointee.byLength }
        }

        var view: View { View(layout: layout) }

        /// The first min(8, n) bytes, little-endian, zero-padded.
        static func head(_ b: [UInt8]) -> UInt64 {
            var v: UInt64 = 0
            for (i, x) in b.prefix(8).enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
            return v
        }

        /// The last 8 bytes when n >= 8 (else the head).
        static func tail(_ b: [UInt8]) -> UInt64 { b.count >= 8 ? head(Array(b.suffix(8))) : head(b) }
    }

    private var frozen: Frozen?

    /// A bit standing for a key's length, first and last byte: most keys a format does not want are
    /// ruled out by one test of the node's mask, a branch that is then well predicted.
    @inline(__always) static func keyBit(_ n: Int, _ first: UInt8, _ last: UInt8) -> UInt64 {
        1 << ((UInt64(truncatingIfNeeded: n) &* 7 &+ UInt64(first) &* 3 &+ UInt64(last)) & 63)
    }

    /// Reads the object at the scanner's cursor, capturing the wanted values into `captures`.
    func scan(_ s: inout JSONScanner, into captures: Captures) throws(ParseFailure) {
        let f: Frozen
        if let frozen { f = frozen } else { f = Frozen(nodes); frozen = f }
        // Plain pointers below: the per-key closure then retains nothing.
        try withExtendedLifetime((f, captures)) { () throws(ParseFailure) in
            try Self.scanObject(&s, node: 0, trie: f.view, captures: captures.view)
        }
    }

    private static func scanObject(_ s: inout JSONScanner, node: Int, trie: Frozen.View, captures: Captures.View) throws(ParseFailure) {
        try s.readObject { (s: inout JSONScanner, key) throws(ParseFailure) in
            let child = match(key, node: node, trie: trie, scanner: s)
            guard child >= 0 else { return try s.skipValue() }
            let c = trie.nodes[child]
            let kind = try s.peekKind()
            if kind == .object && c.interior {
                try scanObject(&s, node: child, trie: trie, captures: captures)
            } else if c.slot >= 0 {
                try captures.capture(Int(c.slot), kind: kind, firstWins: c.firstWins, from: &s)
            } else {
                try s.skipValue()
            }
        }
    }

    /// The child of `node` that `key` names: an exact name first, else the wildcard; -1 for none.
    @inline(__always) private static func match(_ key: JSONScanner.StringToken, node: Int, trie: Frozen.View, scanner s: JSONScanner) -> Int {
        let info = trie.nodes[node]
        if key.hasEscapes { return matchSlow(key, info: info, trie: trie, scanner: s) }
        let n = key.end - key.start
        let p = s.bytes.baseAddress! + key.start
        guard n > 0, info.keyMask & keyBit(n, p[0], p[n - 1]) != 0 else { return n == 0 ? matchSlow(key, info: info, trie: trie, scanner: s) : Int(info.wildcard) }
        let head: UInt64, tail: UInt64
        if n >= 8 {
            head = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
            tail = UnsafeRawPointer(p + n - 8).loadUnaligned(as: UInt64.self)
        } else {
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(p[i]) << (8 * UInt64(i)) }
            head = v
            tail = v
        }
        let row = node * 65 + min(n, 63)
        for e in Int(trie.byLength[row])..<Int(trie.byLength[row + 1]) {
            let edge = trie.edges[e]
            guard edge.length == n, edge.head == head, edge.tail == tail else { continue }
            // Longer than 16 bytes: the middle too.
            if n > 16 && memcmp(trie.names + edge.nameOffset + 8, p + 8, n - 16) != 0 { continue }
            return Int(edge.child)
        }
        return Int(info.wildcard)
    }

    private static func matchSlow(_ key: JSONScanner.StringToken, info: Frozen.NodeInfo, trie: Frozen.View, scanner s: JSONScanner) -> Int {
        let name = Array(s.decodeString(key).utf8)
        for e in Int(info.firstEdge)..<Int(info.firstEdge + info.edgeCount) {
            let edge = trie.edges[e]
            if edge.length == name.count && name.elementsEqual(UnsafeBufferPointer(start: trie.names + edge.nameOffset, count: edge.length)) {
                return Int(edge.child)
            }
        }
        return Int(info.wildcard)
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

    /// The table as plain pointers, for the scan.
    var view: View { View(values: values) }

    struct View {
        let values: UnsafeMutablePointer<Value>

        /// Records the value at the cursor: over an earlier value of the slot, unless the path went
        /// through `*` and the earlier value is not null (the first match with a value wins).
        @inline(__always) func capture(_ slot: Int, kind: JSONScanner.ValueKind, firstWins: Bool,
                                       from s: inout JSONScanner) throws(ParseFailure) {
            let keep = firstWins && values[slot].kind != nil && values[slot].kind != .null
            if kind == .string {
                let t = try s.readString()
                if !keep { values[slot] = Value(kind: .string, start: t.start, end: t.end, hasEscapes: t.hasEscapes) }
            } else {
                let start = s.index  // peekKind skipped the whitespace
                try s.skipValue()
                if !keep { values[slot] = Value(kind: kind, start: start, end: s.index, hasEscapes: false) }
            }
        }
    }
}
