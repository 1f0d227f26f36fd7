import Testing

@testable import PraxisRooms

/// The room's offsets and memory of recent events, as a value.
@Suite("RoomLog")
struct RoomLogTests {
    func entry(_ offset: Int64, _ name: String = "ready") -> RoomLog.Entry {
        RoomLog.Entry(offset: offset, name: name, payloadJSON: "{\"offset\":\(offset)}")
    }

    @Test("offsets are reserved in order and published once durable; memory keeps keep..2*keep events")
    func offsetsAndMemory() {
        var log = RoomLog(recent: [], latestOffset: 0, transcriptFrom: 0, keep: 2, replayLimit: 10)
        #expect(log.reserve() == 1)
        #expect(log.reserve() == 2)
        #expect(log.publishedOffset == 0, "nothing durable yet")
        log.publish([entry(1), entry(2)], transcriptEnd: nil)
        #expect(log.publishedOffset == 2)
        for offset in 3...5 {
            #expect(log.reserve() == Int64(offset))
            log.publish([entry(Int64(offset))], transcriptEnd: offset == 4 ? 4 : nil)
        }
        #expect(log.recent.map(\.offset) == [4, 5], "trimmed back to keep once past twice keep")
        #expect(log.transcriptFrom == 4)
        #expect(log.oldestKept == 4)
    }

    @Test("a join reads only what memory lacks: older turns of the round, a resume's missed events within the replay limit")
    func reads() {
        let log = RoomLog(recent: [entry(10), entry(11, "turn"), entry(12)], latestOffset: 12, transcriptFrom: 5, keep: 2, replayLimit: 5)
        #expect(log.read(resume: nil, roundHasTurns: false) == nil)
        #expect(log.read(resume: 9, roundHasTurns: false) == nil, "memory has everything after 9")
        #expect(log.read(resume: nil, roundHasTurns: true) == RoomLog.Read(before: 10, turnsAfter: 5, missedAfter: nil))
        #expect(log.read(resume: 8, roundHasTurns: false) == RoomLog.Read(before: 10, turnsAfter: nil, missedAfter: 8))
        #expect(log.read(resume: 6, roundHasTurns: false) == nil, "more than 5 missed: a snapshot only")
        #expect(log.read(resume: 13, roundHasTurns: false) == nil, "ahead of the room")
        let fresh = RoomLog(recent: [entry(10)], latestOffset: 10, transcriptFrom: 9, keep: 2, replayLimit: 5)
        #expect(fresh.read(resume: nil, roundHasTurns: true) == nil, "the round began within memory")
    }

    @Test("transcript and replay join what was read with memory, without overlap")
    func transcriptAndReplay() {
        let log = RoomLog(recent: [entry(10, "turn"), entry(11), entry(12, "turn")], latestOffset: 12, transcriptFrom: 5, keep: 2, replayLimit: 10)
        let read = RoomLog.Read(before: 10, turnsAfter: 5, missedAfter: 7)
        let turns = [entry(4, "turn"), entry(6, "turn"), entry(9, "turn")]
        #expect(log.transcript(read: read, turns: turns).map(\.offset) == [6, 9, 10, 12], "turns before the round's start are not its own")
        let missed = [entry(8), entry(9, "turn")]
        #expect(log.replay(after: 7, read: read, missed: missed)?.map(\.offset) == [8, 9, 10, 11, 12])
        #expect(log.replay(after: 10, read: nil, missed: nil)?.map(\.offset) == [11, 12])
        #expect(log.replay(after: 12, read: nil, missed: nil) == [], "up to date: nothing to replay, but recovered")
        #expect(log.replay(after: 3, read: nil, missed: nil) == nil, "too far back, nothing read")
        #expect(log.replay(after: 13, read: nil, missed: nil) == nil)
        #expect(log.replay(after: nil, read: nil, missed: nil) == nil)
        #expect(!log.outdates(read))
        var trimmed = log
        for offset in 13...16 { trimmed.publish([entry(Int64(offset))], transcriptEnd: nil) }
        #expect(trimmed.outdates(read))
    }
}
