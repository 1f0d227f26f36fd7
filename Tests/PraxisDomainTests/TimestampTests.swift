import Foundation
import Testing

@testable import PraxisDomain

@Suite("Timestamp")
struct TimestampTests {
    @Test func formatsUTCWithMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_795_463_412.123456)
        #expect(Timestamp.format(date) == "2026-11-23T19:50:12.123456Z")
    }

    @Test(arguments: [
        ("2026-11-23T17:10:12.123456Z", "2026-11-23T17:10:12.123456Z"),
        ("2026-11-23T17:10:12Z", "2026-11-23T17:10:12.000000Z"),
        ("2026-11-23 17:10:12.5+00:00", "2026-11-23T17:10:12.500000Z"),
        ("2026-11-23T18:10:12.25+01:00", "2026-11-23T17:10:12.250000Z"),
    ])
    func canonicalisesISO8601(input: String, expected: String) {
        #expect(Timestamp.canonical(input) == expected)
    }

    @Test(arguments: ["", "yesterday", "2026-13-45T00:00:00Z", "1 OR 1=1"])
    func rejectsNonTimestamps(input: String) {
        #expect(Timestamp.canonical(input) == nil)
    }

    @Test func nowSortsAfterThePast() {
        #expect(Timestamp.now() > "2026-01-01T00:00:00.000000Z")
    }
}
