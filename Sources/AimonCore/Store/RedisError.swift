/// A Redis failure, with what went wrong and what to do about it.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Could not connect (refused, unknown host, timeout): retry later.
        case connection
        /// The connection broke during a command (EOF, timeout, reset): the reply is unknown.
        case io
        /// Redis wants a password that is not configured, or refused the one given: the
        /// configuration must change (`redis.url`).
        case authentication
        /// Redis answered with an error reply (wrong type, OOM...).
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
        case .connection, .io, .authentication: return true  // authentication: a password set on either side later
        case .reply: return message.hasPrefix("LOADING") || message.hasPrefix("BUSY")
            || message.hasPrefix("TRYAGAIN") || message.hasPrefix("MASTERDOWN") || message.hasPrefix("READONLY")
        case .protocolViolation, .refused: return false
        }
    }

    /// True when the connection cannot be used any more: broken, out of step, no longer
    /// authenticated (NOAUTH: Redis restarted with a password; a new connection authenticates), or
    /// to a replica (READONLY: a master demoted by a failover; a new connection asks the sentinels).
    public var needsNewConnection: Bool {
        switch kind {
        case .connection, .io, .protocolViolation, .authentication: return true
        case .reply: return message.contains("NOAUTH") || message.contains("READONLY")
        case .refused: return false
        }
    }

    public var description: String { message }
}
