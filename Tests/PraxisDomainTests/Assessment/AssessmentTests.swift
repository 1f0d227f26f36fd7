import Testing

@testable import PraxisDomain

@Suite("Assessment")
struct AssessmentTests {
    var sample: Assessment { HeuristicAssessor.assess(strongTranscript, caseName: "Chest pain") }

    @Test func jsonHasTheProtocolShape() throws {
        var assessment = HeuristicAssessor.assess([candidate(1, "Hello, my name is Dr Lee.")], caseName: nil)
        guard case .object(let object) = assessment.json else { Issue.record("not an object"); return }
        #expect(Set(object.keys) == ["assessor", "criteria", "score_raw", "score_max", "summary", "strengths", "areas_for_improvement"])
        #expect(object["assessor"] == .string("heuristic-v1"))
        #expect(object["score_raw"] == .number(2))
        #expect(object["score_max"] == .number(15))
        guard case .array(let criteria)? = object["criteria"] else { Issue.record("no criteria"); return }
        #expect(criteria.count == 9)
        #expect(criteria[0] == .object([
            "name": .string("Relationship Building"), "kind": .string("clinical"), "max": .number(3), "score": .number(2),
            "evidence": .array([.string("Hello, my name is Dr Lee.")]),
            "note": .string("2 cues found: greeting the patient and introducing yourself. 3 needs four or more cues across at least two turns."),
        ]))
        guard case .object(let fluency) = criteria[6] else { Issue.record("no fluency"); return }
        #expect(fluency["name"] == .string("Fluency"))
        #expect(fluency["kind"] == .string("linguistic"))
        #expect(fluency["max"] == .number(6))
        #expect(fluency["score"] == .null)
        #expect(fluency["evidence"] == .array([]))

        assessment.fallbackReason = "the model endpoint answered 500"
        guard case .object(let withReason) = assessment.json else { Issue.record("not an object"); return }
        #expect(withReason["fallback_reason"] == .string("the model endpoint answered 500"))
        #expect(assessment.json.jsonString.contains(#""score":null"#))
    }

    @Test func jsonRoundTripsThroughValidation() throws {
        for assessment in [sample, HeuristicAssessor.assess([], caseName: nil)] {
            let back = try Assessment(validating: assessment.json, assessor: "heuristic-v1")
            #expect(back == assessment)
        }
        let renamed = try Assessment(validating: sample.json, assessor: "chat:m")
        #expect(renamed.assessor == "chat:m")
    }

    @Test func validationAcceptsLinguisticScoresOrderAndOmittedKindMaxNote() throws {
        var json = sample.json
        json = mapCriteria(json) { entries in
            entries.reversed().map { entry in
                guard case .object(var fields) = entry else { return entry }
                fields["kind"] = nil
                fields["max"] = nil
                fields["note"] = nil
                if fields["score"] == .null { fields["score"] = .number(5) }
                return .object(fields)
            }
        }
        let assessment = try Assessment(validating: json, assessor: "chat:m")
        #expect(assessment.criteria.map(\.name) == Rubric.criteria.map(\.name))
        #expect(assessment[criterion: "Fluency"]?.score == 5)
        #expect(assessment[criterion: "Fluency"]?.kind == .linguistic)
        #expect(assessment[criterion: "Fluency"]?.note == "")
        #expect(assessment.scoreRaw == 15)
    }

    @Test(arguments: [
        Case("not an object", { _ in .array([]) }, "the answer is not a JSON object"),
        Case("no criteria", { set($0, "criteria", nil) }, "criteria is missing"),
        Case("criteria not an array", { set($0, "criteria", .string("x")) }, "criteria is not an array"),
        Case("missing criterion", { json in mapCriteria(json) { $0.filter { name(of: $0) != "Fluency" } } }, "criteria lacks Fluency"),
        Case("extra criterion", { json in mapCriteria(json) { $0 + [criterion("Empathy", .number(1))] } },
             "criteria has an unknown criterion \"Empathy\""),
        Case("duplicate criterion", { json in mapCriteria(json) { $0 + [$0[0]] } },
             "criteria lists Relationship Building more than once"),
        Case("clinical score too high", { setScore($0, "Providing Structure", .number(4)) }, "Providing Structure score 4 is outside 0–3"),
        Case("clinical score negative", { setScore($0, "Providing Structure", .number(-1)) }, "Providing Structure score -1 is outside 0–3"),
        Case("linguistic score too high", { setScore($0, "Fluency", .number(7)) }, "Fluency score 7 is outside 0–6"),
        Case("clinical score null", { setScore($0, "Information Giving", .null) }, "Information Giving score is not an integer 0–3"),
        Case("fractional score", { setScore($0, "Information Giving", .number(2.5)) }, "Information Giving score is not an integer 0–3"),
        Case("string score", { setScore($0, "Information Giving", .string("2")) }, "Information Giving score is not an integer 0–3"),
        Case("bool linguistic score", { setScore($0, "Fluency", .bool(true)) }, "Fluency score is not an integer 0–6 or null"),
        Case("missing score", { setField($0, "Fluency", "score", nil) }, "Fluency score is missing"),
        Case("evidence not strings", { setField($0, "Fluency", "evidence", .array([.number(1)])) }, "Fluency evidence is not an array of strings"),
        Case("evidence missing", { setField($0, "Fluency", "evidence", nil) }, "Fluency evidence is missing"),
        Case("note not a string", { setField($0, "Fluency", "note", .number(1)) }, "Fluency note is not a string"),
        Case("wrong kind", { setField($0, "Fluency", "kind", .string("clinical")) }, "Fluency kind must be \"linguistic\""),
        Case("wrong max", { setField($0, "Fluency", "max", .number(3)) }, "Fluency max must be 6"),
        Case("criterion entry not an object", { json in mapCriteria(json) { [.string("x")] + $0 } }, "criteria[0] is not an object"),
        Case("criterion name missing", { json in mapCriteria(json) { [.object([:])] + $0 } }, "criteria[0].name is not a string"),
        Case("empty summary", { set($0, "summary", .string("  ")) }, "summary is empty"),
        Case("summary missing", { set($0, "summary", nil) }, "summary is missing"),
        Case("summary not a string", { set($0, "summary", .number(3)) }, "summary is not a string"),
        Case("strengths not an array", { set($0, "strengths", .string("good")) }, "strengths is not an array of strings"),
        Case("areas missing", { set($0, "areas_for_improvement", nil) }, "areas_for_improvement is missing"),
        Case("areas with a number", { set($0, "areas_for_improvement", .array([.number(1)])) }, "areas_for_improvement is not an array of strings"),
    ])
    func validationFailuresSayWhy(_ test: Case) {
        let json = test.mutate(HeuristicAssessor.assess(strongTranscript, caseName: nil).json)
        #expect(throws: AssessmentError(reason: test.reason), "\(test.label)") {
            try Assessment(validating: json, assessor: "chat:m")
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let label: String
        let mutate: @Sendable (JSONValue) -> JSONValue
        let reason: String
        init(_ label: String, _ mutate: @escaping @Sendable (JSONValue) -> JSONValue, _ reason: String) {
            self.label = label
            self.mutate = mutate
            self.reason = reason
        }
        var testDescription: String { label }
    }
}

func set(_ json: JSONValue, _ key: String, _ value: JSONValue?) -> JSONValue {
    guard case .object(var object) = json else { return json }
    object[key] = value
    return .object(object)
}

func mapCriteria(_ json: JSONValue, _ transform: ([JSONValue]) -> [JSONValue]) -> JSONValue {
    guard case .object(let object) = json, case .array(let entries)? = object["criteria"] else { return json }
    return set(json, "criteria", .array(transform(entries)))
}

func name(of entry: JSONValue) -> String? {
    guard case .object(let fields) = entry, case .string(let name)? = fields["name"] else { return nil }
    return name
}

func setField(_ json: JSONValue, _ criterion: String, _ key: String, _ value: JSONValue?) -> JSONValue {
    mapCriteria(json) { entries in
        entries.map { entry in
            guard name(of: entry) == criterion, case .object(var fields) = entry else { return entry }
            fields[key] = value
            return .object(fields)
        }
    }
}

func setScore(_ json: JSONValue, _ criterion: String, _ score: JSONValue) -> JSONValue {
    setField(json, criterion, "score", score)
}

func criterion(_ name: String, _ score: JSONValue) -> JSONValue {
    .object(["name": .string(name), "kind": .string("clinical"), "max": .number(3), "score": score, "evidence": .array([]), "note": .string("")])
}
