import PraxisRooms
import PraxisStore

extension CaseBrief {
    /// What every member may see of the case (never its briefs).
    var summary: RoomCaseSummary {
        RoomCaseSummary(id: id, caseName: caseName, domain: domain, targetProfession: targetProfession, difficultyLevel: difficultyLevel)
    }
}
