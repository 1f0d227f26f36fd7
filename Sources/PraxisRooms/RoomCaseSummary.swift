/// What every member may see of a case (never its briefs): the `case` of `case_chosen`
/// events, of snapshots and of the `choose_case` reply.
package struct RoomCaseSummary: Sendable, Equatable {
    package var id: String
    package var caseName: String
    package var domain: String
    package var targetProfession: String
    package var difficultyLevel: String

    package init(id: String, caseName: String, domain: String, targetProfession: String, difficultyLevel: String) {
        self.id = id
        self.caseName = caseName
        self.domain = domain
        self.targetProfession = targetProfession
        self.difficultyLevel = difficultyLevel
    }
}
