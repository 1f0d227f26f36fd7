import Testing

@testable import PraxisHTTP

@Suite("Connection limits and log throttling")
struct ConnectionLimitTests {
    @Test("per-IP limit counts HTTP connections of one address; others still get in")
    func perIP() {
        var counts = ConnectionCounts(maxTotal: 10, maxPerIP: 2)
        #expect(counts.admit(ip: "10.0.0.1") == .admitted)
        #expect(counts.admit(ip: "10.0.0.1") == .admitted)
        #expect(counts.admit(ip: "10.0.0.1") == .overPerIP)
        #expect(counts.admit(ip: "10.0.0.2") == .admitted)
        counts.closed(ip: "10.0.0.1", wasUpgraded: false)
        #expect(counts.admit(ip: "10.0.0.1") == .admitted)
        #expect(counts.total == 3)
    }

    @Test("an upgraded WebSocket leaves the per-IP HTTP count but still holds a place in the total")
    func upgrade() {
        var counts = ConnectionCounts(maxTotal: 3, maxPerIP: 1)
        #expect(counts.admit(ip: "a") == .admitted)
        counts.upgraded(ip: "a")
        #expect(counts.httpConnections(ip: "a") == 0)
        #expect(counts.admit(ip: "a") == .admitted)
        #expect(counts.admit(ip: "b") == .admitted)
        #expect(counts.admit(ip: "c") == .overTotal)
        counts.closed(ip: "a", wasUpgraded: true)
        #expect(counts.httpConnections(ip: "a") == 1)
        #expect(counts.total == 2)
        #expect(counts.admit(ip: "c") == .admitted)
    }

    @Test("a repeated log line is written once per interval, the next one counting those held back")
    func throttle() {
        var throttle = LogThrottle(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(throttle.admit("k", now: start) == 0)
        #expect(throttle.admit("k", now: start + .seconds(1)) == nil)
        #expect(throttle.admit("k", now: start + .seconds(2)) == nil)
        #expect(throttle.admit("other", now: start + .seconds(2)) == 0)
        #expect(throttle.admit("k", now: start + .seconds(11)) == 2)
    }

    @Test("the default total limit leaves room below the open-file limit")
    func defaultTotal() {
        let configuration = HTTPServerConfiguration()
        #expect(configuration.maxConnections == nil)
        #expect(configuration.effectiveMaxConnections == max(1, OpenFileLimit.current - HTTPServerConfiguration.reservedDescriptors))
        #expect(HTTPServerConfiguration(maxConnections: 5).effectiveMaxConnections == 5)
    }
}
