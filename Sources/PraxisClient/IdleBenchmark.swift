/// The idle-memory benchmark: opens `count` connections that send nothing (answering pings),
/// holds them `hold` seconds, and reads the server's resident memory before and after.
public enum IdleBenchmark {
    /// Runs the benchmark; `progress` gets a status line once a second.
    public static func run(_ configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void) async throws -> BenchReport {
        guard let pid = configuration.serverPID, let serverBefore = ProcessProbe.rssKiB(pid: pid) else {
            let pid = configuration.serverPID.map { "\($0)" } ?? "?"
            throw BenchError(description: "cannot read VmRSS of process \(pid) (/proc/\(pid)/status)")
        }
        return try await BenchHarness.withLoops(configuration.threads) { group, _ in
            let recorder = BenchRecorder(group)
            let target = configuration.target
            let clientBefore = ProcessProbe.rssKiB(pid: ProcessProbe.ownPID)
            let (connections, connectSeconds) = await BenchHarness.connect(
                count: configuration.count, concurrency: configuration.concurrency, recorder: recorder, progress: progress
            ) { index in
                try await target.connect(group: recorder.eventLoops[recorder.loop(index)])
            }
            let holdStart = MonotonicClock.now()
            try await BenchHarness.withProgress(progress, line: {
                let rss = ProcessProbe.rssKiB(pid: pid).map { "\($0 / 1024) MiB" } ?? "?"
                return "holding \(connections.count) connections: \(Int(MonotonicClock.seconds(since: holdStart)))/\(Int(configuration.hold)) s, "
                    + "server RSS \(rss), closed early \(recorder[.unexpectedClose])"
            }) {
                try await Task.sleep(for: .seconds(configuration.hold))
            }
            let serverAfter = ProcessProbe.rssKiB(pid: pid) ?? serverBefore
            let clientAfter = ProcessProbe.rssKiB(pid: ProcessProbe.ownPID)
            let (opened, failures, early) = (connections.count, recorder[.connectFailure], recorder[.unexpectedClose])
            await recorder.closeAll(connections)

            let perConnection = opened > 0 ? Double(serverAfter - serverBefore) / Double(opened) : 0
            let clientPerConnection = opened > 0 ? clientBefore.flatMap { before in clientAfter.map { Double($0 - before) / Double(opened) } } : nil
            var report = BenchReport()
            report.add([
                "benchmark": "idle", "url": target.url, "connections": configuration.count, "concurrency": configuration.concurrency,
                "threads": configuration.threads, "opened": opened, "connect_failures": failures, "unexpected_closes": early,
                "errors": failures + early, "first_error": recorder.firstError, "connect_seconds": connectSeconds, "hold_seconds": configuration.hold,
                "server_pid": Int(pid), "server_rss_before_kib": serverBefore, "server_rss_after_kib": serverAfter,
                "server_rss_per_connection_kib": perConnection, "client_rss_per_connection_kib": clientPerConnection,
            ])
            report.summary.append(
                "idle \(target.url): \(opened)/\(configuration.count) connections held \(fixed(configuration.hold, 0)) s (opened in \(fixed(connectSeconds)) s)"
            )
            report.line("server RSS", "\(serverBefore) KiB before, \(serverAfter) KiB after: \(fixed(perConnection)) KiB per connection")
            report.line("client RSS", "\(clientPerConnection.map { fixed($0) } ?? "-") KiB per connection")
            report.errors(failures + early, "connect failures \(failures), closed early \(early)", first: recorder.firstError)
            return report
        }
    }
}
