/// The two roles of a round.
public enum RoomRole: String, Sendable, Equatable, Codable {
    /// Plays the clinician and is assessed; sees the candidate brief.
    case candidate
    /// Plays the patient (or relative, carer); sees the actor brief; not assessed.
    case interlocutor
}
