/// A condition on a row, written once and used two ways: rendered to SQL by the store
/// (so the database filters, counts and limits correctly) and evaluated in memory against
/// a row (for changes fanned out by the realtime feed).
public indirect enum RowPredicate: Sendable, Hashable {
    case always
    case never
    /// `column = value`.
    case equals(String, Value)
    case isNull(String)
    /// `column` is 0 (SQLite's false).
    case isFalse(String)
    case and([RowPredicate])
    case or([RowPredicate])
    /// The row's `column` names a practice room whose host or guest is `userID`.
    case roomParticipant(column: String, userID: String)
    /// The row's `column` names a practice round whose candidate is `userID`.
    case roundCandidate(column: String, userID: String)

    /// Facts about other rows a predicate may need (room participants, round candidates).
    public struct Relations: Sendable {
        public var roomParticipants: @Sendable (String) -> (host: String, guest: String?)?
        public var roundCandidate: @Sendable (String) -> String?

        public init(
            roomParticipants: @escaping @Sendable (String) -> (host: String, guest: String?)?,
            roundCandidate: @escaping @Sendable (String) -> String?
        ) {
            self.roomParticipants = roomParticipants
            self.roundCandidate = roundCandidate
        }

        /// No relations known: relational predicates are false.
        public static let none = Relations(roomParticipants: { _ in nil }, roundCandidate: { _ in nil })
    }

    /// Whether `row` satisfies the predicate.
    public func evaluate(_ row: Row, relations: Relations = .none) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .equals(let column, let value): return (row[column] ?? .null) == value && !value.isNull
        case .isNull(let column): return (row[column] ?? .null).isNull
        case .isFalse(let column): return row[column]?.integer == 0
        case .and(let parts): return parts.allSatisfy { $0.evaluate(row, relations: relations) }
        case .or(let parts): return parts.contains { $0.evaluate(row, relations: relations) }
        case .roomParticipant(let column, let userID):
            guard let room = row[column]?.text, let participants = relations.roomParticipants(room) else { return false }
            return participants.host == userID || participants.guest == userID
        case .roundCandidate(let column, let userID):
            guard let round = row[column]?.text else { return false }
            return relations.roundCandidate(round) == userID
        }
    }

    /// `self AND other`, simplified.
    public func and(_ other: RowPredicate) -> RowPredicate {
        switch (self, other) {
        case (.always, _): other
        case (_, .always): self
        case (.never, _), (_, .never): .never
        default: .and([self, other])
        }
    }

    /// `self OR other`, simplified.
    public func or(_ other: RowPredicate) -> RowPredicate {
        switch (self, other) {
        case (.always, _), (_, .always): .always
        case (.never, _): other
        case (_, .never): self
        default: .or([self, other])
        }
    }
}
