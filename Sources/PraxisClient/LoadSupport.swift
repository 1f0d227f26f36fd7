import Histogram
import NIOCore

import Foundation

/// Where a benchmark connects: host, port and the endpoint's path.
public struct BenchTarget: Sendable {
    public var host: String
    public var port: Int
    public var path: String

    public init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    /// The realtime endpoint; with `key`, its `apikey` and `vsn` parameters.
    static func realtime(host: String, port: Int, key: String? = nil) -> BenchTarget {
        BenchTarget(host: host, port: port, path: "/realtime/v1/websocket" + (key.map { "?apikey=\($0)&vsn=1.0.0" } ?? ""))
    }

    /// `ws://host:port/path`, for reports.
    public var url: String {
        "ws://\(WebSocketURL.authority(host: host, port: port))\(path)"
    }

    func connect(
        group: any EventLoopGroup, onMessage: @escaping @Sendable (WebSocketClientMessage) -> Void = { _ in }
    ) async throws -> WebSocketClientConnection {
        try await WebSocketClient.connect(host: host, port: port, path: path, group: group, onMessage: onMessage)
    }
}

/// The monotonic clock that send timestamps and receive times share (one process).
enum MonotonicClock {
    /// Nanoseconds of CLOCK_MONOTONIC.
    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    static func seconds(since start: UInt64) -> Double { Double(now() &- start) / 1e9 }
}

/// The fan-out payload: `{"t":<send time in ns>,"p":"xxx…"}`, padded to an exact size.
public enum BenchPayload {
    /// The smallest size that fits any timestamp.
    public static let minimumSize = 40

    static func make(timestamp: UInt64, size: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: size)
        buffer.writeStaticString("{\"t\":")
        buffer.writeString(String(timestamp))
        buffer.writeStaticString(",\"p\":\"")
        buffer.writeRepeatingByte(UInt8(ascii: "x"), count: max(size - buffer.readableBytes - 2, 0))
        buffer.writeStaticString("\"}")
        return buffer
    }

    /// The send timestamp of a payload made by `make`, or nil for anything else.
    static func timestamp(of buffer: ByteBuffer) -> UInt64? {
        buffer.withUnsafeReadableBytes { bytes -> UInt64? in
            guard bytes.starts(with: #"{"t":"#.utf8) else { return nil }
            return PhoenixBytes.integer(bytes, at: 5).map { UInt64($0) }
        }
    }
}

/// Latencies in microseconds, 3 significant digits, up to 600 s.
struct LatencyHistogram: Sendable {
    private(set) var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)

    mutating func record(nanoseconds: UInt64) {
        histogram.record(min(max(nanoseconds / 1000, 1), 600_000_000))
    }

    mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    var count: Int { Int(histogram.totalCount) }

    /// Percentiles in milliseconds (0 when nothing was recorded).
    var summary: LatencySummary {
        guard histogram.totalCount > 0 else { return LatencySummary(p50: 0, p90: 0, p99: 0, max: 0, mean: 0) }
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        return LatencySummary(
            p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
            p99: ms(histogram.valueAtPercentile(99)), max: ms(histogram.max), mean: histogram.mean.rounded() / 1000
        )
    }
}

/// Latency percentiles in milliseconds.
public struct LatencySummary: Sendable, Equatable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double
    public var mean: Double
}

/// Figures about processes: CPU time, resident memory (the open-file limit is
/// PraxisHTTP's `OpenFileLimit`).
public enum ProcessProbe {
    /// User plus system CPU seconds of process `pid` (from /proc/PID/stat), nil when unreadable.
    public static func cpuSeconds(pid: Int32) -> Double? {
        #if os(Linux)
        guard let stat = readFile("/proc/\(pid)/stat"), let end = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ticks > 0 ? (user + system) / ticks : nil
        #else
        return nil
        #endif
    }

    /// CPU seconds the whole machine spent busy so far, all cores added (user, nice,
    /// system, irq and softirq of /proc/stat's "cpu" line), nil when unreadable. The
    /// difference over a run, less the client's and the server's, is what else ran.
    public static func machineBusySeconds() -> Double? {
        #if os(Linux)
        guard let stat = readFile("/proc/stat"), let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 7 else { return nil }
        let perSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return perSecond > 0 ? (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / perSecond : nil
        #else
        return nil
        #endif
    }

    /// Resident set size of process `pid` in KiB (VmRSS in /proc/PID/status), nil when unreadable.
    public static func rssKiB(pid: Int32) -> Int? {
        guard let status = readFile("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }

    /// This process's user plus system CPU seconds (its CPU-time clock).
    public static func ownCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// This process's id.
    public static var ownPID: Int32 { getpid() }

    private static func readFile(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }
}
