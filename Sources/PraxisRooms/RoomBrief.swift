package import PraxisDomain

/// The two briefs of a case: each member is only ever handed its own role's.
package struct RoomCaseBriefs: Sendable, Equatable {
    package var candidate: String
    package var actor: String

    package init(candidate: String, actor: String) {
        self.candidate = candidate
        self.actor = actor
    }
}

/// The brief one member may see now (its role's, from preparation on), and whom it is for.
package struct RoomBrief: Sendable, Equatable {
    package var userID: String
    package var round: Int
    package var role: RoomRole
    package var caseID: String
    package var caseName: String
    package var text: String

    package init(userID: String, round: Int, role: RoomRole, caseID: String, caseName: String, text: String) {
        self.userID = userID
        self.round = round
        self.role = role
        self.caseID = caseID
        self.caseName = caseName
        self.text = text
    }

    /// `{round, role, case_id, case_name, text}`: the `brief` event's payload and the snapshot's `brief`.
    package var json: JSONValue {
        .object([
            "round": .number(Double(round)), "role": .string(role.rawValue), "case_id": .string(caseID), "case_name": .string(caseName),
            "text": .string(text),
        ])
    }
}
