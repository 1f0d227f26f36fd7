import Testing

@testable import PraxisHTTP

/// `OpenFileLimit`: the one home of the `RLIMIT_NOFILE` code (server cap, bench clients).
@Suite("Open-file limit")
struct OpenFileLimitTests {
    @Test func raisingNeverLowersAndReportsTheLimitNowInForce() {
        let before = OpenFileLimit.current
        let raised = OpenFileLimit.raiseToHardLimit()
        #expect(raised >= before)
        #expect(OpenFileLimit.current == raised)
        // Raising again is a no-op.
        #expect(OpenFileLimit.raiseToHardLimit() == raised)
    }
}
