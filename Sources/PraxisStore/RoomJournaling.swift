/// The room journal as the rooms use it: entries appended with group commit, a completion
/// once each is durable, and back-pressure. `RoomJournal` is SQLite's; a test double or a
/// second database's journal can stand in (issue 13).
package protocol RoomJournaling: Sendable {
    /// Whether new commands should be refused for now (too many entries wait for the disk).
    var isFull: Bool { get }
    /// Whether entries are waiting or being written.
    var hasWork: Bool { get }
    /// Queues `entry`; `completion` runs once it is durable (or failed), in submission order.
    func append(_ entry: RoomJournalEntry, completion: @escaping RoomJournal.Completion)
    /// Returns once every entry appended so far is written and its completion has run.
    func waitUntilWritten() async
}

extension RoomJournal: RoomJournaling {}
