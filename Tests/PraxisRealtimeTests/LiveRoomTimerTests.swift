import NIOCore
import NIOEmbedded
import PraxisDomain
import PraxisRooms
import Testing

@testable import PraxisRealtime
@testable import PraxisStore

/// The shell runs the timers the engine asks for, on its loop, and hands them back when they
/// fire (an EmbeddedEventLoop's clock is advanced by hand).
@Suite("LiveRoom shell timers")
struct LiveRoomTimerTests {
    static let host = LiveRoomShellTests.host

    @Test("a dropped host is away with a grace timer; back cancels it; when it runs out, the host has left as disconnected")
    func graceTimer() throws {
        let base = try LiveRoomShellTests()
        try base.joinHost()
        let loop = base.peer.channel.embeddedEventLoop

        base.room.remove(memberID: 1, dropped: true)
        let away = try #require(base.journal.pending.last)
        #expect(away.events.map(\.type) == ["presence"])
        #expect(away.events.first?.userID == Self.host, "the journal's user column")
        #expect(away.events.first?.payloadJSON.contains(#""status":"away""#) == true)
        #expect(base.room.timers[.grace(userID: Self.host)] != nil)
        base.journal.commitAll()

        // Back within the grace period: the timer stops.
        base.room.join(
            LiveRoom.Member(id: 2, userID: Self.host, connection: base.peer.connection, topic: base.topic, version: .v1, joinRef: "2"),
            caller: .user(id: Self.host, isAdmin: false), resume: nil, reply: base.target(ref: "2")
        )
        #expect(base.journal.pending.last?.events.first?.payloadJSON.contains(#""status":"back""#) == true)
        #expect(base.room.timers.isEmpty)
        base.journal.commitAll()
        loop.advanceTime(by: .seconds(120))
        #expect(base.journal.pending.isEmpty, "a cancelled grace timer does nothing")

        // Dropped again, and the grace period runs out.
        base.room.remove(memberID: 2, dropped: true)
        base.journal.commitAll()
        loop.advanceTime(by: .seconds(61))
        let left = try #require(base.journal.pending.last)
        #expect(left.events.map(\.type) == ["left"])
        #expect(left.events.first?.payloadJSON.contains(#""reason":"disconnected""#) == true)
        #expect(left.state != nil, "saved with the state")
        #expect(base.room.timers.isEmpty)
        #expect(!base.room.engine.hasTimers)
    }
}
