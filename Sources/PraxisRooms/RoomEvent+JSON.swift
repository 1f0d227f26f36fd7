package import PraxisDomain

extension RoomEvent {
    /// The event's payload as sent and journaled: its fields, `offset` and `at`. The one
    /// place a room event becomes JSON.
    package func payload(offset: Int64, at: String) -> JSONValue {
        var fields = self.fields
        fields["offset"] = .number(Double(offset))
        fields["at"] = .string(at)
        return .object(fields)
    }

    /// The payload's fields besides `offset` and `at`.
    package var fields: [String: JSONValue] {
        switch self {
        case .presence(let userID, let status, let present, let away):
            [
                "user_id": .string(userID), "status": .string(status.rawValue), "present": .array(present.map(JSONValue.string)),
                "away": .array(away.map(\.json)),
            ]
        case .ready(let userID, let round):
            ["user_id": .string(userID), "round": round.map { .number(Double($0)) } ?? .null]
        case .timing(let timing):
            ["preparation_seconds": .number(timing.preparationSeconds), "roleplay_seconds": .number(timing.roleplaySeconds)]
        case .caseChosen(let round, let caseID, let summary):
            ["round": .number(Double(round)), "case": summary?.json ?? .object(["id": .string(caseID)])]
        case .phase(let round, let phase):
            ["round": .number(Double(round)), "phase": .string(phase.name), "deadline": Self.time(phase.deadline)]
        case .turn(let seq, let round, let speakerID, let role, let text, let clientTurnID):
            [
                "seq": .number(Double(seq)), "round": .number(Double(round)), "speaker_id": .string(speakerID),
                "role": .string(role.rawValue), "text": .string(text), "client_turn_id": .string(clientTurnID),
            ]
        case .roundEnded(let round, let reason, let roundID, let turns, let duration):
            [
                "round": .number(Double(round)), "reason": .string(reason.rawValue), "round_id": .string(roundID),
                "turns": .number(Double(turns)), "duration_seconds": .number(Double(duration)),
            ]
        case .stage(let stage):
            ["stage": .number(Double(stage))]
        case .assessment(let round, let roundID, let assessor, let scoreRaw, let scoreMax):
            [
                "round": .number(Double(round)), "round_id": .string(roundID), "assessor": .string(assessor),
                "score_raw": .number(Double(scoreRaw)), "score_max": .number(Double(scoreMax)),
            ]
        case .left(let userID, let phase, let reason):
            [
                "user_id": .string(userID), "phase": .string(phase), "reason": .string(reason.rawValue),
                "early": .bool(phase == "preparation" || phase == "roleplay"),
            ]
        case .noShow(let userID, let scheduledAt):
            ["user_id": .string(userID), "scheduled_at": .string(Timestamp.format(secondsSince1970: scheduledAt))]
        case .seat(let guestID, let previous):
            [
                "guest_id": guestID.map(JSONValue.string) ?? .null, "previous_guest_id": previous.map(JSONValue.string) ?? .null,
                "reason": .string(guestID == nil ? "seat_given_back" : (previous == nil ? "seat_taken" : "seat_reassigned")),
            ]
        case .roundCancelled(let round):
            ["round": .number(Double(round)), "reason": .string("seat_changed")]
        }
    }

    /// An absolute time as the protocol writes it, or null.
    package static func time(_ seconds: Double?) -> JSONValue {
        seconds.map { .string(Timestamp.format(secondsSince1970: $0)) } ?? .null
    }
}

extension RoomEvent.Away {
    package var json: JSONValue {
        .object(["user_id": .string(userID), "until": .string(Timestamp.format(secondsSince1970: until))])
    }
}

extension RoomCaseSummary {
    /// `{id, case_name, domain, target_profession, difficulty_level}`.
    package var json: JSONValue {
        .object([
            "id": .string(id), "case_name": .string(caseName), "domain": .string(domain),
            "target_profession": .string(targetProfession), "difficulty_level": .string(difficultyLevel),
        ])
    }
}
