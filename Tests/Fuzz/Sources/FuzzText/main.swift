import AimonCore
import FuzzSupport

/// The small readers of text that comes from outside: error messages (normalised for every failed
/// call), checkpoints and alert states read back from Redis, numbers in Redis replies, and epoch and
/// RFC 3339 times. The first byte picks which.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = buffer(data, size)
    guard let first = input.first else { return 0 }
    let rest = UnsafeBufferPointer(rebasing: input.dropFirst())
    let text = String(decoding: rest, as: UTF8.self)
    switch first % 6 {
    case 0:
        let m = ErrorMessage.normalise(text, status: nil)
        precondition(!m.isEmpty && m.utf8.count <= ErrorMessage.maxBytes, "normalised to \(m.utf8.count) bytes")
        precondition(ErrorMessage.normalise(m, status: nil).utf8.count <= ErrorMessage.maxBytes)
    case 1:
        if let cp = Checkpoint(encoded: text) {
            precondition(cp.offset >= 0)
            precondition(Checkpoint(encoded: cp.encoded) == cp || cp.path.contains(" "), "checkpoint does not round-trip: \(text)")
        }
    case 2:
        if let s = AlertState(encoded: text) { _ = AlertState(encoded: s.encoded) }
    case 3:
        _ = Timestamp.parseRFC3339(rest)
    case 4:
        _ = KeySchema.unescape(text)
        precondition(KeySchema.unescape(KeySchema.escape(text)) == text, "escape does not round-trip")
    default:
        _ = RedisReply.string(Array(rest)).integer
    }
    return 0
}

runFuzzer(fuzzOne)
