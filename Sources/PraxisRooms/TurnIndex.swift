import Synchronization

/// The turns a round has accepted, by speaker and client turn id: a value whose copies cost
/// nothing and whose inserts cost O(1), however many copies are held, and whose memory is
/// a few dozen bytes per turn, whatever the turns' text.
///
/// A room keeps a copy of its state around every command (to restore it when the command is
/// refused, and to compare what changed). With a plain dictionary, each accepted turn then
/// copied every turn of the round before it — O(turns) per turn, so a long round slowed down
/// turn by turn. Here every value sees a prefix of one append-only log: a value at the log's
/// tip appends in place, and older copies simply do not see entries past their own length.
/// Only a value that is not at the tip copies its prefix before it inserts (which the room
/// never does: a refusal restores a copy and inserts nothing).
///
/// The log keeps digests, not text: a key's 64-bit hash, the turn's seq and its text's
/// 64-bit hash — enough to answer a repeated client id with its seq and to refuse one that
/// comes with other text. The text itself is in the room's journal. (Two keys or texts
/// with the same 64-bit hash, about one chance in 2^64 per pair, would be taken for one.)
package struct TurnIndex: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private final class Log: Sendable {
        struct Entry: Equatable {
            var position: Int
            var turn: AcceptedTurn
        }

        struct Entries {
            var byKey: [UInt64: Entry] = [:]
            var count = 0
        }

        let storage: Mutex<Entries>

        init(_ entries: Entries = Entries()) { storage = Mutex(entries) }
    }

    private var log: Log
    /// How many entries of the log this value sees.
    private var length: Int

    package init() {
        log = Log()
        length = 0
    }

    package init(dictionaryLiteral elements: (String, AcceptedTurn)...) {
        self.init()
        for (key, turn) in elements { self[key] = turn }
    }

    package var count: Int { length }

    /// Whether two values read the same log (for tests: inserting at the tip copied nothing).
    func sharesLog(with other: TurnIndex) -> Bool { log === other.log }
    package var isEmpty: Bool { length == 0 }

    /// The accepted turn under `key`; setting inserts it (or replaces an earlier one).
    package subscript(key: String) -> AcceptedTurn? {
        get {
            let length = self.length
            let digest = Self.digest(key)
            return log.storage.withLock { storage in
                guard let entry = storage.byKey[digest], entry.position < length else { return nil }
                return entry.turn
            }
        }
        set {
            let digest = Self.digest(key)
            guard let newValue else {
                self = TurnIndex(visible.filter { $0.key != digest })
                return
            }
            let length = self.length
            let appended = log.storage.withLock { storage -> Bool in
                // Append in place only at the log's tip, and only for a key not seen yet.
                guard storage.count == length, storage.byKey[digest] == nil else { return false }
                storage.byKey[digest] = Log.Entry(position: length, turn: newValue)
                storage.count += 1
                return true
            }
            if appended {
                self.length += 1
                return
            }
            var copy = visible.filter { $0.key != digest }
            copy.append((digest, newValue))
            self = TurnIndex(copy)
        }
    }

    /// The visible entries in the order they were accepted.
    private var visible: [(key: UInt64, turn: AcceptedTurn)] {
        let length = self.length
        return log.storage.withLock { storage in
            storage.byKey.filter { $0.value.position < length }
                .sorted { $0.value.position < $1.value.position }
                .map { ($0.key, $0.value.turn) }
        }
    }

    private init(_ entries: [(key: UInt64, turn: AcceptedTurn)]) {
        var storage = Log.Entries()
        for (position, entry) in entries.enumerated() {
            storage.byKey[entry.key] = Log.Entry(position: position, turn: entry.turn)
        }
        storage.count = entries.count
        log = Log(storage)
        length = entries.count
    }

    static func digest(_ text: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(text)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    package static func == (lhs: TurnIndex, rhs: TurnIndex) -> Bool {
        guard lhs.length == rhs.length else { return false }
        var left: [UInt64: AcceptedTurn] = [:]
        for entry in lhs.visible { left[entry.key] = entry.turn }
        var right: [UInt64: AcceptedTurn] = [:]
        for entry in rhs.visible { right[entry.key] = entry.turn }
        return left == right
    }
}
