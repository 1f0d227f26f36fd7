/// A transparent, deterministic assessor that counts cue phrases in the candidate's turns.
///
/// How it scores:
///
/// - Only the candidate's turns are read (in `seq` order); the interlocutor's words are never
///   scored or quoted.
/// - Each turn is split into sentences. Each clinical criterion has a documented list of cues
///   (`cues(for:)`); a cue is a behaviour with a few phrases that show it, matched
///   case-insensitively (curly apostrophes count as straight ones) and on word boundaries, so
///   "hi" does not match "this" and "concern" does not match "concerning".
/// - The score is the number of distinct cues found: 0 for none, 1 for one, 2 for two or three,
///   3 for four or more found in at least two different turns (four or more in one turn
///   score 2). Information Gathering also counts "asking several questions" as a cue when the
///   candidate asked three or more questions (sentences ending in "?").
/// - Evidence is up to three of the sentences that matched (the first match of each cue, in
///   transcript order), each a verbatim extract of the candidate's turn of at most 200
///   characters.
/// - The four linguistic criteria are not judged (score nil) and the note says why.
public struct HeuristicAssessor {
    /// The assessor name the JSON carries.
    public static let name = "heuristic-v1"

    /// The most characters one evidence quote keeps.
    public static let maxQuoteLength = 200

    /// A behaviour the heuristic looks for, and the phrases that show it (lowercase,
    /// straight apostrophes).
    public struct Cue: Sendable, Equatable {
        /// What the behaviour is, as the notes and strengths name it ("introducing yourself").
        public let label: String
        public let phrases: [String]
        /// Each phrase's Unicode scalars, for ``HeuristicAssessor/containsPhrase(_:_:)``.
        let phraseScalars: [[Unicode.Scalar]]

        public init(_ label: String, _ phrases: [String]) {
            self.label = label
            self.phrases = phrases
            self.phraseScalars = phrases.map { Array($0.unicodeScalars) }
        }
    }

    /// Assesses the candidate's turns of `turns` against the nine OET criteria.
    public static func assess(_ turns: [TranscriptTurn], caseName: String?) -> Assessment {
        let candidateTurns = turns.filter { $0.role == .candidate }.sorted { $0.seq < $1.seq }
        let sentences = candidateTurns.enumerated().flatMap { index, turn in
            Self.sentences(of: turn.text).map { Sentence(turnIndex: index, text: $0) }
        }

        var results: [CriterionResult] = []
        var strengths: [String] = []
        var areas: [String] = []
        for criterion in Rubric.criteria {
            guard criterion.kind == .clinical else {
                results.append(CriterionResult(
                    name: criterion.name, kind: criterion.kind, max: criterion.max, score: nil, evidence: [],
                    note: linguisticNote(criterion.name)))
                continue
            }
            let found = findCues(cues(for: criterion.name), in: sentences, criterion: criterion.name)
            let turnsWithCues = Set(found.map(\.sentence.turnIndex)).count
            let score: Int
            switch found.count {
            case 0: score = 0
            case 1: score = 1
            case 2...3: score = 2
            default: score = turnsWithCues >= 2 ? 3 : 2
            }
            var evidence: [String] = []
            for match in found.sorted(by: { $0.order < $1.order }) where evidence.count < 3 {
                let quote = Self.quote(match.sentence.text)
                if !evidence.contains(quote) { evidence.append(quote) }
            }
            let labels = found.map(\.cue.label)
            results.append(CriterionResult(
                name: criterion.name, kind: .clinical, max: criterion.max, score: score, evidence: evidence,
                note: clinicalNote(criterion.name, labels: labels, score: score, turnsWithCues: turnsWithCues)))
            if score >= 2 {
                strengths.append("\(criterion.name) (\(score)/\(criterion.max)): \(sentenceCase(list(labels))).")
            }
            if score <= 1 {
                areas.append("\(criterion.name) (\(score)/\(criterion.max)): \(advice(criterion.name))")
            }
        }
        if strengths.isEmpty {
            strengths.append("No clinical-communication criterion stood out: none scored 2 or more.")
        }

        let assessment = Assessment(
            assessor: name, criteria: results, summary: "", strengths: strengths, areasForImprovement: areas)
        var summary: String
        let subject = caseName.map { " in \"\($0)\"" } ?? ""
        if candidateTurns.isEmpty {
            summary = "No candidate turns to assess\(subject): every clinical-communication criterion scores 0, "
                + "clinical communication 0/\(assessment.scoreMax)."
        } else {
            let count = candidateTurns.count
            summary = "Assessed \(count) candidate turn\(count == 1 ? "" : "s")\(subject): "
                + "clinical communication \(assessment.scoreRaw)/\(assessment.scoreMax)."
        }
        summary += " This is a heuristic that counts cue phrases in the transcript; the linguistic criteria are not judged."
        var result = assessment
        result.summary = summary
        return result
    }

    // MARK: - Cues

    /// The cues each clinical criterion looks for (empty for linguistic criteria).
    public static func cues(for criterion: String) -> [Cue] {
        switch criterion {
        case Rubric.relationshipBuilding: relationshipCues
        case Rubric.patientsPerspective: perspectiveCues
        case Rubric.providingStructure: structureCues
        case Rubric.informationGathering: gatheringCues
        case Rubric.informationGiving: givingCues
        default: []
        }
    }

    static let relationshipCues: [Cue] = [
        Cue("greeting the patient", [
            "hello", "hi", "good morning", "good afternoon", "good evening", "nice to meet", "pleased to meet",
            "welcome",
        ]),
        Cue("introducing yourself", [
            "my name is", "i'm dr", "i am dr", "i'm doctor", "i am doctor", "i'm one of the", "i am one of the",
            "i'm the nurse", "i am the nurse", "i'm your nurse", "i am your nurse", "i'm the pharmacist",
            "i am the pharmacist", "i'm the physiotherapist", "i am the physiotherapist", "i'm the dentist",
            "i am the dentist", "i'm the doctor", "i am the doctor", "i'm your doctor", "i am your doctor",
        ]),
        Cue("showing empathy", [
            "i understand", "i can understand", "i can see that", "i can see how", "sorry to hear",
            "that must be", "must be difficult", "must be hard", "must be very", "that sounds difficult",
            "that sounds hard", "that sounds worrying", "i appreciate",
        ]),
        Cue("asking permission", [
            "is it ok if", "is it okay if", "is that ok", "is that okay", "is that alright", "is that all right",
            "do you mind if", "would you mind", "may i", "would it be ok", "would it be okay",
        ]),
        Cue("addressing the patient by name", [
            "mr", "mrs", "ms", "what would you like me to call you", "what should i call you",
            "can i confirm your name", "can i check your name", "could you confirm your name",
        ]),
        Cue("thanking the patient", ["thank you for", "thanks for"]),
    ]

    static let perspectiveCues: [Cue] = [
        Cue("asking about feelings", [
            "how do you feel", "how are you feeling", "how does that make you feel", "how has this affected",
            "how is this affecting", "how are you coping",
        ]),
        Cue("exploring worries and concerns", [
            "what worries you", "are you worried", "is anything worrying you", "anything worrying you",
            "concern", "concerns", "concerned", "what's worrying you", "what is worrying you", "worried about",
        ]),
        Cue("eliciting the patient's ideas", [
            "what do you think", "what you think", "do you have any ideas", "any idea what", "what do you know about",
            "what have you heard", "what do you understand about",
        ]),
        Cue("eliciting expectations", [
            "what were you hoping", "what are you hoping", "were you hoping", "what would you like",
            "what do you expect", "what are you expecting", "what were you expecting",
        ]),
        Cue("exploring the impact on daily life", [
            "daily life", "day to day", "day-to-day", "affect your", "affecting your", "affected your",
            "impact on", "at work", "your work", "at home",
        ]),
        Cue("picking up on what the patient said", [
            "you mentioned", "you said", "as you said", "it sounds like you", "i hear that",
            "if i understand you",
        ]),
    ]

    static let structureCues: [Cue] = [
        // Bare "first" and "next" are left out: "when did you first notice" and "next week" are
        // not signposts.
        Cue("opening with a signpost", [
            "first of all", "firstly", "to start with", "to begin with", "let's start", "let me start",
            "i'd like to start", "i would like to start", "i'd like to begin", "i would like to begin",
        ]),
        Cue("setting out a plan for the conversation", [
            "what i'd like to do", "what i would like to do", "i'd like to go through", "i would like to go through",
            "we'll go through", "we will go through", "i'm going to ask", "i am going to ask",
            "a few questions", "some questions", "the plan for today",
        ]),
        Cue("signposting a change of topic", [
            "next,", "next i", "next let", "next we", "moving on", "now i'd like to", "now i would like to",
            "now let's", "now, let's", "i'd like to move on", "i would like to move on", "can we talk about",
            "let's talk about", "turning to", "i'd now like", "i would now like",
        ]),
        Cue("summarising", [
            "to summarise", "to summarize", "let me summarise", "let me summarize", "summarise", "summarize",
            "to sum up", "to recap", "in summary", "just to recap",
        ]),
        Cue("closing the conversation", [
            "before we finish", "before you go", "to finish", "to wrap up", "before we end", "before we close",
        ]),
    ]

    static let gatheringCues: [Cue] = [
        Cue("open invitations to talk", [
            "can you tell me", "could you tell me", "tell me more", "tell me about", "can you describe",
            "could you describe", "what brings you", "what brought you",
        ]),
        Cue("asking about timing", [
            "how long", "when did", "when does", "when do", "since when", "how often",
        ]),
        Cue("asking what happened", ["what happened", "what were you doing", "what made you"]),
        Cue("exploring the symptom in detail", [
            "where exactly", "what makes it", "does anything make", "how bad", "on a scale", "what is it like",
            "what's it like", "does it spread", "does it go",
        ]),
        Cue("asking about history and medication", [
            "have you had", "have you noticed", "are you taking", "any medication", "any medications",
            "any allergies", "family history", "do you smoke", "how much do you drink",
        ]),
        Cue("checking for anything else", ["anything else", "is there anything else", "any other"]),
    ]

    static let givingCues: [Cue] = [
        Cue("explaining the condition", [
            "this means", "that means", "it means", "which means", "it is caused", "it's caused", "is caused by",
            "the reason", "it's called", "it is called", "is a condition", "the results show",
            "the test showed", "the tests showed",
        ]),
        Cue("recommending or advising", [
            "i recommend", "i would recommend", "i'd recommend", "i suggest", "i'd suggest", "i would suggest",
            "you should", "i advise", "i'd advise", "i would advise", "it's important to", "it is important to",
        ]),
        Cue("explaining the treatment or plan", [
            "the treatment", "we will", "we'll", "the plan is", "the next step", "i'm going to prescribe",
            "i will prescribe", "i'll prescribe", "we need to", "we can",
        ]),
        Cue("checking understanding", [
            "does that make sense", "any questions", "is that clear", "do you understand",
            "can you tell me what you understand", "what you understand", "in your own words",
        ]),
        Cue("safety-netting", [
            "if it gets worse", "if things get worse", "come back if", "come back and see", "seek medical",
            "go to the emergency", "call an ambulance", "call 999", "call 911", "call 000",
        ]),
        Cue("offering written information", ["leaflet", "information sheet", "brochure"]),
    ]

    // MARK: - Matching

    struct Sentence {
        let turnIndex: Int
        let text: String
        /// The text normalized (``normalize(_:)``), as Unicode scalars: made once per
        /// sentence, not once per phrase looked for.
        let scalars: [Unicode.Scalar]

        init(turnIndex: Int, text: String) {
            self.turnIndex = turnIndex
            self.text = text
            self.scalars = Array(normalize(text).unicodeScalars)
        }
    }

    struct Match {
        let cue: Cue
        let sentence: Sentence
        let order: Int
    }

    /// The first matching sentence of each cue found, in cue order.
    static func findCues(_ cues: [Cue], in sentences: [Sentence], criterion: String) -> [Match] {
        var matches: [Match] = []
        for cue in cues {
            if let index = sentences.firstIndex(where: { sentence in
                cue.phraseScalars.contains { containsPhrase(sentence.scalars, $0) }
            }) {
                matches.append(Match(cue: cue, sentence: sentences[index], order: index))
            }
        }
        if criterion == Rubric.informationGathering {
            let questions = sentences.indices.filter { sentences[$0].text.hasSuffix("?") }
            if questions.count >= 3, let first = questions.first {
                matches.append(Match(
                    cue: Cue("asking several questions (\(questions.count))", []), sentence: sentences[first],
                    order: first))
            }
        }
        return matches
    }

    /// Lowercased, with curly apostrophes made straight and runs of whitespace made one space.
    static func normalize(_ text: String) -> String {
        var result = ""
        var lastWasSpace = false
        for character in text.lowercased() {
            if character.isWhitespace {
                if !lastWasSpace { result.append(" ") }
                lastWasSpace = true
                continue
            }
            lastWasSpace = false
            switch character {
            case "\u{2019}", "\u{2018}", "`": result.append("'")
            case "\u{2010}", "\u{2011}": result.append("-")
            default: result.append(character)
            }
        }
        return result
    }

    /// Whether `phrase` occurs in `text` with a word boundary at each end that is a letter or
    /// digit (so "hi" is not found in "this", but "next," is found in "next, …").
    static func containsPhrase(_ text: String, _ phrase: String) -> Bool {
        containsPhrase(Array(text.unicodeScalars), Array(phrase.unicodeScalars))
    }

    /// ``containsPhrase(_:_:)-(String,String)`` on scalars made beforehand.
    static func containsPhrase(_ haystack: [Unicode.Scalar], _ needle: [Unicode.Scalar]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return false }
        let checkStart = isWordScalar(needle[0])
        let checkEnd = isWordScalar(needle[needle.count - 1])
        var start = 0
        while start + needle.count <= haystack.count {
            if haystack[start] == needle[0], haystack[start..<start + needle.count].elementsEqual(needle) {
                let end = start + needle.count
                let startOK = !checkStart || start == 0 || !isWordScalar(haystack[start - 1])
                let endOK = !checkEnd || end == haystack.count || !isWordScalar(haystack[end])
                if startOK && endOK { return true }
            }
            start += 1
        }
        return false
    }

    /// A letter or digit: alphabetic, or with a numeric type. ASCII (most of any transcript) is
    /// decided by range; Unicode's property tables are asked only beyond it.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            let folded = value | 0x20
            return (0x30...0x39).contains(value) || (0x61...0x7A).contains(folded)
        }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    /// The sentences of a turn: split after ".", "!", "?" or "…" followed by whitespace (not
    /// after "Dr.", "Mr.", "Mrs.", "Ms.", "e.g.", "i.e."), and at line breaks; each trimmed,
    /// each a verbatim extract of the turn.
    static func sentences(of text: String) -> [String] {
        let abbreviations: Set<String> = ["dr", "mr", "mrs", "ms", "e.g", "i.e", "st", "vs", "approx"]
        var result: [String] = []
        var current = ""
        let characters = Array(text)
        func flush() {
            let trimmed = trim(current)
            if !trimmed.isEmpty { result.append(trimmed) }
            current = ""
        }
        for (index, character) in characters.enumerated() {
            if character.isNewline {
                flush()
                continue
            }
            current.append(character)
            guard ".!?…".contains(character) else { continue }
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            guard next == nil || next!.isWhitespace else { continue }
            if character == "." {
                let lastWord = current.dropLast().split(whereSeparator: { $0.isWhitespace }).last.map {
                    String($0).lowercased()
                } ?? ""
                if abbreviations.contains(lastWord) { continue }
            }
            flush()
        }
        flush()
        return result
    }

    static func trim(_ text: String) -> String {
        var slice = Substring(text)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }

    /// The sentence itself, or its first `maxQuoteLength` characters (a verbatim prefix).
    static func quote(_ sentence: String) -> String {
        sentence.count <= maxQuoteLength ? sentence : trim(String(sentence.prefix(maxQuoteLength)))
    }

    // MARK: - Words

    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        case 2: "\(items[0]) and \(items[1])"
        default: items.dropLast().joined(separator: ", ") + " and " + items[items.count - 1]
        }
    }

    static func sentenceCase(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst()
    }

    static func clinicalNote(_ criterion: String, labels: [String], score: Int, turnsWithCues: Int) -> String {
        switch labels.count {
        case 0:
            return "0 cues found: no sign of \(list(cues(for: criterion).map(\.label))) in the candidate's turns."
        case 1:
            return "1 cue found: \(labels[0])."
        default:
            var note = "\(labels.count) cues found: \(list(labels))."
            if labels.count >= 4 && score < 3 {
                note += " All were in one turn; 3 needs cues in at least two turns."
            } else if score == 2 {
                note += " 3 needs four or more cues across at least two turns."
            }
            return note
        }
    }

    static func advice(_ criterion: String) -> String {
        switch criterion {
        case Rubric.relationshipBuilding:
            "greet the patient, introduce yourself by name and role, ask permission before you start, and "
                + "acknowledge their feelings (\"I can see this has been worrying you\")."
        case Rubric.patientsPerspective:
            "ask what the patient thinks is going on, what worries them and what they hope for "
                + "(\"What worries you most about this?\"), and refer back to what they told you."
        case Rubric.providingStructure:
            "tell the patient what you will do first (\"First of all, I'd like to ask a few questions\"), "
                + "signpost each change of topic (\"Now I'd like to talk about…\") and summarise before you finish."
        case Rubric.informationGathering:
            "start with open questions (\"Can you tell me more about…?\"), then ask about timing, details "
                + "and history, and finish with \"Is there anything else?\"."
        case Rubric.informationGiving:
            "explain the condition and the plan in plain words (\"This means…\", \"I recommend…\"), "
                + "then check understanding (\"Does that make sense?\") and say when to come back."
        default:
            ""
        }
    }

    static func linguisticNote(_ criterion: String) -> String {
        switch criterion {
        case Rubric.intelligibility:
            "not judged: needs the audio (pronunciation, stress, intonation), a text transcript cannot show it"
        case Rubric.fluency:
            "not judged: needs the audio (rate, rhythm, hesitation), a text transcript cannot show it"
        case Rubric.appropriateness:
            "not judged: needs an examiner's judgement of register and tone, which this heuristic does not attempt"
        case Rubric.grammarAndExpression:
            "not judged: needs an examiner's judgement of grammatical accuracy and range, which this heuristic does not attempt"
        default:
            "not judged"
        }
    }
}
