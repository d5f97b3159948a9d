/// Everything wrong with a configuration file, each problem with its key and line.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var key: String
        public var line: Int?
        public var message: String
        public var description: String {
            (line.map { "line \($0): " } ?? "") + (key.isEmpty ? "" : "\(key): ") + message
        }
    }

    public var file: String
    public var problems: [Problem]

    public var description: String {
        "\(file) is not valid:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
