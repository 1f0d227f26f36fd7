import NIOPosix

/// The run loop the load benchmarks share: set-up with bounded concurrency, a timed phase
/// with the CPU of client, server and machine measured over it and a progress line once a
/// second, and the drain that waits for the last answers up to a deadline. Each scenario
/// (`FanoutBenchmark`, `BoardBenchmark`, `RoomsBenchmark`, `ConnectBenchmark`) says only
/// what it opens, sends and counts.
enum BenchHarness {
    /// CPU seconds spent over a phase; server and machine are nil when /proc cannot say.
    struct CPUUsage: Sendable {
        var client: Double
        var server: Double?
        var machine: Double?
    }

    /// What a timed phase measured.
    struct Phase<Result> {
        var result: Result
        /// The phase's start on the monotonic clock.
        var start: UInt64
        /// Wall seconds of the phase.
        var seconds: Double
        var cpu: CPUUsage
    }

    /// Runs `body(start)` as the measured phase: the CPU time of the server (when its pid is
    /// known), this process and the machine read before and after, `line(start)`
    /// printed through `progress` once a second meanwhile.
    static func timed<Result>(
        serverPID: Int32?, progress: @escaping @Sendable (String) -> Void, line: @escaping @Sendable (_ start: UInt64) -> String,
        _ body: (_ start: UInt64) async throws -> Result
    ) async rethrows -> Phase<Result> {
        let server = serverPID.flatMap(ProcessProbe.cpuSeconds(pid:))
        let (client, machine) = (ProcessProbe.ownCPUSeconds(), ProcessProbe.machineBusySeconds())
        let start = MonotonicClock.now()
        let result = try await withProgress(progress, line: { line(start) }) { try await body(start) }
        let seconds = MonotonicClock.seconds(since: start)
        let cpu = CPUUsage(
            client: ProcessProbe.ownCPUSeconds() - client,
            server: server.flatMap { before in serverPID.flatMap(ProcessProbe.cpuSeconds(pid:)).map { $0 - before } },
            machine: machine.flatMap { before in ProcessProbe.machineBusySeconds().map { $0 - before } }
        )
        return Phase(result: result, start: start, seconds: seconds, cpu: cpu)
    }

    /// Waits, polling every 5 ms, until `done()` or until `deadline` seconds after `start`.
    static func drain(since start: UInt64, deadline: Double, until done: () -> Bool) async throws {
        while !done(), MonotonicClock.seconds(since: start) < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Runs `body(i)` for every i in 0..<count, at most `concurrency` at once; the non-nil
    /// results in the order they finished.
    static func bounded<T: Sendable>(count: Int, concurrency: Int, _ body: @escaping @Sendable (Int) async -> T?) async -> [T] {
        await withTaskGroup(of: T?.self) { group in
            var next = 0
            func start() {
                let index = next
                next += 1
                group.addTask { await body(index) }
            }
            while next < min(concurrency, count) { start() }
            var results: [T] = []
            for await result in group {
                if let result { results.append(result) }
                if next < count { start() }
            }
            return results
        }
    }

    /// The set-up phase of the scenarios that hold many connections: opens `count` with
    /// `open(i)` (`concurrency` at once; each counted on its loop and watched, failures counted
    /// and kept by `recorder`), printing
    /// "`verb`: opened/count `state`, failed failed" once a second; the connections in order
    /// of index and the seconds it took.
    static func connect(
        count: Int, concurrency: Int, recorder: BenchRecorder, progress: @escaping @Sendable (String) -> Void, verb: String = "connecting",
        state: String = "open", open: @escaping @Sendable (Int) async throws -> WebSocketClientConnection
    ) async -> (connections: [WebSocketClientConnection], seconds: Double) {
        let start = MonotonicClock.now()
        let opened = await withProgress(progress, line: {
            "\(verb): \(recorder[.opened])/\(count) \(state), \(recorder[.connectFailure]) failed"
        }) {
            await bounded(count: count, concurrency: concurrency) { index -> (Int, WebSocketClientConnection)? in
                do {
                    let connection = try await open(index)
                    recorder.count(.opened)
                    recorder.count(.connection, loop: recorder.loop(index))
                    recorder.watch(connection)
                    return (index, connection)
                } catch {
                    recorder.failure(error)
                    return nil
                }
            }
        }
        return (opened.sorted { $0.0 < $1.0 }.map(\.1), MonotonicClock.seconds(since: start))
    }

    /// Runs `body` while printing `line()` through `report` once a second.
    static func withProgress<T>(
        _ report: @escaping @Sendable (String) -> Void, line: @escaping @Sendable () -> String, _ body: () async throws -> T
    ) async rethrows -> T {
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                report(line())
            }
        }
        defer { ticker.cancel() }
        return try await body()
    }

    /// Runs `body` with `threads` client event loops (and `extra` more of their own, for a
    /// publisher or a writer), shut down when it returns.
    static func withLoops<T>(
        _ threads: Int, extra: Int = 0, _ body: (MultiThreadedEventLoopGroup, MultiThreadedEventLoopGroup) async throws -> T
    ) async rethrows -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let side = MultiThreadedEventLoopGroup(numberOfThreads: max(extra, 1))
        defer {
            group.shutdownGracefully { _ in }
            side.shutdownGracefully { _ in }
        }
        return try await body(group, side)
    }

    /// `count` per second of `seconds` (a zero duration counts as 1 ms).
    static func rate(_ count: Int, _ seconds: Double) -> Double { Double(count) / max(seconds, 0.001) }

    /// The total per second since `start`, as progress lines show it.
    static func perSecond(_ count: Int, since start: UInt64) -> Int { Int(rate(count, MonotonicClock.seconds(since: start))) }
}
