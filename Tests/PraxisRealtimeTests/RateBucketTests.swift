import Testing

@testable import PraxisRealtime

/// The per-connection and REST rates: a bucket of `limit`, refilled `limit` per second.
@Suite("RateBucket")
struct RateBucketTests {
    /// Takes in order and reports each answer.
    private static func takes(_ bucket: inout RateBucket, _ steps: [(count: Int, at: Duration)], from start: ContinuousClock.Instant) -> [Bool] {
        steps.map { bucket.take($0.count, now: start + $0.at) }
    }

    @Test func aBurstOfTheLimitPassesThenOneMoreIsRefused() {
        var bucket = RateBucket(limit: 3)
        let answers = Self.takes(&bucket, [(1, .zero), (1, .zero), (1, .zero), (1, .zero)], from: .now)
        #expect(answers == [true, true, true, false])
    }

    @Test func itRefillsAtTheLimitPerSecond() {
        var bucket = RateBucket(limit: 10)
        let answers = Self.takes(&bucket, [
            (10, .zero), (1, .milliseconds(50)), (1, .milliseconds(160)), (9, .seconds(5)), (2, .seconds(5)),
        ], from: .now)
        #expect(answers == [true, false, true, true, false])
    }

    @Test func aBatchLargerThanWhatIsLeftTakesNothing() {
        var bucket = RateBucket(limit: 5)
        let answers = Self.takes(&bucket, [(6, .zero), (5, .zero)], from: .now)
        #expect(answers == [false, true])
    }
}
