/// One of the nine OET Speaking criteria.
public struct Criterion: Sendable, Equatable {
    /// Which half of the OET rubric a criterion belongs to.
    public enum Kind: String, Sendable, Equatable {
        /// Clinical communication, scored 0–3.
        case clinical
        /// Linguistic, scored 0–6.
        case linguistic
    }

    /// The criterion's name exactly as OET writes it (and as the assessment JSON carries it).
    public let name: String
    public let kind: Kind
    /// The highest score: 3 for clinical criteria, 6 for linguistic ones (the lowest is 0).
    public let max: Int

    public init(name: String, kind: Kind, max: Int) {
        self.name = name
        self.kind = kind
        self.max = max
    }
}

/// The OET Speaking rubric: five clinical-communication criteria (0–3) and four linguistic
/// criteria (0–6), in the order the assessment JSON lists them.
public enum Rubric {
    public static let relationshipBuilding = "Relationship Building"
    public static let patientsPerspective = "Understanding and Incorporating the Patient's Perspective"
    public static let providingStructure = "Providing Structure"
    public static let informationGathering = "Information Gathering"
    public static let informationGiving = "Information Giving"
    public static let intelligibility = "Intelligibility"
    public static let fluency = "Fluency"
    public static let appropriateness = "Appropriateness of Language"
    public static let grammarAndExpression = "Resources of Grammar and Expression"

    /// All nine criteria: the clinical ones first, then the linguistic ones.
    public static let criteria: [Criterion] = [
        Criterion(name: relationshipBuilding, kind: .clinical, max: 3),
        Criterion(name: patientsPerspective, kind: .clinical, max: 3),
        Criterion(name: providingStructure, kind: .clinical, max: 3),
        Criterion(name: informationGathering, kind: .clinical, max: 3),
        Criterion(name: informationGiving, kind: .clinical, max: 3),
        Criterion(name: intelligibility, kind: .linguistic, max: 6),
        Criterion(name: fluency, kind: .linguistic, max: 6),
        Criterion(name: appropriateness, kind: .linguistic, max: 6),
        Criterion(name: grammarAndExpression, kind: .linguistic, max: 6),
    ]

    /// The five clinical-communication criteria.
    public static var clinical: [Criterion] { criteria.filter { $0.kind == .clinical } }

    /// The highest total clinical score (15).
    public static var clinicalMax: Int { clinical.reduce(0) { $0 + $1.max } }

    /// The criterion with this exact name, if it is one of the nine.
    public static func criterion(named name: String) -> Criterion? {
        criteria.first { $0.name == name }
    }
}
