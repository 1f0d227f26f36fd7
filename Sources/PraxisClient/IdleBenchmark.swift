import NIOPosix

/// The idle-memory benchmark: opens N connections that send nothing, and reads the
/// server's resident memory before and after.
public enum IdleBenchmark {
    public struct Configuration: Sendable {
        public var target: BenchTarget
        public var connections: Int
        public var concurrency: Int
        public var threads: Int
        /// The server process, whose VmRSS is read.
        public var serverPID: Int32
        /// Seconds to keep the connections open before the second reading.
        public var hold: Double

        public init(target: BenchTarget, connections: Int, concurrency: Int, threads: Int, serverPID: Int32, hold: Double) {
            self.target = target
            self.connections = connections
            self.concurrency = concurrency
            self.threads = threads
            self.serverPID = serverPID
            self.hold = hold
        }
    }

    public struct Report: Sendable {
        public var opened: Int
        public var connectFailures: Int
        /// Connections that ended before the benchmark closed them.
        public var unexpectedCloses: Int
        public var firstError: String?
        public var connectSeconds: Double
        public var serverRSSBeforeKiB: Int
        public var serverRSSAfterKiB: Int
        public var clientRSSBeforeKiB: Int?
        public var clientRSSAfterKiB: Int?

        public var errors: Int { connectFailures + unexpectedCloses }

        /// Server memory added per open connection, in KiB.
        public var serverRSSPerConnectionKiB: Double {
            opened > 0 ? Double(serverRSSAfterKiB - serverRSSBeforeKiB) / Double(opened) : 0
        }

        /// Client memory added per open connection, in KiB.
        public var clientRSSPerConnectionKiB: Double? {
            guard opened > 0, let before = clientRSSBeforeKiB, let after = clientRSSAfterKiB else { return nil }
            return Double(after - before) / Double(opened)
        }
    }

    /// Runs the benchmark; `progress` gets a status line once a second.
    public static func run(_ configuration: Configuration, progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        guard let serverBefore = ProcessProbe.rssKiB(pid: configuration.serverPID) else {
            throw BenchError(description: "cannot read VmRSS of process \(configuration.serverPID) (/proc/\(configuration.serverPID)/status)")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        defer { group.shutdownGracefully { _ in } }
        let counters = RunCounters()
        let target = configuration.target
        let clientBefore = ProcessProbe.rssKiB(pid: ProcessProbe.ownPID)

        let (connections, connectSeconds) = await BenchHarness.connect(
            count: configuration.connections, concurrency: configuration.concurrency, counters: counters, progress: progress
        ) { _ in
            let connection = try await target.connect(group: group)
            counters.watch(connection)
            return connection
        }

        let holdStart = MonotonicClock.now()
        try await withProgress(progress, line: {
            let rss = ProcessProbe.rssKiB(pid: configuration.serverPID).map { "\($0 / 1024) MiB" } ?? "?"
            let held = Int(MonotonicClock.seconds(since: holdStart))
            return "holding \(connections.count) connections: \(held)/\(Int(configuration.hold)) s, server RSS \(rss), "
                + "closed early \(counters.unexpectedCloses.load(ordering: .relaxed))"
        }) {
            try await Task.sleep(for: .seconds(configuration.hold))
        }
        let serverAfter = ProcessProbe.rssKiB(pid: configuration.serverPID) ?? serverBefore
        let clientAfter = ProcessProbe.rssKiB(pid: ProcessProbe.ownPID)
        let unexpected = counters.unexpectedCloses.load(ordering: .relaxed)
        counters.stopping.store(true, ordering: .relaxed)
        _ = await closeAll(connections)

        return Report(
            opened: connections.count, connectFailures: counters.failed.load(ordering: .relaxed), unexpectedCloses: unexpected,
            firstError: counters.firstError, connectSeconds: connectSeconds, serverRSSBeforeKiB: serverBefore,
            serverRSSAfterKiB: serverAfter, clientRSSBeforeKiB: clientBefore, clientRSSAfterKiB: clientAfter
        )
    }
}
