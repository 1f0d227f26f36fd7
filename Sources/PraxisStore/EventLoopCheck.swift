#if DEBUG
import NIOPosix
#endif

/// The debug-build guard of the store's one rule for callers: no database work on a NIO
/// event loop (a blocking SQLite call there stalls every connection on that loop).
///
/// Every read and write reaches SQLite through `Store.pool`, which calls `check()` first,
/// so a store call made on an event-loop thread stops the process in a debug build (and so
/// in every test run; the crash's backtrace names the caller). Release builds compile it away.
enum EventLoopCheck {
    /// Whether the current thread runs a NIO event loop (always false in a release build).
    static var isOnEventLoop: Bool {
        #if DEBUG
        MultiThreadedEventLoopGroup.currentEventLoop != nil
        #else
        false
        #endif
    }

    /// Stops the process (debug builds only) when the current thread is an event loop's.
    @inline(__always)
    static func check() {
        #if DEBUG
        if isOnEventLoop {
            preconditionFailure("PraxisStore called on an event loop: database work must run off the loop (see the backtrace for the caller)")
        }
        #endif
    }
}
