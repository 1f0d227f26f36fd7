import NIOPosix

/// The handshake benchmark: opens and cleanly closes N connections, C at a time, and
/// times each opening (TCP connect plus upgrade).
public enum ConnectBenchmark {
    public struct Configuration: Sendable {
        public var target: BenchTarget
        public var connections: Int
        /// Connections being opened (or closed) at once.
        public var concurrency: Int
        public var threads: Int
        /// The server process, for its CPU time.
        public var serverPID: Int32?

        public init(target: BenchTarget, connections: Int, concurrency: Int, threads: Int) {
            self.target = target
            self.connections = connections
            self.concurrency = concurrency
            self.threads = threads
        }
    }

    public struct Report: Sendable {
        public var opened: Int
        public var closedCleanly: Int
        public var connectFailures: Int
        public var uncleanCloses: Int
        public var firstError: String?
        /// Wall time of the whole run (opening and closing).
        public var seconds: Double
        /// Connections opened and closed per second of the run.
        public var handshakesPerSecond: Double
        /// From TCP connect to the 101 being processed.
        public var latency: LatencySummary
        public var clientCPUSeconds: Double
        public var serverCPUSeconds: Double?
        /// Busy CPU seconds of the whole machine (all cores) over the run.
        public var machineCPUSeconds: Double?

        public var errors: Int { connectFailures + uncleanCloses }
    }

    /// Runs the benchmark; `progress` gets a status line once a second.
    public static func run(_ configuration: Configuration, progress: @escaping @Sendable (String) -> Void) async -> Report {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        defer { group.shutdownGracefully { _ in } }
        let counters = RunCounters()
        let target = configuration.target
        let phase = await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { _ in
            "handshakes: \(counters.opened.load(ordering: .relaxed))/\(configuration.connections) done, \(counters.failed.load(ordering: .relaxed)) failed"
        }) { _ in
            await BenchHarness.bounded(count: configuration.connections, concurrency: configuration.concurrency) { _ -> Outcome? in
                let begin = MonotonicClock.now()
                do {
                    let connection = try await target.connect(group: group)
                    let took = MonotonicClock.now() &- begin
                    let result = await connection.close()
                    counters.opened.wrappingAdd(1, ordering: .relaxed)
                    return Outcome(latency: took, clean: result.clean)
                } catch {
                    counters.failure(error)
                    return Outcome(latency: nil, clean: false)
                }
            }
        }
        let outcomes = phase.result
        let seconds = phase.seconds

        var histogram = LatencyHistogram()
        for outcome in outcomes { if let latency = outcome.latency { histogram.record(nanoseconds: latency) } }
        let opened = outcomes.filter { $0.latency != nil }.count
        let clean = outcomes.filter { $0.latency != nil && $0.clean }.count
        return Report(
            opened: opened, closedCleanly: clean, connectFailures: counters.failed.load(ordering: .relaxed), uncleanCloses: opened - clean,
            firstError: counters.firstError, seconds: seconds, handshakesPerSecond: Double(opened) / max(seconds, 0.001),
            latency: histogram.summary, clientCPUSeconds: phase.cpu.client, serverCPUSeconds: phase.cpu.server,
            machineCPUSeconds: phase.cpu.machine
        )
    }

    private struct Outcome: Sendable {
        var latency: UInt64?
        var clean: Bool
    }
}
