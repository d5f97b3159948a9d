/// Batches folded from consecutive parts of a log, put together in log order: what lets the lines
/// of one batch be folded on several threads (FoldWorkers) and still commit as if read in one pass.

extension FailureRun {
    /// The run over this batch's events followed by `later`'s.
    public mutating func append(_ later: FailureRun) {
        if let t = later.lastFailure { lastFailure = max(lastFailure ?? t, t) }
        switch (sawSuccess, later.sawSuccess) {
        case (false, false):
            trailing += later.trailing
        case (false, true):
            leading = trailing + later.leading
            longestInside = later.longestInside
            trailing = later.trailing
        case (true, false):
            trailing += later.trailing
        case (true, true):
            // The failures between this part's last success and the later part's first form a run.
            longestInside = max(longestInside, later.longestInside, trailing + later.leading)
            trailing = later.trailing
        }
        sawSuccess = sawSuccess || later.sawSuccess
    }
}

extension WindowBatch {
    /// Adds a batch folded from the lines that follow this one's, as if this batch had folded them:
    /// the same buckets, users, failure runs and counts. One thing may differ past
    /// `maxErrorMessages` distinct messages in one model's hour: which messages keep their own name
    /// is not decided by the order of the lines, and a message one part counted under
    /// `ErrorMessage.others` may keep its name in the other (its calls are then split between the
    /// two). The cap holds and every failure is counted either way.
    public mutating func append(_ later: WindowBatch) {
        finish()
        for j in later.slots.indices {
            var part = later.slots[j]
            part.flush()
            let i = slot(named: later.slotNames[j], pair: later.slotIsPair[j])
            slots[i].absorb(part, maxErrorMessages: maxErrorMessages)
        }
        records += later.records
        late += later.late
    }

    /// The failure runs folded since the last call, by slot; each slot starts a new run. A part's runs
    /// are taken after each of its stretches of lines, so that `appendRuns` can put them in log order
    /// while the counts, which no order changes, are appended once.
    mutating func takeRuns() -> [(name: String, pair: Bool, run: FailureRun)] {
        var out: [(name: String, pair: Bool, run: FailureRun)] = []
        for i in slots.indices where slots[i].run != FailureRun() {
            out.append((slotNames[i], slotIsPair[i], slots[i].run))
            slots[i].run = FailureRun()
        }
        return out
    }

    /// Continues the failure runs with those a stretch of later lines folded (`takeRuns`).
    mutating func appendRuns(_ runs: [(name: String, pair: Bool, run: FailureRun)]) {
        for r in runs { slots[slot(named: r.name, pair: r.pair)].run.append(r.run) }
    }
}

extension WindowBatch.Slot {
    /// Adds a flushed slot of later lines to this one (flushed as well).
    mutating func absorb(_ later: WindowBatch.Slot, maxErrorMessages: Int) {
        for (start, counts) in later.minute { minute[start, default: BucketCounts()].merge(counts) }
        for (start, counts) in later.hour { hour[start, default: BucketCounts()].merge(counts) }
        for (start, set) in later.users {
            if var mine = users.removeValue(forKey: start) {
                var theirs = set
                if mine.count < theirs.count { swap(&mine, &theirs) }
                mine.formUnion(theirs)
                users[start] = mine
            } else {
                users[start] = set
            }
        }
        for (start, counts) in later.errors {
            for (message, n) in counts {
                var name = message
                if let seen = errors[start], seen[name] == nil,
                   seen.count - (seen[ErrorMessage.others] == nil ? 0 : 1) >= maxErrorMessages {
                    name = ErrorMessage.others
                }
                errors[start, default: [:]][name, default: 0] += n
            }
        }
        run.append(later.run)
    }
}
