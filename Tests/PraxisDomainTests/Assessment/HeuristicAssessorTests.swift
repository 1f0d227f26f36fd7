import Testing

@testable import PraxisDomain

/// A candidate who does everything the rubric asks, and a patient who says cue phrases too.
let strongTranscript: [TranscriptTurn] = [
    candidate(1, "Good morning, my name is Dr Lee, I'm one of the doctors on the ward. Is it ok if I ask you a few questions about your chest pain?"),
    patient(2, "Hello doctor, my name is Sam. I understand. Yes, fine, I'm really worried it's my heart."),
    candidate(3, "I understand, that must be very frightening. First of all, can you tell me what happened this morning? How long have you had the pain?"),
    patient(4, "It started two hours ago while I was gardening. Can you tell me what this means?"),
    candidate(5, "Thank you for telling me. Where exactly is the pain, and does it spread anywhere? Have you had anything like this before?"),
    patient(6, "It's in the middle of my chest. No, never."),
    candidate(7, "Now I'd like to ask about what you think is going on. What worries you most about this? How is this affecting your work?"),
    patient(8, "I'm scared I'll lose my job."),
    candidate(9, "You mentioned your job, that must be hard. What were you hoping we could do today? We will look after you."),
    patient(10, "Just to know what's wrong."),
    candidate(11, "Let me summarise. The pain may be coming from your heart, which means we need to do an ECG and some blood tests. I recommend that you stay in hospital tonight. Does that make sense? If it gets worse, call the nurse straight away."),
]

func candidate(_ seq: Int, _ text: String) -> TranscriptTurn {
    TranscriptTurn(seq: seq, role: .candidate, speakerID: "cand", text: text)
}

func patient(_ seq: Int, _ text: String) -> TranscriptTurn {
    TranscriptTurn(seq: seq, role: .interlocutor, speakerID: "actor", text: text)
}

@Suite("HeuristicAssessor")
struct HeuristicAssessorTests {
    @Test func strongCandidateScoresAtLeastTwoEverywhereWithVerbatimEvidence() {
        let assessment = HeuristicAssessor.assess(strongTranscript, caseName: "Chest pain")
        #expect(assessment.assessor == "heuristic-v1")
        #expect(assessment.fallbackReason == nil)
        let candidateTexts = strongTranscript.filter { $0.role == .candidate }.map(\.text)
        let patientTexts = strongTranscript.filter { $0.role == .interlocutor }.map(\.text)
        for result in assessment.criteria where result.kind == .clinical {
            let score = try! #require(result.score)
            #expect(score >= 2, "\(result.name): \(result.note)")
            #expect(!result.evidence.isEmpty, "\(result.name)")
            #expect(result.evidence.count <= 3)
            for quote in result.evidence {
                #expect(candidateTexts.contains { $0.contains(quote) }, "\(result.name): \(quote)")
                #expect(!patientTexts.contains { $0.contains(quote) }, "\(result.name): \(quote)")
            }
            #expect(result.note.contains("cues found"))
        }
        #expect(assessment[criterion: Rubric.relationshipBuilding]?.score == 3)
        #expect(assessment[criterion: Rubric.providingStructure]?.score == 3)
        #expect(assessment[criterion: Rubric.informationGathering]?.score == 3)
        #expect(assessment[criterion: Rubric.informationGiving]?.score == 3)
        #expect(assessment[criterion: Rubric.patientsPerspective]?.score == 3)
        #expect(assessment.scoreRaw == 15)
        #expect(assessment.scoreMax == 15)
        #expect(assessment.summary.contains("6 candidate turns"))
        #expect(assessment.summary.contains("15/15"))
        #expect(assessment.summary.contains("heuristic"))
        #expect(assessment.summary.contains("Chest pain"))
        #expect(assessment.strengths.count == 5)
        #expect(assessment.areasForImprovement.isEmpty)
    }

    @Test func relationshipEvidenceQuotesTheMatchingSentences() {
        let assessment = HeuristicAssessor.assess(strongTranscript, caseName: nil)
        let result = try! #require(assessment[criterion: Rubric.relationshipBuilding])
        #expect(result.evidence.first == "Good morning, my name is Dr Lee, I'm one of the doctors on the ward.")
        #expect(result.evidence.contains("I understand, that must be very frightening."))
        #expect(result.note.hasPrefix("5 cues found: greeting the patient, introducing yourself"))
    }

    @Test func allNineCriteriaAlwaysPresentWithLinguisticNotJudged() {
        for turns in [strongTranscript, [], [patient(1, "Hello")]] {
            let assessment = HeuristicAssessor.assess(turns, caseName: nil)
            #expect(assessment.criteria.map(\.name) == Rubric.criteria.map(\.name))
            #expect(assessment.criteria.map(\.max) == [3, 3, 3, 3, 3, 6, 6, 6, 6])
            for result in assessment.criteria where result.kind == .linguistic {
                #expect(result.score == nil)
                #expect(result.evidence.isEmpty)
                #expect(result.note.hasPrefix("not judged: needs "))
            }
        }
        let assessment = HeuristicAssessor.assess([], caseName: nil)
        #expect(assessment[criterion: Rubric.intelligibility]?.note.contains("audio") == true)
        #expect(assessment[criterion: Rubric.fluency]?.note.contains("audio") == true)
        #expect(assessment[criterion: Rubric.appropriateness]?.note.contains("register") == true)
        #expect(assessment[criterion: Rubric.grammarAndExpression]?.note.contains("grammatical accuracy") == true)
    }

    @Test func emptyTranscriptScoresZeroAndSaysSo() {
        let assessment = HeuristicAssessor.assess([], caseName: nil)
        #expect(assessment.scoreRaw == 0)
        for result in assessment.criteria where result.kind == .clinical {
            #expect(result.score == 0)
            #expect(result.evidence.isEmpty)
            #expect(result.note.hasPrefix("0 cues found"))
        }
        #expect(assessment.summary.hasPrefix("No candidate turns to assess"))
        #expect(assessment.summary.contains("0/15"))
        #expect(assessment.strengths == ["No clinical-communication criterion stood out: none scored 2 or more."])
        #expect(assessment.areasForImprovement.count == 5)
    }

    @Test func interlocutorWordsAreNeverScored() {
        let onlyPatient = strongTranscript.filter { $0.role == .interlocutor }
        let assessment = HeuristicAssessor.assess(onlyPatient, caseName: nil)
        #expect(assessment.scoreRaw == 0)
        #expect(assessment.criteria.allSatisfy { $0.evidence.isEmpty })
        #expect(assessment.summary.hasPrefix("No candidate turns to assess"))
    }

    @Test func weakCandidateGetsConcreteAdvice() {
        let turns = [candidate(1, "Take this tablet twice a day."), patient(2, "Why?"), candidate(3, "Any questions?")]
        let assessment = HeuristicAssessor.assess(turns, caseName: nil)
        #expect(assessment[criterion: Rubric.relationshipBuilding]?.score == 0)
        let giving = try! #require(assessment[criterion: Rubric.informationGiving])
        #expect(giving.score == 1)
        #expect(giving.evidence == ["Any questions?"])
        #expect(giving.note == "1 cue found: checking understanding.")
        #expect(assessment.areasForImprovement.count == 5)
        #expect(assessment.areasForImprovement.contains { $0.hasPrefix("Relationship Building (0/3): greet the patient") })
        #expect(assessment.areasForImprovement.contains { $0.hasPrefix("Information Giving (1/3): ") })
        #expect(assessment.summary.contains("2 candidate turns"))
        #expect(assessment.summary.contains("1/15"))
    }

    @Test func fourCuesInOneTurnScoreTwoNotThree() {
        let turns = [candidate(1, "Hello, my name is Dr Lee. I understand this is hard. Is it ok if we talk?")]
        let result = try! #require(HeuristicAssessor.assess(turns, caseName: nil)[criterion: Rubric.relationshipBuilding])
        #expect(result.score == 2)
        #expect(result.note.contains("4 cues found"))
        #expect(result.note.contains("at least two turns"))
    }

    @Test func scoreBands() {
        func relationship(_ texts: [String]) -> Int? {
            let turns = texts.enumerated().map { candidate($0.offset, $0.element) }
            return HeuristicAssessor.assess(turns, caseName: nil)[criterion: Rubric.relationshipBuilding]?.score
        }
        #expect(relationship(["The weather is nice."]) == 0)
        #expect(relationship(["Hello."]) == 1)
        #expect(relationship(["Hello, my name is Sam."]) == 2)
        #expect(relationship(["Hello, my name is Sam.", "I understand. Thanks for coming."]) == 3)
    }

    @Test func matchingIsCaseInsensitiveAndWordBoundaryAware() {
        #expect(HeuristicAssessor.containsPhrase(HeuristicAssessor.normalize("HI there"), "hi"))
        #expect(!HeuristicAssessor.containsPhrase(HeuristicAssessor.normalize("This is history"), "hi"))
        #expect(!HeuristicAssessor.containsPhrase("that is concerning", "concern"))
        #expect(HeuristicAssessor.containsPhrase("any concern?", "concern"))
        #expect(HeuristicAssessor.containsPhrase(HeuristicAssessor.normalize("I\u{2019}m  Dr Lee"), "i'm dr"))
        #expect(HeuristicAssessor.containsPhrase("next, your tablets", "next,"))
        #expect(!HeuristicAssessor.containsPhrase("admr", "mr"))
    }

    @Test func sentencesAreVerbatimAndKeepTitles() {
        let text = "Hello, I'm Dr. Lee.  How are you?\nFine! It costs 2.5 pounds"
        #expect(HeuristicAssessor.sentences(of: text) == ["Hello, I'm Dr. Lee.", "How are you?", "Fine!", "It costs 2.5 pounds"])
    }

    @Test func longEvidenceIsAVerbatimPrefixOfAtMost200Characters() {
        let long = "Hello, my name is Dr Lee and " + String(repeating: "I will explain everything carefully ", count: 10)
        let result = try! #require(HeuristicAssessor.assess([candidate(1, long)], caseName: nil)[criterion: Rubric.relationshipBuilding])
        let quote = try! #require(result.evidence.first)
        #expect(quote.count <= 200)
        #expect(long.hasPrefix(quote))
    }

    @Test func questionCountIsACue() {
        let turns = [candidate(1, "Is it sore? Is it red? Is it hot?")]
        let result = try! #require(HeuristicAssessor.assess(turns, caseName: nil)[criterion: Rubric.informationGathering])
        #expect(result.score == 1)
        #expect(result.note == "1 cue found: asking several questions (3).")
        #expect(result.evidence == ["Is it sore?"])
    }

    @Test func isDeterministic() {
        #expect(HeuristicAssessor.assess(strongTranscript, caseName: "x") == HeuristicAssessor.assess(strongTranscript, caseName: "x"))
        let shuffled = strongTranscript.reversed().map { $0 }
        #expect(HeuristicAssessor.assess(shuffled, caseName: "x") == HeuristicAssessor.assess(strongTranscript, caseName: "x"))
    }

    @Test func everyClinicalCriterionHasCuesAndAdvice() {
        for criterion in Rubric.criteria {
            #expect(HeuristicAssessor.cues(for: criterion.name).isEmpty == (criterion.kind == .linguistic))
            #expect(HeuristicAssessor.advice(criterion.name).isEmpty == (criterion.kind == .linguistic))
        }
        #expect(Rubric.criteria.count == 9)
        #expect(Rubric.clinicalMax == 15)
    }

    /// The ASCII fast path answers as Unicode's properties do, for every ASCII scalar and
    /// some beyond it.
    @Test func wordScalarsAreLettersAndDigits() {
        let others: [Unicode.Scalar] = ["é", "ß", "漢", "٣", "½", "—", "\u{2019}", "😀", "\u{A0}"]
        for scalar in (0..<0x80).compactMap(Unicode.Scalar.init) + others {
            let expected = scalar.properties.isAlphabetic || scalar.properties.numericType != nil
            #expect(HeuristicAssessor.isWordScalar(scalar) == expected, "\(scalar.escaped(asASCII: true))")
        }
    }
}
