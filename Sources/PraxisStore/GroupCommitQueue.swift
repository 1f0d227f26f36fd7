/// The queue both room journals (SQLite's ``RoomJournal``, PostgreSQL's
/// ``PostgresRoomJournal``) keep under their lock: items wait while a transaction is being
/// written, the next transaction takes all of them (at most `maxBatch`), one drain runs at a
/// time. A plain value whose mutating methods say what to do next; no I/O, no locking.
struct GroupCommitQueue<Item> {
    private(set) var pending: [Item] = []
    /// Items taken into the transaction being written.
    private(set) var writingCount = 0
    /// Whether a drain is running.
    private(set) var writing = false
    /// Transactions taken and the items they held, since start.
    private(set) var batches = 0
    private(set) var items = 0

    /// Items not yet durable: waiting, or in the transaction being written.
    var notDurable: Int { pending.count + writingCount }

    /// Whether items are waiting or being written.
    var hasWork: Bool { !pending.isEmpty || writing }

    /// Queues `item`; true when the caller must start a drain (none was running).
    mutating func append(_ item: Item) -> Bool {
        pending.append(item)
        if writing { return false }
        writing = true
        return true
    }

    /// The next transaction's items, oldest first, at most `maxBatch`; empty when nothing
    /// waits, and the drain then ends.
    mutating func nextBatch(maxBatch: Int) -> [Item] {
        guard !pending.isEmpty else {
            writing = false
            return []
        }
        let count = min(pending.count, maxBatch)
        writingCount = count
        let batch = Array(pending.prefix(count))
        pending.removeFirst(count)
        batches += 1
        items += count
        return batch
    }

    /// The batch taken last is written (or failed): its items are no longer in flight.
    mutating func batchDone() {
        writingCount = 0
    }
}
