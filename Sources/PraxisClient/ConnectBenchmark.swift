/// The handshake benchmark: opens and cleanly closes `count` connections, `concurrency` at a
/// time, and times each opening (TCP connect plus upgrade). handshakes_per_second is
/// connections opened and closed per second of the whole run.
public enum ConnectBenchmark {
    /// Runs the benchmark; `progress` gets a status line once a second.
    public static func run(_ configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void) async -> BenchReport {
        await BenchHarness.withLoops(configuration.threads) { group, _ in
            let recorder = BenchRecorder(group)
            let target = configuration.target
            let phase = await BenchHarness.timed(serverPID: configuration.serverPID, progress: progress, line: { _ in
                "handshakes: \(recorder[.opened])/\(configuration.count) done, \(recorder[.connectFailure]) failed"
            }) { _ in
                await BenchHarness.bounded(count: configuration.count, concurrency: configuration.concurrency) { _ -> (latency: UInt64, clean: Bool)? in
                    let begin = MonotonicClock.now()
                    do {
                        let connection = try await target.connect(group: group)
                        let took = MonotonicClock.now() &- begin
                        let result = await connection.close()
                        recorder.count(.opened)
                        return (took, result.clean)
                    } catch {
                        recorder.failure(error)
                        return nil
                    }
                }
            }
            var histogram = LatencyHistogram()
            for outcome in phase.result { histogram.record(nanoseconds: outcome.latency) }
            return report(configuration, recorder: recorder, phase: phase, latency: histogram.summary)
        }
    }

    private static func report(
        _ configuration: BenchConfiguration, recorder: BenchRecorder, phase: BenchHarness.Phase<[(latency: UInt64, clean: Bool)]>,
        latency: LatencySummary
    ) -> BenchReport {
        let opened = phase.result.count
        let clean = phase.result.filter(\.clean).count
        let failures = recorder[.connectFailure]
        var report = BenchReport()
        report.add([
            "benchmark": "connect", "url": configuration.target.url, "connections": configuration.count, "concurrency": configuration.concurrency,
            "threads": configuration.threads, "opened": opened, "closed_cleanly": clean, "connect_failures": failures,
            "unclean_closes": opened - clean, "errors": failures + opened - clean, "first_error": recorder.firstError, "seconds": phase.seconds,
            "handshakes_per_second": BenchHarness.rate(opened, phase.seconds),
        ])
        report.latency("latency", latency)
        report.summary.append(
            "connect \(configuration.target.url): \(configuration.count) connections, \(configuration.concurrency) at a time, "
                + "\(configuration.threads) client threads"
        )
        report.line(
            "opened", "\(opened), closed cleanly \(clean), in \(fixed(phase.seconds)) s (\(fixed(BenchHarness.rate(opened, phase.seconds), 0)) handshakes/s)"
        )
        report.latencyLine(latency)
        report.errors(failures + opened - clean, "connect failures \(failures), unclean closes \(opened - clean)", first: recorder.firstError)
        report.cpu(phase.cpu, serverPID: configuration.serverPID, machine: "all cores")
        return report
    }
}
