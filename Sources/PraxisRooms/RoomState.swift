package import PraxisDomain

/// The state of one practice room (design §3): stage 1–3, host and guest, two rounds with
/// swapped roles, and the phases of the current round. A plain value: `RoomStateMachine`
/// changes it; nothing here does I/O.
package struct RoomState: Sendable, Equatable, Codable {
    /// 1: round 1 (host is candidate), 2: round 2 (guest is candidate), 3: complete.
    package var stage: Int
    package var phase: RoomPhase
    package let hostID: String
    package var guestID: String?
    /// Peers currently connected.
    package var present: Set<String>
    /// Peers who said they are ready for the current round.
    package var ready: Set<String>
    /// The case of each round (index 0: round 1), once chosen.
    package var caseIDs: [String?]
    /// Preparation and role-play lengths, in seconds.
    package var timing: RoomTiming
    /// The next turn's sequence number (strictly increasing within the room).
    package var nextSeq: Int
    /// Turns accepted in the current round by speaker and client turn id
    /// (`RoomStateMachine.turnKey`), with the seq and text they got.
    /// Not encoded: the store rebuilds it from the turn journal.
    package var acceptedTurns = TurnIndex()
    /// When the current phase began (seconds since 1970), for round durations.
    package var phaseStartedAt: Double?
    /// Whether the no-show check (scheduled time plus grace) has been done.
    package var noShowChecked: Bool?

    enum CodingKeys: String, CodingKey {
        case stage, phase, hostID, guestID, present, ready, caseIDs, timing, nextSeq, phaseStartedAt, noShowChecked
    }

    package init(hostID: String, guestID: String?, stage: Int = 1, timing: RoomTiming = RoomTiming()) {
        self.stage = stage
        self.phase = stage == 3 ? .ended : .waiting
        self.hostID = hostID
        self.guestID = guestID
        self.present = []
        self.ready = []
        self.caseIDs = [nil, nil]
        self.timing = timing
        self.nextSeq = 1
    }

    /// The round being played: 1 in stage 1, 2 in stage 2, nil when complete.
    package var round: Int? { stage < 3 ? stage : nil }

    /// The candidate of the current round: the host in round 1, the guest in round 2.
    package var candidateID: String? {
        switch stage {
        case 1: hostID
        case 2: guestID
        default: nil
        }
    }

    /// The interlocutor (plays the patient): the other peer.
    package var interlocutorID: String? {
        switch stage {
        case 1: guestID
        case 2: hostID
        default: nil
        }
    }

    /// What `userID` is in the current round, if anything.
    package func role(of userID: String) -> RoomRole? {
        if userID == candidateID { return .candidate }
        if userID == interlocutorID { return .interlocutor }
        return nil
    }

    package func isParticipant(_ userID: String) -> Bool { userID == hostID || (guestID != nil && userID == guestID) }
}

/// The phases inside a round, with absolute deadlines (seconds since 1970, server time).
package enum RoomPhase: Sendable, Equatable, Codable {
    case waiting
    case preparation(deadline: Double)
    case roleplay(deadline: Double)
    /// The round ended (or, in stage 3, the room is complete).
    case ended

    package var name: String {
        switch self {
        case .waiting: "waiting"
        case .preparation: "preparation"
        case .roleplay: "roleplay"
        case .ended: "ended"
        }
    }

    package var deadline: Double? {
        switch self {
        case .preparation(let deadline), .roleplay(let deadline): deadline
        default: nil
        }
    }
}

/// How long the timed phases last. OET: about 3 minutes of preparation, 5 of role-play.
package struct RoomTiming: Sendable, Equatable, Codable {
    package var preparationSeconds: Double
    package var roleplaySeconds: Double

    /// Allowed range for either duration, per room.
    package static let allowedSeconds: ClosedRange<Double> = 30...1800

    package init(preparationSeconds: Double = 180, roleplaySeconds: Double = 300) {
        self.preparationSeconds = preparationSeconds
        self.roleplaySeconds = roleplaySeconds
    }
}

/// A turn the room accepted: its seq, and a digest of its text (a repeated client id must
/// carry the same text; the text itself is in the room's journal).
package struct AcceptedTurn: Sendable, Equatable {
    package var seq: Int
    private var textDigest: UInt64

    package init(seq: Int, text: String) {
        self.seq = seq
        self.textDigest = TurnIndex.digest(text)
    }

    /// Whether `text` is the text this turn was accepted with.
    package func carries(_ text: String) -> Bool { TurnIndex.digest(text) == textDigest }
}
