import Foundation
import Testing

@testable import PraxisDomain

@Suite("Timestamp")
struct TimestampTests {
    @Test func microsecondsRoundIntoTheNextSecond() {
        #expect(Timestamp.wholeSecondsAndMicros(Date(timeIntervalSince1970: 10.9999996)) == (11, 0))
        #expect(Timestamp.wholeSecondsAndMicros(Date(timeIntervalSince1970: 10.25)) == (10, 250_000))
    }

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

    /// A reproducible generator (SplitMix64) for the equivalence checks.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func theHandReadShapeAgreesWithTheFormatterPath() throws {
        var random = SplitMix(state: 20261203)
        for _ in 0..<3000 {
            let year = Int.random(in: 1600...9999, using: &random), month = Int.random(in: 1...12, using: &random)
            let day = Int.random(in: 1...28, using: &random)
            let clock = String(format: "%02d:%02d:%02d", Int.random(in: 0...23, using: &random), Int.random(in: 0...59, using: &random), Int.random(in: 0...59, using: &random))
            let digits = Int.random(in: 0...9, using: &random)
            let fraction = digits == 0 ? "" : "." + String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
            let zone = ["Z", String(format: "+%02d:%02d", Int.random(in: 0...14, using: &random), Int.random(in: 0...59, using: &random)),
                        String(format: "-%02d:%02d", Int.random(in: 0...12, using: &random), Int.random(in: 0...59, using: &random))].randomElement(using: &random)!
            let text = String(format: "%04d-%02d-%02d", year, month, day) + (Bool.random(using: &random) ? "T" : " ") + clock + fraction + zone
            let fast = try #require(Timestamp.parseCommon(text), "\(text) read by hand")
            #expect(fast == Timestamp.parseWithFormatter(text), "\(text)")
            #expect(Timestamp.format(fast) == Timestamp.canonical(text))
        }
    }

    @Test(arguments: [
        "2026-02-29T10:00:00Z", "2026-02-30T10:00:00Z", "2026-04-31T10:00:00Z", "2026-11-23T24:00:00Z",
        "2026-11-23T12:60:00Z", "2026-11-23T12:00:60Z", "2026-11-23T12:00:00", "2026-11-23T12:00:00+0100",
        "2026-11-23T12:00:00.Z", " 2026-11-23T12:00:00Z", "2026-11-23T12:00:00Z ", "1500-01-01T00:00:00Z",
        "2026-11-23T12:00:00.1234567890123456Z", "2026-11-23T12:00:00+24:00", "2024-02-29T23:59:59.999999-23:59",
    ])
    func shapesTheHandReaderLeavesAreDecidedByTheFormatter(text: String) {
        if Timestamp.parseCommon(text) == nil {
            #expect(Timestamp.parse(text) == Timestamp.parseWithFormatter(text))
        } else {
            #expect(Timestamp.parseCommon(text) == Timestamp.parseWithFormatter(text))
        }
    }

    @Test func formatAgreesWithGmtime() {
        var random = SplitMix(state: 7)
        for _ in 0..<3000 {
            let date = Date(timeIntervalSince1970: Double.random(in: -11_000_000_000...250_000_000_000, using: &random))
            // The rounding to microseconds is format's own; the date and the digits are gmtime's.
            let (seconds, micros) = Timestamp.wholeSecondsAndMicros(date)
            var t = time_t(seconds)
            var parts = tm()
            gmtime_r(&t, &parts)
            let expected = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros
            )
            #expect(Timestamp.format(date) == expected)
        }
    }
}
