extension RowPredicate {
    /// Adds to `keys` the related rows this predicate would consult to evaluate `row`.
    package func collectRelationKeys(in row: Row, into keys: inout RelationKeys) {
        switch self {
        case .always, .never, .equals, .isNull, .isFalse:
            return
        case .and(let parts), .or(let parts):
            for part in parts { part.collectRelationKeys(in: row, into: &keys) }
        case .roomParticipant(let column, _):
            if let room = row[column]?.text { keys.rooms.insert(room) }
        case .roundCandidate(let column, _):
            if let round = row[column]?.text { keys.rounds.insert(round) }
        }
    }
}

extension RowPredicate {
    /// Whether evaluating this predicate may consult related rows.
    package var consultsRelations: Bool {
        switch self {
        case .always, .never, .equals, .isNull, .isFalse: false
        case .and(let parts), .or(let parts): parts.contains { $0.consultsRelations }
        case .roomParticipant, .roundCandidate: true
        }
    }
}
