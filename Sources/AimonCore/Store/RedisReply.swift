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
        case let .string(b): return Self.parseInteger(b)
        default: return nil
        }
    }

    /// A decimal integer from its ASCII bytes, without building a String (reports read thousands).
    static func parseInteger(_ b: [UInt8]) -> Int64? {
        guard !b.isEmpty, b.count <= 20 else { return nil }
        var i = 0
        let negative = b[0] == 0x2D
        if negative { i = 1; guard b.count > 1 else { return nil } }
        var v: Int64 = 0
        while i < b.count {
            let d = b[i] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = s
            i += 1
        }
        return negative ? -v : v
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
