package import PraxisDomain

/// A room command as decoded once, at the edge, from a channel push: what it asks, under
/// which client id, and the fingerprint a repeat of the same client id must match.
package enum RoomCommand: Sendable, Equatable {
    case ready
    case setTiming(RoomTiming)
    case chooseCase(CaseChoice)
    case startRound
    case startRoleplay
    case turn(text: String)
    case endRound
    case leave

    /// How `choose_case` names the case: by id, or by filters for a random published one.
    package enum CaseChoice: Sendable, Equatable {
        case id(String)
        /// `domain` nil: the room's type.
        case random(targetProfession: String?, domain: String?, difficultyLevel: String?)
    }

    /// The event names a room topic accepts, in the order error messages list them.
    package static let names = ["ready", "set_timing", "choose_case", "start_round", "start_roleplay", "turn", "end_round", "leave"]

    /// The state machine's command, or nil for `choose_case` (its case is looked up first).
    package var machineCommand: RoomStateMachine.Command? {
        switch self {
        case .ready: .ready
        case .setTiming(let timing): .setTiming(timing)
        case .chooseCase: nil
        case .startRound: .startRound
        case .startRoleplay: .startRoleplay
        case .turn: nil
        case .endRound: .endRound
        case .leave: .leave
        }
    }
}

/// A decoded command with its client id (`client_turn_id` for turns) and fingerprint.
///
/// The envelope (a known event, storable text, a client id) is checked first; the body may
/// still be refused (`command` is a failure), which is answered after the client id's
/// repeat check, as before.
package struct RoomRequest: Sendable, Equatable {
    package var command: Result<RoomCommand, RoomError>
    package var clientID: String
    /// Whether this is `choose_case` (its role and phase are checked before its body).
    package var isChooseCase: Bool
    /// The command's name and content without its client id: a repeat must carry the same.
    /// Turns are checked by the state machine instead (the turn index), so theirs is empty.
    package var fingerprint: String

    package init(command: Result<RoomCommand, RoomError>, clientID: String, fingerprint: String, isChooseCase: Bool = false) {
        self.command = command
        self.clientID = clientID
        self.isChooseCase = isChooseCase
        self.fingerprint = fingerprint
    }

    /// Decodes the push `event` with `payload`, or says why it is refused (the reply's reason).
    package static func decode(event: String, payload: [String: JSONValue]) -> Result<RoomRequest, RoomError> {
        guard RoomCommand.names.contains(event) else {
            return .failure(.invalid("unknown room command \(event) (commands: \(RoomCommand.names.joined(separator: ", ")))"))
        }
        guard StoredText.isStorable(.object(payload)) else { return .failure(.invalid(StoredText.refusal)) }
        if event == "turn" {
            guard let text = payload["text"]?.string else { return .failure(.invalid("a turn needs text (a string)")) }
            guard let clientTurnID = (payload["client_turn_id"] ?? payload["client_id"])?.string else {
                return .failure(.invalid("client_turn_id is required (1 to 128 characters)"))
            }
            return .success(RoomRequest(command: .success(.turn(text: text)), clientID: clientTurnID, fingerprint: ""))
        }
        guard let clientID = payload["client_id"]?.string, (1...128).contains(clientID.count) else {
            return .failure(.invalid("client_id is required (1 to 128 characters)"))
        }
        var content = payload
        content["client_id"] = nil
        let fingerprint = event + " " + JSONValue.object(content).jsonString
        return .success(RoomRequest(
            command: command(event, payload), clientID: clientID, fingerprint: fingerprint, isChooseCase: event == "choose_case"
        ))
    }

    private static func command(_ event: String, _ payload: [String: JSONValue]) -> Result<RoomCommand, RoomError> {
        switch event {
        case "ready": return .success(.ready)
        case "start_round": return .success(.startRound)
        case "start_roleplay": return .success(.startRoleplay)
        case "end_round": return .success(.endRound)
        case "leave": return .success(.leave)
        case "set_timing":
            guard case .number(let preparation)? = payload["preparation_seconds"], case .number(let roleplay)? = payload["roleplay_seconds"] else {
                return .failure(.invalid("set_timing needs preparation_seconds and roleplay_seconds (numbers)"))
            }
            guard preparation.rounded() == preparation, roleplay.rounded() == roleplay else {
                return .failure(.invalid("preparation_seconds and roleplay_seconds must be whole seconds"))
            }
            return .success(.setTiming(RoomTiming(preparationSeconds: preparation, roleplaySeconds: roleplay)))
        default:
            if let caseID = payload["case_id"]?.string { return .success(.chooseCase(.id(caseID))) }
            guard case .object(let filters)? = payload["random"] else {
                return .failure(.invalid("choose_case needs case_id (a string) or random (an object of filters)"))
            }
            return .success(.chooseCase(.random(
                targetProfession: filters["target_profession"]?.string, domain: filters["domain"]?.string,
                difficultyLevel: filters["difficulty_level"]?.string
            )))
        }
    }
}
