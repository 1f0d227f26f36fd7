import PraxisRooms
import PraxisStore

extension CaseBrief {
    /// What every member may see of the case (never its briefs).
    var summary: RoomCaseSummary {
        RoomCaseSummary(id: id, caseName: caseName, domain: domain, targetProfession: targetProfession, difficultyLevel: difficultyLevel)
    }
}

extension CaseBrief {
    /// The case's two briefs, for the engine to hand out by role.
    var briefs: RoomCaseBriefs { RoomCaseBriefs(candidate: candidateBrief, actor: actorBrief) }
}
