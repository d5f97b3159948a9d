#if canImport(Glibc)
import Glibc
#endif

/// Turns one log line into an API-call record.
///
/// A parser keeps small caches between lines, so each ingest loop makes its own (`makeParser()`) and
/// uses it from one thread.
public protocol LineParser: AnyObject {
    /// The line's record, written into `call` (ingest reuses one record from line to line: no copy of
    /// a record, and each of its strings retained once). Every field is written. After a throw,
    /// `call` is unspecified (parts of the failed line beside parts of earlier ones): not to be read.
    func parse(_ line: UnsafeBufferPointer<UInt8>, into call: inout APICall) throws(ParseFailure)
}

extension LineParser {
    /// The line's record, as a new value.
    public func parse(_ line: UnsafeBufferPointer<UInt8>) throws(ParseFailure) -> APICall {
        var call = APICall(model: "")
        try parse(line, into: &call)
        return call
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// The failure to report for this line, given the one its parse met: a NUL byte anywhere comes
    /// first (the JSON scan refuses every byte below 0x20 but whitespace between tokens, so a line that
    /// parsed holds none, and only failed lines need the search).
    func failure(_ met: ParseFailure) -> ParseFailure {
        guard let base = baseAddress, count > 0 else { return .emptyLine }
        return memchr(base, 0, count) != nil ? .nulByte : met
    }
}

/// The gateway presets (`format:` in a source); Formats/Presets.swift holds their mappings.
public enum LogFormat: String, CaseIterable, Sendable {
    case native, litellm, nginx, kong, envoy
    case openaiGateway = "openai-gateway"
    /// OpenTelemetry traces (the Collector's file exporter): several calls a line.
    case otlpJSON = "otlp-json"

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// How one source's lines become records: a preset, `fields:` laid over it (or alone), and which
/// failure classes count as failures.
public struct SourceFormat: Equatable, Sendable {
    /// nil: a custom mapping, `fields` alone.
    public var preset: LogFormat?
    /// The source's own `fields:` and `success:`, laid over the preset's.
    public var custom: FieldMapping
    public var policy: FailurePolicy

    public init(preset: LogFormat? = .native, custom: FieldMapping = FieldMapping(), policy: FailurePolicy = .default) {
        self.preset = preset
        self.custom = custom
        self.policy = policy
    }

    public static func preset(_ f: LogFormat) -> SourceFormat { SourceFormat(preset: f) }

    /// The mapping in effect.
    public var mapping: FieldMapping { (preset?.mapping ?? FieldMapping()).overridden(by: custom) }

    var outcomeRule: OutcomeRule {
        if let rule = custom.success { return .custom(rule) }
        return preset?.outcomeRule ?? .httpStatus
    }

    /// Why this format cannot work (check-config reports these), or empty.
    public var problems: [(key: String, message: String)] {
        if preset == .otlpJSON {
            // Spans are read by their GenAI attributes, not by a mapping.
            return custom == FieldMapping() ? [] : [("fields", "otlp-json reads spans by OpenTelemetry's GenAI attributes: it takes no fields: or success:")]
        }
        return mapping.problems(classifies: preset != nil || custom.success != nil)
    }

    /// The native preset as it is uses its hand-tuned parser; everything else the mapped one.
    /// `limits` bound the values a record takes (RecordLimits.swift).
    public func makeParser(limits: RecordLimits = .default) -> any LineParser {
        if preset == .native && custom == FieldMapping() { return NativeParser(limits: limits) }
        if preset == .otlpJSON { return OTLPParser(limits: limits) }
        return MappedParser(self, limits: limits)
    }

    /// What `check-config` shows: the preset and any fields laid over it.
    public var summary: String {
        var parts = [preset.map { "format \($0.rawValue)" } ?? "custom fields"]
        if preset != nil && !custom.fields.isEmpty {
            parts.append("fields " + custom.fields.keys.sorted().map(\.rawValue).joined(separator: ", "))
        }
        if custom.success != nil { parts.append("own success rule") }
        parts.append("failures counted: " + policy.classes.map(\.name).joined(separator: ", "))
        return parts.joined(separator: "; ")
    }
}
