/// One turn of a round's transcript, as the assessors see it.
public struct TranscriptTurn: Sendable, Equatable {
    /// The room-wide sequence number the server assigned (strictly increasing).
    public var seq: Int
    /// The speaker's role in the round; only the candidate's turns are assessed.
    public var role: RoomRole
    /// The speaker's user id.
    public var speakerID: String
    public var text: String

    public init(seq: Int, role: RoomRole, speakerID: String, text: String) {
        self.seq = seq
        self.role = role
        self.speakerID = speakerID
        self.text = text
    }
}
