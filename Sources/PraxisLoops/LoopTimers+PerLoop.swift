public import NIOCore

extension LoopTimers {
    /// One ``LoopTimers`` for each event loop of a group, made once when a server starts, so a
    /// connection finds its loop's without a lock.
    package struct PerLoop: @unchecked Sendable {
        private let timers: [ObjectIdentifier: LoopTimers]

        /// Each of the timer sets is used only on its own loop.
        fileprivate init(_ timers: [ObjectIdentifier: LoopTimers]) {
            self.timers = timers
        }

        /// The timers of `loop`; a loop not of the group (a test's) gets a set of its own.
        package func of(_ loop: any EventLoop) -> LoopTimers {
            timers[ObjectIdentifier(loop)] ?? LoopTimers()
        }
    }

    /// Timer sets for the loops of `group`.
    package static func perLoop(of group: any EventLoopGroup) -> PerLoop {
        var timers: [ObjectIdentifier: LoopTimers] = [:]
        for loop in group.makeIterator() {
            timers[ObjectIdentifier(loop)] = LoopTimers()
        }
        return PerLoop(timers)
    }
}
