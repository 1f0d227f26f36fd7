import NIOCore
import NIOEmbedded
import Testing

@testable import PraxisLoops

/// The per-loop repeating timers that replace a scheduled task per connection.
@Suite("Loop timers")
struct LoopTimersTests {
    final class Target: LoopTimerTarget {
        var fired = 0
        var stopAfter: Int
        init(stopAfter: Int = .max) { self.stopAfter = stopAfter }
        func timerFired() -> Bool {
            fired += 1
            return fired < stopAfter
        }
    }

    @Test func targetsFireEveryIntervalUntilTheyStop() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers()
        let steady = Target()
        let once = Target(stopAfter: 1)
        let slow = Target()
        timers.add(steady, every: .seconds(1), on: loop)
        loop.advanceTime(by: .milliseconds(500))
        timers.add(once, every: .seconds(1), on: loop)
        timers.add(slow, every: .seconds(5), on: loop)
        #expect(timers.count == 3)
        loop.advanceTime(by: .milliseconds(499))
        #expect(steady.fired == 0 && once.fired == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(steady.fired == 1 && once.fired == 0)
        loop.advanceTime(by: .milliseconds(500))
        #expect(steady.fired == 1 && once.fired == 1)
        #expect(timers.count == 2, "a target that stopped is dropped")
        loop.advanceTime(by: .seconds(4))
        #expect(steady.fired == 5 && once.fired == 1 && slow.fired == 1)
    }

    @Test func aCancelledTimerStopsAndReleasesItsTargetAtOnce() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers()
        var target: Target? = Target()
        weak var released = target
        let timer = timers.add(target!, every: .seconds(1), on: loop)
        timer.cancel()
        target = nil
        #expect(released == nil, "the queue keeps only the handle, not the target")
        loop.advanceTime(by: .seconds(2))
        #expect(timers.count == 0)
    }
}
