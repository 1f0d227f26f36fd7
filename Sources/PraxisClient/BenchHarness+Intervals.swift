/// One interval of a benchmark's timed phase (`RoomsBenchmark.Configuration.reportEvery`): the
/// main latencies recorded in it (the rooms benchmark: turns acked) and the server's figures at its end.
public struct BenchInterval: Sendable {
    /// Seconds since turns began, at the interval's end.
    public var endSeconds: Double
    public var turnsAcked: Int
    /// Ack latency of the turns acknowledged in the interval.
    public var ack: LatencySummary
    /// The server at the interval's end: its WAL file, database file, memory.
    public var walBytes: Int?
    public var databaseBytes: Int?
    public var rssKiB: Int?
    /// Bytes the server appended to its WAL during the interval.
    public var walWrittenBytes: Int?
}

extension BenchHarness {
    /// Every `every` seconds of the timed phase that began at `start`: the main latencies the
    /// recorders took in the interval (the rooms benchmark's turn acks), and the server's
    /// figures (WAL, database, memory) from `probe`; each also reported as a progress line.
    static func intervals(
        every: Double, start: UInt64, duration: Double, recorders: [LoopRecorder], probe: ServerProbe, before: ServerProbe.Sample,
        progress: @escaping @Sendable (String) -> Void
    ) async -> [BenchInterval] {
        var intervals: [BenchInterval] = []
        var written = before.walWrittenBytes
        var index = 1
        while Double(index) * every <= duration + 0.001 {
            let end = start + UInt64(Double(index) * every * 1e9)
            let now = MonotonicClock.now()
            if end > now { try? await Task.sleep(for: .nanoseconds(Int64(end - now))) }
            let histogram = await recorders.takeInterval()
            let sample = await probe.sample()
            let interval = BenchInterval(
                endSeconds: MonotonicClock.seconds(since: start), turnsAcked: histogram.count, ack: histogram.summary, walBytes: sample.walBytes,
                databaseBytes: sample.databaseBytes, rssKiB: sample.rssKiB,
                walWrittenBytes: written.flatMap { old in sample.walWrittenBytes.map { $0 - old } }
            )
            written = sample.walWrittenBytes
            intervals.append(interval)
            func mb(_ bytes: Int?) -> String { bytes.map { formatted(Double($0) / 1_048_576, digits: 1) + " MiB" } ?? "-" }
            let perTurn = interval.walWrittenBytes.map { interval.turnsAcked > 0 ? formatted(Double($0) / Double(interval.turnsAcked) / 1024, digits: 1) + " KiB" : "-" } ?? "-"
            progress(
                "interval t=\(Int(interval.endSeconds.rounded()))s: \(interval.turnsAcked) turns acked, ack p50 \(formatted(interval.ack.p50, digits: 2)) "
                    + "p99 \(formatted(interval.ack.p99, digits: 2)) max \(formatted(interval.ack.max, digits: 2)) ms; server WAL \(mb(sample.walBytes)), "
                    + "database \(mb(sample.databaseBytes)), RSS \(mb(sample.rssKiB.map { $0 * 1024 })), WAL written per turn \(perTurn)"
            )
            index += 1
        }
        return intervals
    }
}
