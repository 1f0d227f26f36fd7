import Synchronization

/// The turns a round has accepted, by speaker and client turn id: a value whose copies cost
/// nothing and whose inserts cost O(1), however many copies are held.
///
/// A room keeps a copy of its state around every command (to restore it when the command is
/// refused, and to compare what changed). With a plain dictionary, each accepted turn then
/// copied every turn of the round before it — O(turns) per turn, so a long round slowed down
/// turn by turn. Here every value sees a prefix of one append-only log: a value at the log's
/// tip appends in place, and older copies simply do not see entries past their own length.
/// Only a value that is not at the tip copies its prefix before it inserts (which the room
/// never does: a refusal restores a copy and inserts nothing).
public struct TurnIndex: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private final class Log: Sendable {
        struct Entries {
            var positions: [String: Int] = [:]
            var entries: [(key: String, turn: AcceptedTurn)] = []
        }

        let storage: Mutex<Entries>

        init(_ entries: Entries = Entries()) { storage = Mutex(entries) }
    }

    private var log: Log
    /// How many entries of the log this value sees.
    private var length: Int

    public init() {
        log = Log()
        length = 0
    }

    public init(dictionaryLiteral elements: (String, AcceptedTurn)...) {
        self.init()
        for (key, turn) in elements { self[key] = turn }
    }

    public var count: Int { length }

    /// Whether two values read the same log (for tests: inserting at the tip copied nothing).
    func sharesLog(with other: TurnIndex) -> Bool { log === other.log }
    public var isEmpty: Bool { length == 0 }

    /// The accepted turn under `key`; setting inserts it (or replaces an earlier one).
    public subscript(key: String) -> AcceptedTurn? {
        get {
            let length = self.length
            return log.storage.withLock { storage in
                guard let position = storage.positions[key], position < length else { return nil }
                return storage.entries[position].turn
            }
        }
        set {
            guard let newValue else {
                self = TurnIndex(entries.filter { $0.key != key })
                return
            }
            let length = self.length
            let appended = log.storage.withLock { storage -> Bool in
                // Append in place only at the log's tip, and only for a key not seen yet.
                guard storage.entries.count == length, storage.positions[key] == nil else { return false }
                storage.positions[key] = length
                storage.entries.append((key, newValue))
                return true
            }
            if appended {
                self.length += 1
                return
            }
            var copy = entries.filter { $0.key != key }
            copy.append((key, newValue))
            self = TurnIndex(copy)
        }
    }

    /// The visible entries in the order they were accepted.
    private var entries: [(key: String, turn: AcceptedTurn)] {
        let length = self.length
        return log.storage.withLock { Array($0.entries.prefix(length)) }
    }

    private init(_ entries: [(key: String, turn: AcceptedTurn)]) {
        var storage = Log.Entries()
        for (position, entry) in entries.enumerated() {
            storage.positions[entry.key] = position
            storage.entries.append(entry)
        }
        log = Log(storage)
        length = entries.count
    }

    public static func == (lhs: TurnIndex, rhs: TurnIndex) -> Bool {
        guard lhs.length == rhs.length else { return false }
        var left: [String: AcceptedTurn] = [:]
        for entry in lhs.entries { left[entry.key] = entry.turn }
        var right: [String: AcceptedTurn] = [:]
        for entry in rhs.entries { right[entry.key] = entry.turn }
        return left == right
    }
}
