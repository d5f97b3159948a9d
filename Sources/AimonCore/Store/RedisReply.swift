/// A decoded Redis reply.
public indirect enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    public var text: String? {
        switch self {
        case let .string(b): return String(decoding: b, as: UTF8.self)
        case let .status(s): return s
        case let .integer(i): return String(i)
        default: return nil
        }
    }

    public var integer: Int64? {
        switch self {
        case let .integer(i): return i
        case let .string(b): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    public var array: [RedisReply]? {
        if case let .array(a) = self { return a }
        return nil
    }

    /// A flat [field, value, field, value...] reply (HGETALL) as pairs.
    public var pairs: [(String, RedisReply)] {
        guard let a = array else { return [] }
        return stride(from: 0, to: a.count - 1, by: 2).map { (a[$0].text ?? "", a[$0 + 1]) }
    }
}
