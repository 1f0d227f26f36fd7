import Testing

@testable import PraxisStore

/// The change log's retention as a plain value: what it keeps and what it says to delete.
@Suite("Change log retention")
struct ChangeLogRetentionTests {
    @Test("past the entry limit the oldest go, down to 90 % of it, in one batch")
    func entryLimit() {
        var retention = ChangeLogRetention(maxEntries: 100, maxBytes: 1 << 30)
        for offset in 1...100 { #expect(retention.logged(offset: Int64(offset), bytes: 10) == nil) }
        #expect(retention.logged(offset: 101, bytes: 10) == 11, "101 kept past 100: trimmed to 90, through offset 11")
        #expect(retention.count == 90 && retention.oldest == 12 && retention.bytes == 900)
        for offset in 102...111 { #expect(retention.logged(offset: Int64(offset), bytes: 10) == nil) }
        #expect(retention.logged(offset: 112, bytes: 10) == 22)
    }

    @Test("past the byte limit the oldest go until 90 % of it is left; a large change pushes many out")
    func byteLimit() {
        var retention = ChangeLogRetention(maxEntries: 1_000, maxBytes: 1_000)
        for offset in 1...10 { #expect(retention.logged(offset: Int64(offset), bytes: 100) == nil) }
        #expect(retention.logged(offset: 11, bytes: 500) == 6, "1,500 bytes: keep 7...11 (900)")
        #expect(retention.oldest == 7 && retention.bytes == 900 && retention.count == 5)
    }

    @Test("the newest change is kept even when it alone is over the limit")
    func newestKept() {
        var retention = ChangeLogRetention(maxEntries: 10, maxBytes: 100)
        _ = retention.logged(offset: 1, bytes: 50)
        #expect(retention.logged(offset: 2, bytes: 5_000) == 1)
        #expect(retention.count == 1 && retention.oldest == 2)
        #expect(retention.logged(offset: 3, bytes: 10) == 2)
        #expect(retention.oldest == 3 && retention.bytes == 10)
    }

    @Test("a long run stays within both limits, whatever it compacts")
    func longRun() {
        var retention = ChangeLogRetention(maxEntries: 500, maxBytes: 40_000)
        var deletedThrough: Int64 = 0
        for offset in Int64(1)...20_000 {
            let bytes = offset % 97 == 0 ? 9_000 : Int(offset % 50) + 1
            if let through = retention.logged(offset: offset, bytes: bytes) {
                #expect(through > deletedThrough)
                deletedThrough = through
            }
            #expect(retention.count <= 500)
            #expect(retention.bytes <= 40_000 || retention.count == 1)
            #expect(retention.oldest == deletedThrough + 1)
        }
    }
}
