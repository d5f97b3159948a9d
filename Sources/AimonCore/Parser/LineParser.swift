#if canImport(Glibc)
import Glibc
#endif

/// Turns one log line into an API-call record. One implementation per gateway format.
///
/// A parser keeps small caches between lines, so each ingest loop makes its own (`makeParser()`) and
/// uses it from one thread.
public protocol LineParser: AnyObject {
    func parse(_ line: UnsafeBufferPointer<UInt8>) throws(ParseFailure) -> APICall
}

extension LineParser {
    /// Checks shared by every format before the JSON scan: blank lines and NUL bytes.
    @inline(__always) func precheck(_ line: UnsafeBufferPointer<UInt8>) throws(ParseFailure) {
        guard let base = line.baseAddress, line.count > 0 else { throw .emptyLine }
        if memchr(base, 0, line.count) != nil { throw .nulByte }
    }
}

/// The format a source is written in (`format:` in the configuration).
public enum LogFormat: String, CaseIterable, Sendable {
    case native

    public func makeParser() -> any LineParser {
        switch self {
        case .native: return NativeParser()
        }
    }
}
