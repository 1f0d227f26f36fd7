/// What the store knows of a room beside its `practice_rooms` row, for the access rules:
/// read from the room engine's own tables (`room_runtime`) in the write's transaction.
public struct RoomFacts: Sendable, Equatable {
    /// A round is being played (preparation or role-play), as the engine journaled it.
    public var roundLive: Bool

    public init(roundLive: Bool = false) {
        self.roundLive = roundLive
    }
}
