/// How much of the change log (`realtime_changes`, the feed's replay for resume) is kept:
/// at most `maxEntries` changes and `maxBytes` of stored records, whichever is reached
/// first. A plain value with no I/O: the store tells it each logged change's size and
/// deletes through the offset it answers.
///
/// Past a limit the log is trimmed to 90 % of both, so deletes come in batches rather than
/// one per write. The newest change is always kept, however large.
struct ChangeLogRetention: Sendable {
    let maxEntries: Int
    let maxBytes: Int
    /// Logged changes, oldest first, from `head` on.
    private var sizes: [(offset: Int64, bytes: Int)] = []
    private var head = 0
    /// Bytes of the records and old records kept.
    private(set) var bytes = 0

    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
    }

    /// Changes kept.
    var count: Int { sizes.count - head }

    /// The oldest offset kept (nil: none).
    var oldest: Int64? { head < sizes.count ? sizes[head].offset : nil }

    /// Records a logged change (offsets increase); answers the newest offset to delete
    /// through when the log went past a limit, nil when nothing is to go.
    mutating func logged(offset: Int64, bytes: Int) -> Int64? {
        sizes.append((offset, bytes))
        self.bytes += bytes
        guard count > maxEntries || self.bytes > maxBytes else { return nil }
        let entryTarget = maxEntries - maxEntries / 10
        let byteTarget = maxBytes - maxBytes / 10
        var through: Int64?
        while count > 1, count > entryTarget || self.bytes > byteTarget {
            let oldest = sizes[head]
            head += 1
            self.bytes -= oldest.bytes
            through = oldest.offset
        }
        if head >= 1024, head * 2 >= sizes.count {
            sizes.removeFirst(head)
            head = 0
        }
        return through
    }
}
