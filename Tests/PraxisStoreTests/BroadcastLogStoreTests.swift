import Testing

@testable import PraxisStore

/// The private-channel broadcast log that replay reads.
@Suite("Broadcast log (store)")
struct BroadcastLogStoreTests {
    private static func record(_ id: Int64, topic: String = "realtime:user:a", at: Int64) -> BroadcastRecord {
        BroadcastRecord(id: id, topic: topic, payload: #"{"event":"e","payload":{"n":\#(id)},"type":"broadcast"}"#, sentAt: at)
    }

    @Test func replayReadsTheNewestUpToTheCutOldestFirst() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        #expect(try store.lastBroadcastID() == 0)
        try await store.appendBroadcasts([
            Self.record(1, at: 100), Self.record(2, topic: "realtime:other", at: 150), Self.record(3, at: 200), Self.record(4, at: 300),
            Self.record(5, at: 400),
        ], retention: 100)
        #expect(try store.lastBroadcastID() == 5)
        let newest = try await store.broadcasts(topic: "realtime:user:a", since: 0, upTo: 4, limit: 2)
        #expect(newest.map(\.id) == [3, 4], "the newest two up to the cut, oldest first; other topics apart")
        let since = try await store.broadcasts(topic: "realtime:user:a", since: 200, upTo: 5, limit: 25)
        #expect(since.map(\.id) == [3, 4, 5])
        #expect(try await store.broadcasts(topic: "realtime:user:a", since: 401, upTo: 5, limit: 25).isEmpty)
    }

    @Test func onlyTheNewestRetentionAreKept() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        try await store.appendBroadcasts((1...5).map { Self.record($0, at: $0) }, retention: 3)
        try await store.appendBroadcasts([Self.record(6, at: 6)], retention: 3)
        let kept = try await store.broadcasts(topic: "realtime:user:a", since: 0, upTo: 10, limit: 25)
        #expect(kept.map(\.id) == [4, 5, 6])
        #expect(try store.lastBroadcastID() == 6)
    }
}
