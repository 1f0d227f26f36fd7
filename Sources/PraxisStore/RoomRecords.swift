/// One journaled room event: what both peers were sent, with its room offset.
public struct RoomEventRecord: Sendable, Equatable {
    /// Strictly increasing within the room, from 1.
    public var offset: Int64
    /// The event name (`turn`, `phase`, `presence`, …).
    public var type: String
    public var round: Int?
    /// The client id of a turn (unique per room, round and speaker).
    public var clientID: String?
    /// Whom the event is about: a turn's speaker; the user of `presence`, `ready`, `left`
    /// and `no_show` (the store finds presence and no-shows by it).
    public var userID: String?
    /// The turn's seq, for turns.
    public var seq: Int?
    /// The event's payload as sent (a JSON object, `offset` and `at` included).
    public var payloadJSON: String
    public var at: String

    public init(offset: Int64, type: String, round: Int?, clientID: String?, seq: Int?, payloadJSON: String, at: String, userID: String? = nil) {
        self.userID = userID
        self.offset = offset
        self.type = type
        self.round = round
        self.clientID = clientID
        self.seq = seq
        self.payloadJSON = payloadJSON
        self.at = at
    }
}

/// A round that ended: written as one `practice_rounds` row together with the room's round
/// id and stage, in the transaction that journals the end. The row's transcript is built
/// there from the round's journaled `turn` events (after its last `round_cancelled`, if
/// any), in offset order: the journal is the turns' one home, and nothing holds a round's
/// turns in memory to write them.
public struct RoomRoundRecord: Sendable, Equatable {
    public var roundID: String
    public var round: Int
    public var candidateID: String
    public var caseID: String?
    public var durationSeconds: Int
    /// The room's stage after this round (2 or 3).
    public var newStage: Int

    public init(roundID: String, round: Int, candidateID: String, caseID: String?, durationSeconds: Int, newStage: Int) {
        self.roundID = roundID
        self.round = round
        self.candidateID = candidateID
        self.caseID = caseID
        self.durationSeconds = durationSeconds
        self.newStage = newStage
    }
}

/// An accepted command's client id and reply, kept so a retry gets the original answer.
public struct RoomCommandRecord: Sendable, Equatable {
    public var userID: String
    public var clientID: String
    /// The command's name and content (without the client id).
    public var fingerprint: String
    /// The ok reply's `response`, as JSON.
    public var replyJSON: String

    public init(userID: String, clientID: String, fingerprint: String, replyJSON: String) {
        self.userID = userID
        self.clientID = clientID
        self.fingerprint = fingerprint
        self.replyJSON = replyJSON
    }
}

/// What one room command (or timer) writes: its events, the room's new state, and the
/// round's row when the round ended. One entry is atomic; entries commit in order.
public struct RoomJournalEntry: Sendable {
    public var roomID: String
    public var events: [RoomEventRecord]
    /// The room's state after the entry; nil when unchanged.
    public var state: RoomStateRecord?
    public var roundEnd: RoomRoundRecord?
    /// The command that made the entry, with its reply.
    public var command: RoomCommandRecord?
    /// A round's assessment to store (once: a round assessed already is left as it is).
    public var assessment: RoomAssessmentRecord?

    public init(
        roomID: String, events: [RoomEventRecord] = [], state: RoomStateRecord? = nil, roundEnd: RoomRoundRecord? = nil,
        command: RoomCommandRecord? = nil
    ) {
        self.command = command
        self.roomID = roomID
        self.events = events
        self.state = state
        self.roundEnd = roundEnd
    }
}

/// A room's saved state as the journal writes it: the columns the store reads (the phase,
/// each round's case) and the engine's own encoding of the rest, which the store keeps
/// but never reads.
public struct RoomStateRecord: Sendable, Equatable {
    /// `waiting`, `preparation`, `roleplay` or `ended`.
    public var phase: String
    /// The case of round 1 and of round 2, once chosen.
    public var caseIDs: [String?]
    /// The engine's state, as JSON (the shell decodes it when the room loads).
    public var json: String

    public init(phase: String, caseIDs: [String?] = [nil, nil], json: String) {
        self.phase = phase
        self.caseIDs = caseIDs
        self.json = json
    }
}

/// A case of the library, briefs included. Only the room engine reads briefs, and hands
/// each peer the one its role may see.
public struct CaseBrief: Sendable, Equatable {
    public var id: String
    public var caseName: String
    public var domain: String
    public var targetProfession: String
    public var difficultyLevel: String
    public var candidateBrief: String
    public var actorBrief: String

    public init(id: String, caseName: String, domain: String, targetProfession: String, difficultyLevel: String, candidateBrief: String, actorBrief: String) {
        self.id = id
        self.caseName = caseName
        self.domain = domain
        self.targetProfession = targetProfession
        self.difficultyLevel = difficultyLevel
        self.candidateBrief = candidateBrief
        self.actorBrief = actorBrief
    }
}

/// A round's assessment and its feedback report, stored by the journal.
public struct RoomAssessmentRecord: Sendable {
    public var roundID: String
    public var assessmentJSON: String
    public var report: FeedbackReportRecord

    public init(roundID: String, assessmentJSON: String, report: FeedbackReportRecord) {
        self.roundID = roundID
        self.assessmentJSON = assessmentJSON
        self.report = report
    }
}

/// A room as the engine loads it: the row, its saved state, its recent events and the
/// turns of the current round.
public struct LoadedRoom: Sendable {
    public var id: String
    public var hostID: String
    public var guestID: String?
    public var type: String
    public var datetimeUTC: String
    public var stage: Int
    public var roundIDs: [String?]
    /// The saved state as the engine encoded it (`RoomStateRecord.json`), nil for a room
    /// the engine never ran. The store does not read it.
    public var stateJSON: String?
    /// The latest events, oldest first (at most the limit asked for).
    public var recentEvents: [RoomEventRecord]
    public var latestOffset: Int64
    /// The current round's turns, in seq order.
    public var currentTurns: [RoomEventRecord]
    /// The offset of the latest `round_ended` or `round_cancelled` event (0: none): the
    /// current round's turns are the `turn` events after it.
    public var transcriptFrom: Int64 = 0
    public var maxSeq: Int
    /// Cases chosen for the rounds, by id.
    public var cases: [String: CaseBrief]
    /// Users recorded present at or after the scheduled time.
    public var seenSinceScheduled: Set<String>
    /// Users already recorded as no-shows.
    public var noShows: Set<String>
    /// The latest accepted commands (at most the limit asked for), oldest first.
    public var commands: [RoomCommandRecord] = []
    /// The change-feed offset the row was read at: `guestID` is the seat as of it (a
    /// later change of the seat comes through the feed with a higher offset).
    public var seatAsOf: Int64 = 0
}

/// A room's seats as stored, with the change-feed offset they were read at.
public struct RoomSeat: Sendable, Equatable {
    public var hostID: String
    public var guestID: String?
    /// Every committed change up to this feed offset is reflected.
    public var asOf: Int64

    public init(hostID: String, guestID: String?, asOf: Int64) {
        self.hostID = hostID
        self.guestID = guestID
        self.asOf = asOf
    }
}

/// A completed round waiting for its assessment (after a restart, say).
public struct UnassessedRound: Sendable {
    public var roundID: String
    public var roomID: String
    public var round: Int
    public var caseID: String?
    public var transcriptJSON: String
}

/// The feedback report written with an assessment.
public struct FeedbackReportRecord: Sendable {
    public var transcriptText: String
    public var summary: String
    public var scoreRaw: Int
    public var strengths: String
    public var areasForImprovement: String

    public init(transcriptText: String, summary: String, scoreRaw: Int, strengths: String, areasForImprovement: String) {
        self.transcriptText = transcriptText
        self.summary = summary
        self.scoreRaw = scoreRaw
        self.strengths = strengths
        self.areasForImprovement = areasForImprovement
    }
}
