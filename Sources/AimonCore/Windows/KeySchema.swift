/// Every Redis key aimon writes, in one place (Docs/redis-keys.md describes them).
///
/// A model's keys share a hash tag, `{model}`, so a Redis Cluster layout stays possible. Model names
/// are percent-escaped (anything outside `A-Z a-z 0-9 . _ -`), so a name can neither break a key
/// apart nor collide with the all-models tag `*`.
public struct KeySchema: Sendable {
    public let prefix: String
    public init(prefix: String) { self.prefix = prefix }

    /// The tag standing for all models together.
    public static let allModels = "*"

    public enum Resolution: String, Sendable {
        case minute = "m", hour = "h"
        public var seconds: Int64 { self == .minute ? 60 : 3600 }
    }

    public static func escape(_ model: String) -> String {
        var out = ""
        out.reserveCapacity(model.utf8.count)
        for b in model.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2E, 0x5F, 0x2D:
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%"
                out += String(b >> 4, radix: 16, uppercase: true)
                out += String(b & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// The name `escape` was given.
    public static func unescape(_ escaped: String) -> String {
        var out: [UInt8] = []
        let b = Array(escaped.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 0x25, i + 2 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `{escaped model}`, `{*}` for all models, `{%}` for the overflow model (a name no escape gives).
    @inline(__always) func tag(_ model: String?) -> String {
        guard let model else { return "{" + Self.allModels + "}" }
        return model.isEmpty ? "{%}" : "{" + Self.escape(model) + "}"
    }

    /// The hash of one bucket; `model` nil means all models.
    public func bucket(_ model: String?, _ resolution: Resolution, start: Int64) -> String {
        "\(prefix):\(tag(model)):\(resolution.rawValue):\(start)"
    }

    /// HyperLogLog of the users seen in one hour.
    public func users(_ model: String?, hour: Int64) -> String { "\(prefix):\(tag(model)):u:\(hour)" }

    /// Hash of normalised error message -> count for one hour.
    public func errors(_ model: String?, hour: Int64) -> String { "\(prefix):\(tag(model)):e:\(hour)" }

    /// The model's current run of consecutive failures.
    /// A hash; an earlier version kept a string under `:run`, so the new name keeps the two apart.
    public func failureRun(_ model: String) -> String { "\(prefix):\(tag(model)):runs" }

    /// Hash of alert type -> alert state (Alerts/AlertState.swift) for one model (nil: all models).
    public func alertStates(_ model: String?) -> String { "\(prefix):\(tag(model)):alerts" }

    /// Set of the models with an alert not inactive: the timer evaluates them even without traffic.
    public var alerting: String { "\(prefix):alerting" }

    /// Sorted set of the models under the model cap, scored by when each was last seen (epoch
    /// seconds); those not seen for `ingest.model_ttl` free their place.
    public var modelRegistry: String { "\(prefix):model-registry" }

    /// Set of the models with an event in one hour.
    public func models(hour: Int64) -> String { "\(prefix):models:\(hour)" }

    /// Set of the (model, deployment) pairs (`Deployment.pair`) with an event in one hour.
    public func deployments(hour: Int64) -> String { "\(prefix):deployments:\(hour)" }

    /// Set of the spend thresholds announced in the period that began at `start` (SpendWatcher.swift):
    /// whoever adds a member first announces it; the set outlives its period.
    public func spendAnnounced(start: Int64) -> String { "\(prefix):spend:\(start)" }

    /// Hash of the spend alerts firing, each until its period is over: whoever deletes one announces
    /// its resolution.
    public var spendActive: String { "\(prefix):spend:active" }

    /// Hash of the spend alerts resolved lately -> the process that resolved them (for a reply lost).
    public var spendResolved: String { "\(prefix):spend:resolved" }

    /// Hash of file identity -> checkpoint, for one host.
    public func checkpoints(host: String) -> String { "\(prefix):ckpt:\(Self.escape(host))" }

    /// Hash of ingest counters (lines, bad lines by reason...), for one host.
    public func ingestCounters(host: String) -> String { "\(prefix):ingest:\(Self.escape(host))" }
}
