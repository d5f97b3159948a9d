/// A Redis failure, with what went wrong and what to do about it.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Could not connect (refused, unknown host, timeout): retry later.
        case connection
        /// The connection broke during a command (EOF, timeout, reset): the reply is unknown.
        case io
        /// Redis answered with an error reply (wrong type, NOAUTH, OOM...).
        case reply
        /// A reply of an unexpected shape.
        case protocolViolation
        /// Redis cannot take aimon's writes until an operator acts (a key of another type under
        /// aimon's prefix): nothing was written.
        case refused
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// True when retrying on a new connection may succeed.
    public var isTransient: Bool {
        switch kind {
        case .connection, .io: return true
        case .reply: return message.hasPrefix("LOADING") || message.hasPrefix("BUSY")
            || message.hasPrefix("TRYAGAIN") || message.hasPrefix("MASTERDOWN") || message.hasPrefix("READONLY")
        case .protocolViolation, .refused: return false
        }
    }

    public var description: String { message }
}
