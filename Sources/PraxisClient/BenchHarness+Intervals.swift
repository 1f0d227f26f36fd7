import PraxisDomain

extension BenchHarness {
    /// Every `every` seconds of the timed phase that began at `start`: the main latencies the
    /// recorders took in the interval (the rooms benchmark's turn acks) and the server's
    /// figures (WAL, database, memory) from `probe`, as the report's `intervals` objects
    /// (end_seconds, turns_acked, ack_p50_ms, ack_p99_ms, ack_max_ms, wal_bytes,
    /// database_bytes, server_rss_kib, wal_written_bytes); each also a progress line.
    static func intervals(
        every: Double, start: UInt64, duration: Double, recorder: BenchRecorder, probe: ServerProbe, before: ServerProbe.Sample,
        progress: @escaping @Sendable (String) -> Void
    ) async -> [JSONValue] {
        var intervals: [JSONValue] = []
        var written = before.walWrittenBytes
        var index = 1
        while Double(index) * every <= duration + 0.001 {
            let end = start + UInt64(Double(index) * every * 1e9)
            let now = MonotonicClock.now()
            if end > now { try? await Task.sleep(for: .nanoseconds(Int64(end - now))) }
            let histogram = await recorder.takeInterval()
            let sample = await probe.sample()
            let ack = histogram.summary
            let seconds = MonotonicClock.seconds(since: start)
            let delta = written.flatMap { old in sample.walWrittenBytes.map { $0 - old } }
            written = sample.walWrittenBytes
            var report = BenchReport()
            report.add([
                "end_seconds": seconds, "turns_acked": histogram.count, "wal_bytes": sample.walBytes,
                "database_bytes": sample.databaseBytes, "server_rss_kib": sample.rssKiB, "wal_written_bytes": delta,
            ])
            report.latency("ack", ack, ["p50", "p99", "max"])
            intervals.append(.object(report.fields))
            func mb(_ bytes: Int?) -> String { bytes.map { fixed(Double($0) / 1_048_576, 1) + " MiB" } ?? "-" }
            let perTurn = delta.map { histogram.count > 0 ? fixed(Double($0) / Double(histogram.count) / 1024, 1) + " KiB" : "-" } ?? "-"
            progress(
                "interval t=\(Int(seconds.rounded()))s: \(histogram.count) turns acked, ack p50 \(fixed(ack.p50)) "
                    + "p99 \(fixed(ack.p99)) max \(fixed(ack.max)) ms; server WAL \(mb(sample.walBytes)), "
                    + "database \(mb(sample.databaseBytes)), RSS \(mb(sample.rssKiB.map { $0 * 1024 })), WAL written per turn \(perTurn)"
            )
            index += 1
        }
        return intervals
    }
}
