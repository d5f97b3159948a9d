/// One (rule, subject)'s place in the alert state machine, as kept in Redis.
///
/// inactive -> pending (`for`) -> firing -> resolved (-> inactive); `held` is firing held back
/// because the model's consecutive-failure alert already describes the outage.
public struct AlertState: Equatable, Sendable {
    public enum Phase: String, Sendable { case inactive, pending, held, firing }

    public var phase: Phase = .inactive
    /// When the current phase began (pending: the condition; firing/held: the episode).
    public var since: Double = 0
    /// While firing: when the value came back inside the clear threshold (for `keep_firing_for`).
    public var clearSince: Double?
    /// When the episode was last announced (firing or reminder).
    public var lastNotified: Double = 0
    /// Announcements of this episode so far (firing + reminders).
    public var notifyCount: Int = 0
    /// Identifies the episode: the alert table's row and AIMON_FINGERPRINT.
    public var fingerprint: String = ""
    /// The value last announced.
    public var value: Double = 0

    public init() {}

    public static let inactive = AlertState()

    /// A compact text form for one Redis hash field; "" for inactive (the field is deleted).
    public var encoded: String {
        guard phase != .inactive else { return "" }
        return [phase.rawValue, Self.num(since), clearSince.map(Self.num) ?? "", Self.num(lastNotified),
                String(notifyCount), fingerprint, Self.num(value)].joined(separator: "|")
    }

    public init?(encoded: String) {
        if encoded.isEmpty { self.init(); return }
        let p = encoded.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard p.count == 7, let phase = Phase(rawValue: p[0]), let since = Double(p[1]),
              let last = Double(p[3]), let count = Int(p[4]), (0...Int(Int32.max)).contains(count), let value = Double(p[6])
        else { return nil }
        self.init()
        self.phase = phase
        self.since = since
        self.clearSince = p[2].isEmpty ? nil : Double(p[2])
        self.lastNotified = last
        self.notifyCount = count
        self.fingerprint = p[5]
        self.value = value
    }

    static func num(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)  // |v| < 1e15: no trap
    }
}
