import Testing
@testable import AimonCore

/// The checkpoint bookkeeping when a commit is sent ahead (a backlog: the next batch is read while
/// it lands): what is noted meanwhile is due in the next commit, expected as the one in flight wrote.
@Suite struct CheckpointBookTests {
    func cp(_ offset: Int64, held: Bool = true) -> Checkpoint { Checkpoint(offset: offset, fingerprint: 7, path: "/x/a.log", held: held) }

    /// A file let go (read to its end, rotated away) while the commit before is in flight: its last
    /// position is still in the next commit. (Landing the first cleared it: replay lost its last batch.)
    @Test func aPositionNotedWhileACommitIsInFlightIsInTheNextOne() {
        var book = CheckpointBook(stored: [:])
        book.note("a", cp(100))
        let first = book.changes(now: 10)
        #expect(first.map(\.id) == ["a"])
        book.sent(first)
        book.letGo("a", cp(250))  // read further, then let go, before the first landed
        book.committed(first)
        let second = book.changes(now: 11)
        #expect(second.count == 1)
        #expect(second.first?.expected == first.first?.new)
        #expect(second.first.flatMap { Checkpoint(encoded: $0.new) }.map { ($0.offset, $0.held) } ?? (0, true) == (250, false))
    }

    /// A position noted in flight equal to the one in flight is no change.
    @Test func aPositionEqualToTheOneInFlightIsNoChange() {
        var book = CheckpointBook(stored: [:])
        book.note("a", cp(100))
        let first = book.changes(now: 10)
        book.sent(first)
        book.note("a", cp(100))
        book.committed(first)
        #expect(book.changes(now: 11).isEmpty)
    }

    /// Without sending ahead, landing clears what the commit carried.
    @Test func aCommitLandedInPlaceClearsWhatItCarried() {
        var book = CheckpointBook(stored: [:])
        book.note("a", cp(100))
        let first = book.changes(now: 10)
        book.committed(first)
        #expect(book.changes(now: 11).isEmpty)
        #expect(book.stored["a"] == first.first?.new)
    }
}
