public import PraxisDomain

/// Assesses a round's transcript against the nine OET criteria. Never fails: an assessor that
/// cannot do better answers with the heuristic result (and says why in `fallbackReason`).
public protocol Assessor: Sendable {
    func assess(_ input: AssessmentInput) async -> Assessment
}

/// What an assessor is given about a round.
public struct AssessmentInput: Sendable {
    /// The round's turns, both roles; only the candidate's are assessed.
    public var turns: [TranscriptTurn]
    /// The case's name (e.g. "Chest pain"), if known.
    public var caseName: String?
    /// The candidate brief the candidate read, if known (sent to a model as context, never logged).
    public var candidateBrief: String?
    /// The candidate's profession (medicine, nursing, …), if known.
    public var profession: String?

    public init(turns: [TranscriptTurn], caseName: String? = nil, candidateBrief: String? = nil, profession: String? = nil) {
        self.turns = turns
        self.caseName = caseName
        self.candidateBrief = candidateBrief
        self.profession = profession
    }
}

/// The transparent cue-counting heuristic (`heuristic-v1`) as an `Assessor`.
///
/// The heuristic is CPU-bound (about 20 ms for a 60 s round of turns on the benchmark
/// machine), so it runs on `work`, one assessment at a time off the concurrency pool: a
/// burst of round ends queues there instead of taking every core from the event loops and
/// the database writer.
public struct HeuristicRoundAssessor: Assessor {
    /// Where assessments run; by default one queue for the whole process.
    let work: SerialWork

    /// The process's heuristic assessments, one at a time; also where a round's transcript is
    /// decoded and its report text made before and after any assessor runs (CPU-bound work
    /// of a round-end burst, kept off the event loops' cores).
    package static let shared = SerialWork(label: "praxis.assessment.heuristic")

    public init() {
        work = Self.shared
    }

    package init(work: SerialWork) {
        self.work = work
    }

    public func assess(_ input: AssessmentInput) async -> Assessment {
        await work.run { HeuristicAssessor.assess(input.turns, caseName: input.caseName) }
    }
}
