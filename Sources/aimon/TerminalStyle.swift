#if canImport(Glibc)
import Glibc
#endif

/// Colour for failing figures, only on a terminal and never with NO_COLOR set (no-color.org).
enum TerminalStyle {
    static let enabled: Bool = isatty(1) == 1 && (getenv("NO_COLOR").map { String(cString: $0).isEmpty } ?? true)

    static func red(_ s: String) -> String { enabled ? "\u{1B}[31m" + s + "\u{1B}[0m" : s }
    static func yellow(_ s: String) -> String { enabled ? "\u{1B}[33m" + s + "\u{1B}[0m" : s }
    static func bold(_ s: String) -> String { enabled ? "\u{1B}[1m" + s + "\u{1B}[0m" : s }
}

/// Aligned columns: text left, figures right; `paint` colours a cell after padding (so widths hold).
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    var paints: [[(String) -> String]] = []

    init(_ header: [String]) { self.header = header }

    mutating func add(_ row: [String], paint: [(String) -> String]? = nil) {
        rows.append(row)
        paints.append(paint ?? row.map { _ in { $0 } })
    }

    func render(leftAligned: Set<Int> = [0]) -> [String] {
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        func line(_ cells: [String], _ paint: [(String) -> String]?) -> String {
            var text = cells.enumerated().map { c, cell in
                let padded = leftAligned.contains(c) ? cell.padding(widths[c]) : cell.leftPadding(widths[c])
                return paint?[c](padded) ?? padded
            }.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        return [line(header, nil)] + zip(rows, paints).map { line($0, $1) }
    }
}
