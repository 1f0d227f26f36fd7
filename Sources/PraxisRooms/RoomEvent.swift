package import PraxisDomain

/// A room event as journaled and sent to the members (protocol/room.md, Events), typed:
/// its payload is encoded in one place (`RoomEvent+JSON.swift`), with its offset and time.
package enum RoomEvent: Sendable, Equatable {
    /// A member away: until when its seat is kept (seconds since 1970).
    package struct Away: Sendable, Equatable {
        package var userID: String
        package var until: Double

        package init(userID: String, until: Double) {
            self.userID = userID
            self.until = until
        }
    }

    package enum PresenceStatus: String, Sendable, Equatable {
        case joined, away, back, left
    }

    package enum LeftReason: String, Sendable, Equatable {
        case left, disconnected
    }

    case presence(userID: String, status: PresenceStatus, present: [String], away: [Away])
    case ready(userID: String, round: Int?)
    case timing(RoomTiming)
    /// `summary` nil: the case is not known to the room (only its id is sent).
    case caseChosen(round: Int, caseID: String, summary: RoomCaseSummary?)
    case phase(round: Int, phase: RoomPhase)
    case turn(seq: Int, round: Int, speakerID: String, role: RoomRole, text: String, clientTurnID: String)
    case roundEnded(round: Int, reason: RoomStateMachine.EndReason, roundID: String, turns: Int, durationSeconds: Int)
    case stage(Int)
    case assessment(round: Int, roundID: String, assessor: String, scoreRaw: Int, scoreMax: Int)
    case left(userID: String, phase: String, reason: LeftReason)
    case noShow(userID: String, scheduledAt: Double)
    case seat(guestID: String?, previousGuestID: String?)
    case roundCancelled(round: Int)

    /// The event's name (`broadcast` event, journal `type`).
    package var name: String {
        switch self {
        case .presence: "presence"
        case .ready: "ready"
        case .timing: "timing"
        case .caseChosen: "case_chosen"
        case .phase: "phase"
        case .turn: "turn"
        case .roundEnded: "round_ended"
        case .stage: "stage"
        case .assessment: "assessment"
        case .left: "left"
        case .noShow: "no_show"
        case .seat: "seat"
        case .roundCancelled: "round_cancelled"
        }
    }

    /// The journal's `round` column.
    package var round: Int? {
        switch self {
        case .caseChosen(let round, _, _), .phase(let round, _), .turn(_, let round, _, _, _, _), .roundEnded(let round, _, _, _, _),
            .assessment(let round, _, _, _, _), .roundCancelled(let round):
            round
        default: nil
        }
    }

    /// A turn's journal columns (client id, seq, speaker); nil for other events.
    package var turnColumns: (clientID: String, seq: Int, userID: String)? {
        if case .turn(let seq, _, let speakerID, _, _, let clientTurnID) = self { return (clientTurnID, seq, speakerID) }
        return nil
    }

    /// The journal's `user_id` column: whom the event is about (a turn's speaker; the user
    /// of presence, ready, left, no-show); nil for the others.
    package var userID: String? {
        switch self {
        case .presence(let userID, _, _, _), .ready(let userID, _), .left(let userID, _, _), .noShow(let userID, _): userID
        case .turn(_, _, let speakerID, _, _, _): speakerID
        default: nil
        }
    }

    /// Whether this event starts a round (phase `preparation`): its members get their briefs.
    package var startsRound: Bool {
        if case .phase(_, .preparation) = self { return true }
        return false
    }

    /// Whether this event ends the current round's transcript (a new one begins after it).
    package var endsTranscript: Bool {
        switch self {
        case .roundEnded, .roundCancelled: true
        default: false
        }
    }
}
