import NIOCore

/// Reads a server's own figures during a run: its database gauges from `/metrics`
/// (`praxis_db_wal_bytes`, `praxis_db_file_bytes`, `praxis_db_wal_written_bytes_total`) and
/// its resident memory from /proc (when its pid is known). Any figure it cannot read is nil.
final class ServerProbe: Sendable {
    /// One reading.
    struct Sample: Sendable {
        var walBytes: Int?
        var databaseBytes: Int?
        /// Bytes the server's writer appended to its WAL since it started.
        var walWrittenBytes: Int?
        var rssKiB: Int?
    }

    private let host: String
    private let port: Int
    private let pid: Int32?
    private let eventLoop: any EventLoop

    init(host: String, port: Int, pid: Int32?, eventLoop: any EventLoop) {
        self.host = host
        self.port = port
        self.pid = pid
        self.eventLoop = eventLoop
    }

    /// Reads the figures, on a connection of its own: samples are a minute apart, longer than
    /// the server keeps an idle keep-alive connection (`--http-idle-timeout`).
    func sample() async -> Sample {
        var sample = Sample(rssKiB: pid.flatMap(ProcessProbe.rssKiB(pid:)))
        guard let connection = try? await BenchHTTPConnection.connect(host: host, port: port, eventLoop: eventLoop) else { return sample }
        let answer = try? await connection.request(method: .GET, uri: "/metrics", headers: [], body: nil, timeout: .seconds(10))
        await connection.close()
        guard let answer, answer.status == 200 else { return sample }
        let values = Self.parse(answer.bodyText)
        sample.walBytes = values["praxis_db_wal_bytes"].map { Int($0) }
        sample.databaseBytes = values["praxis_db_file_bytes"].map { Int($0) }
        sample.walWrittenBytes = values["praxis_db_wal_written_bytes_total"].map { Int($0) }
        return sample
    }

    /// Unlabelled samples of the Prometheus text format, by name.
    static func parse(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, !parts[0].contains("{"), let value = Double(parts[1]) else { continue }
            values[String(parts[0])] = value
        }
        return values
    }
}
