import AimonCore
import FuzzSupport

/// The fold and the commit on records built from raw bytes, values the parsers never give included
/// (NaN, infinities, negative counts, huge times): whatever a record holds, folding it must not trap.
struct Bytes {
    var data: UnsafeBufferPointer<UInt8>
    var i = 0
    mutating func byte() -> UInt8 { defer { i += 1 }; return i < data.count ? data[i] : 0 }
    mutating func u64() -> UInt64 { (0..<8).reduce(0) { acc, _ in acc << 8 | UInt64(byte()) } }
    mutating func double() -> Double? {
        switch byte() % 8 {
        case 0: return nil
        case 1: return .nan
        case 2: return .infinity
        case 3: return -Double(u64() % 1_000_000)
        case 4: return Double(bitPattern: u64())
        case 5: return Ingest.now - Double(u64() % 5_000_000)
        default: return Double(u64() % 100_000) / 100
        }
    }
    mutating func text(_ max: Int) -> String {
        let n = Int(byte()) % (max + 1)
        return String(decoding: (0..<n).map { _ in byte() }, as: UTF8.self)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var b = Bytes(data: buffer(data, size))
    var calls: [APICall] = []
    while b.i < size && calls.count < 16 {
        let model = b.text(6)
        let outcome = CallOutcome.allCases[Int(b.byte()) % CallOutcome.allCases.count]
        calls.append(APICall(timestamp: b.double(), userID: b.byte() % 2 == 0 ? nil : b.text(4), model: model.isEmpty ? "m" : model,
                             outcome: outcome, responseTime: b.double(), statusCode: b.byte() % 3 == 0 ? nil : Int(Int16(truncatingIfNeeded: b.u64())),
                             errorMessage: b.byte() % 2 == 0 ? nil : b.text(40),
                             inputLength: Int(truncatingIfNeeded: b.u64()), outputLength: Int(Int32(truncatingIfNeeded: b.u64()))))
    }
    let policy = FailurePolicy(Set(CallOutcome.allCases.filter { _ in b.byte() % 2 == 0 }))
    Ingest.fold(calls, policy: policy)
    // The same records as a parser would give them: folded in two parts and appended, as the fold
    // workers do, they must give the one-pass batch (Ingest.checkAppend).
    Ingest.fold(calls.map(Ingest.clamped), policy: policy)
    return 0
}

runFuzzer(fuzzOne)
