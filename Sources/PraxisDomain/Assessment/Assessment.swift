/// The result for one criterion: its score (nil when not judged), evidence quotes and a note.
public struct CriterionResult: Sendable, Equatable {
    public var name: String
    public var kind: Criterion.Kind
    public var max: Int
    /// 0…`max`, or nil when the criterion was not judged (the heuristic's linguistic criteria).
    public var score: Int?
    /// Quotes from the candidate's turns that support the score.
    public var evidence: [String]
    /// Why the score is what it is, in words.
    public var note: String

    public init(name: String, kind: Criterion.Kind, max: Int, score: Int?, evidence: [String], note: String) {
        self.name = name
        self.kind = kind
        self.max = max
        self.score = score
        self.evidence = evidence
        self.note = note
    }

    /// The JSON object of protocol/room.md: `{name, kind, max, score, evidence, note}`.
    public var json: JSONValue {
        .object([
            "name": .string(name),
            "kind": .string(kind.rawValue),
            "max": .number(Double(max)),
            "score": score.map { .number(Double($0)) } ?? .null,
            "evidence": .array(evidence.map(JSONValue.string)),
            "note": .string(note),
        ])
    }
}

/// A round's assessment against the nine OET criteria (protocol/room.md, "Assessment").
public struct Assessment: Sendable, Equatable {
    /// Who produced it: `heuristic-v1` or `chat:<model>`.
    public var assessor: String
    /// All nine criteria, in `Rubric.criteria` order.
    public var criteria: [CriterionResult]
    public var summary: String
    public var strengths: [String]
    public var areasForImprovement: [String]
    /// Set when a model was asked first and its answer was discarded: why, in one line.
    public var fallbackReason: String?

    public init(
        assessor: String, criteria: [CriterionResult], summary: String, strengths: [String],
        areasForImprovement: [String], fallbackReason: String? = nil
    ) {
        self.assessor = assessor
        self.criteria = criteria
        self.summary = summary
        self.strengths = strengths
        self.areasForImprovement = areasForImprovement
        self.fallbackReason = fallbackReason
    }

    /// The sum of the clinical-communication scores (0–15).
    public var scoreRaw: Int {
        criteria.filter { $0.kind == .clinical }.reduce(0) { $0 + ($1.score ?? 0) }
    }

    /// The highest possible clinical-communication total (15).
    public var scoreMax: Int { Rubric.clinicalMax }

    /// The result for the criterion with this name, if present.
    public subscript(criterion name: String) -> CriterionResult? {
        criteria.first { $0.name == name }
    }

    /// The assessment JSON of protocol/room.md; `fallback_reason` appears only when set.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "assessor": .string(assessor),
            "criteria": .array(criteria.map(\.json)),
            "score_raw": .number(Double(scoreRaw)),
            "score_max": .number(Double(scoreMax)),
            "summary": .string(summary),
            "strengths": .array(strengths.map(JSONValue.string)),
            "areas_for_improvement": .array(areasForImprovement.map(JSONValue.string)),
        ]
        if let fallbackReason { object["fallback_reason"] = .string(fallbackReason) }
        return .object(object)
    }

    /// Validates an answer of the assessment JSON's shape (typically a model's) and builds the
    /// assessment from it, strictly:
    ///
    /// - it is an object;
    /// - `criteria` is an array naming each of the nine criteria exactly once and no others;
    ///   each entry is an object whose `score` is an integer 0–3 (clinical) or an integer 0–6
    ///   or null (linguistic), whose `evidence` is an array of strings, whose `note` (optional)
    ///   is a string, and whose `kind` and `max` (optional) agree with the rubric;
    /// - `summary` is a non-empty string; `strengths` and `areas_for_improvement` are arrays
    ///   of strings.
    ///
    /// `assessor`, `score_raw`, `score_max` and `fallback_reason` in the answer are ignored: the
    /// assessor is the argument, the totals are recomputed. Criteria come out in rubric order.
    public init(validating json: JSONValue, assessor: String) throws(AssessmentError) {
        guard case .object(let object) = json else { throw .notAnObject }
        guard let criteriaValue = object["criteria"] else { throw .missing("criteria") }
        guard case .array(let entries) = criteriaValue else { throw .wrongType("criteria", expected: "an array") }

        var byName: [String: CriterionResult] = [:]
        for (index, entry) in entries.enumerated() {
            guard case .object(let fields) = entry else {
                throw .wrongType("criteria[\(index)]", expected: "an object")
            }
            guard case .string(let name)? = fields["name"] else {
                throw .wrongType("criteria[\(index)].name", expected: "a string")
            }
            guard let criterion = Rubric.criterion(named: name) else { throw .unknownCriterion(name) }
            guard byName[name] == nil else { throw .duplicateCriterion(name) }
            byName[name] = try Self.result(for: criterion, fields: fields)
        }
        if let lacking = Rubric.criteria.first(where: { byName[$0.name] == nil }) {
            throw .criteriaLacks(lacking.name)
        }

        guard let summaryValue = object["summary"] else { throw .missing("summary") }
        guard case .string(let summary) = summaryValue else { throw .wrongType("summary", expected: "a string") }
        guard summary.contains(where: { !$0.isWhitespace }) else { throw .emptySummary }

        self.init(
            assessor: assessor,
            criteria: Rubric.criteria.compactMap { byName[$0.name] },
            summary: summary,
            strengths: try Self.strings(object, "strengths"),
            areasForImprovement: try Self.strings(object, "areas_for_improvement")
        )
    }

    private static func result(for criterion: Criterion, fields: [String: JSONValue]) throws(AssessmentError) -> CriterionResult {
        let name = criterion.name
        if let kind = fields["kind"], kind != .string(criterion.kind.rawValue) {
            throw .invalid("\(name) kind must be \"\(criterion.kind.rawValue)\"")
        }
        if let max = fields["max"], max != .number(Double(criterion.max)) {
            throw .invalid("\(name) max must be \(criterion.max)")
        }

        let score: Int?
        switch fields["score"] {
        case nil:
            throw .missing("\(name) score")
        case .null?:
            guard criterion.kind == .linguistic else {
                throw .wrongType("\(name) score", expected: "an integer 0–\(criterion.max)")
            }
            score = nil
        case .number(let value)?:
            guard value.rounded() == value, abs(value) < 1e9 else {
                throw .wrongType("\(name) score", expected: "an integer 0–\(criterion.max)")
            }
            let integer = Int(value)
            guard (0...criterion.max).contains(integer) else {
                throw .scoreOutOfRange(name, score: integer, max: criterion.max)
            }
            score = integer
        case _?:
            throw .wrongType(
                "\(name) score",
                expected: criterion.kind == .clinical ? "an integer 0–\(criterion.max)" : "an integer 0–\(criterion.max) or null")
        }

        let evidence = try strings(fields, "evidence", label: "\(name) evidence")

        let note: String
        switch fields["note"] {
        case nil: note = ""
        case .string(let text)?: note = text
        case _?: throw .wrongType("\(name) note", expected: "a string")
        }

        return CriterionResult(
            name: name, kind: criterion.kind, max: criterion.max, score: score, evidence: evidence, note: note)
    }

    private static func strings(_ object: [String: JSONValue], _ key: String, label: String? = nil) throws(AssessmentError) -> [String] {
        let label = label ?? key
        guard let value = object[key] else { throw .missing(label) }
        guard case .array(let items) = value else { throw .wrongType(label, expected: "an array of strings") }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw .wrongType(label, expected: "an array of strings") }
            result.append(text)
        }
        return result
    }
}

/// Why an answer is not a valid assessment; `reason` says what is wrong, in one line.
public struct AssessmentError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public static let notAnObject = AssessmentError(reason: "the answer is not a JSON object")
    public static let emptySummary = AssessmentError(reason: "summary is empty")
    public static func missing(_ what: String) -> AssessmentError {
        AssessmentError(reason: "\(what) is missing")
    }
    public static func wrongType(_ what: String, expected: String) -> AssessmentError {
        AssessmentError(reason: "\(what) is not \(expected)")
    }
    public static func criteriaLacks(_ name: String) -> AssessmentError {
        AssessmentError(reason: "criteria lacks \(name)")
    }
    public static func unknownCriterion(_ name: String) -> AssessmentError {
        AssessmentError(reason: "criteria has an unknown criterion \"\(name.prefix(80))\"")
    }
    public static func duplicateCriterion(_ name: String) -> AssessmentError {
        AssessmentError(reason: "criteria lists \(name) more than once")
    }
    public static func scoreOutOfRange(_ name: String, score: Int, max: Int) -> AssessmentError {
        AssessmentError(reason: "\(name) score \(score) is outside 0–\(max)")
    }
    public static func invalid(_ reason: String) -> AssessmentError { AssessmentError(reason: reason) }

    public var description: String { reason }
}
