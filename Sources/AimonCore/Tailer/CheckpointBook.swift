/// This host's checkpoints as Redis holds them, and what the next commit must change there.
///
/// Pure bookkeeping for the tailer: every change carries the text it expects to find in Redis (what
/// was loaded, or last committed), which is the condition of the commit (`CheckpointChange`).
/// Checkpoints of files let go are kept, marked as no longer held, so a file that comes back (moved
/// out of the globs and in again, a glob that failed, `aimon replay` of a rotated file) resumes
/// where it was read to; they are dropped once every line they could hold is past the retention.
struct CheckpointBook {
    /// The text stored in Redis, by identity key: as loaded, or as last committed.
    private(set) var stored: [String: String]
    /// Checkpoints of files that are not open, by identity key: where such a file resumes.
    private(set) var idle: [String: Checkpoint] = [:]
    /// What the next commit writes, by identity key (nil: delete).
    private var pending: [String: Checkpoint?] = [:]
    /// What a commit sent and not yet landed writes, by identity key ("": delete): positions noted
    /// meanwhile are compared with these, not with what Redis held before it.
    private var inflight: [String: String] = [:]

    init(stored: [String: String]) {
        self.stored = stored
        for (id, text) in stored { if let cp = Checkpoint(encoded: text) { idle[id] = cp } }
    }

    var hasPending: Bool { !pending.isEmpty }

    /// A file with this identity is being opened: its checkpoint, if it has one.
    mutating func open(_ id: String) -> Checkpoint? { idle.removeValue(forKey: id) }

    /// The file's position is now `cp`: due at the next commit, unless Redis already holds it.
    mutating func note(_ id: String, _ cp: Checkpoint) {
        if let text = inflight[id] ?? stored[id], let current = Checkpoint(encoded: text), Self.same(current, cp) {
            pending[id] = nil
        } else {
            pending[id] = .some(cp)
        }
    }

    /// The file was let go at `cp`: kept, no longer held.
    mutating func letGo(_ id: String, _ cp: Checkpoint) {
        var done = cp
        done.held = false
        idle[id] = done
        note(id, done)
    }

    /// Checkpoints marked held whose files are not open (a daemon stopped or crashed with them
    /// open, and they were not found again): no longer held, so `aimon replay` may read them.
    mutating func releaseIdle() {
        for (id, cp) in idle where cp.held {
            var done = cp
            done.held = false
            idle[id] = done
            note(id, done)
        }
    }

    /// Drops checkpoints of files not open, not held, and written before `cutoff` (epoch seconds).
    mutating func prune(before cutoff: Int64) {
        for (id, cp) in idle where !cp.held && cp.updated < cutoff {
            idle[id] = nil
            pending[id] = stored[id] == nil ? nil : .some(nil)
        }
    }

    /// The changes of the next commit, each stamped `now`. The book is unchanged until `committed`.
    /// Not while a commit is in flight (its landing decides what the next one expects).
    func changes(now: Int64) -> [CheckpointChange] {
        precondition(inflight.isEmpty, "the next commit is built after the one in flight landed")
        return pending.sorted { $0.key < $1.key }.map { id, cp in
            var new = ""
            if var cp {
                cp.updated = now
                new = cp.encoded
            }
            return CheckpointChange(id: id, expected: stored[id] ?? "", new: new)
        }
    }

    /// A commit carrying `changes` was sent; `committed` follows once it landed. What is noted
    /// meanwhile is due in the next commit, and its landing does not clear it.
    mutating func sent(_ changes: [CheckpointChange]) {
        for ch in changes {
            inflight[ch.id] = ch.new
            pending[ch.id] = nil
        }
    }

    /// The commit that carried `changes` landed: Redis now holds their new texts.
    mutating func committed(_ changes: [CheckpointChange]) {
        for ch in changes {
            stored[ch.id] = ch.new.isEmpty ? nil : ch.new
            // Sent ahead (`sent`): pending holds only what was noted since. Else it holds this commit's.
            if inflight.removeValue(forKey: ch.id) == nil { pending[ch.id] = nil }
            // A file let go is pruned by when it was let go: the time just written, not the 0 of a
            // checkpoint made in memory (which `prune` took for "long ago").
            if idle[ch.id] != nil, let written = Checkpoint(encoded: ch.new) { idle[ch.id]?.updated = written.updated }
        }
    }

    /// Equal but for when they were written.
    static func same(_ a: Checkpoint, _ b: Checkpoint) -> Bool {
        a.offset == b.offset && a.fingerprint == b.fingerprint && a.path == b.path && a.held == b.held
    }
}
