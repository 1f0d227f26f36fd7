import Foundation
public import PraxisDomain

/// What a benchmark found: `fields`, the object `--json` prints (PraxisDomain's JSON value:
/// sorted keys, explicit nulls, doubles rounded to 3 decimals), and `summary`, the same
/// figures as lines for people.
public struct BenchReport: Sendable {
    public var fields: [String: JSONValue] = [:]
    public var summary: [String] = []

    /// The `--json` text.
    public var json: String { JSONValue.object(fields).jsonString }

    /// Adds figures: numbers, strings, JSON values; nil as null.
    mutating func add(_ figures: KeyValuePairs<String, (any BenchFigure)?>) {
        for (key, value) in figures { fields[key] = value?.json ?? .null }
    }

    /// `NAME_p50_ms` … `NAME_mean_ms` of a latency summary (those in `which`).
    mutating func latency(_ name: String, _ summary: LatencySummary, _ which: [String] = ["p50", "p90", "p99", "max", "mean"]) {
        let values = ["p50": summary.p50, "p90": summary.p90, "p99": summary.p99, "max": summary.max, "mean": summary.mean]
        for key in which { fields["\(name)_\(key)_ms"] = values[key]!.json }
    }

    /// The CPU figures of the timed phase: client_cpu_seconds, server_pid, server_cpu_seconds,
    /// machine_cpu_seconds, and with `deliveries`, the client's and the server's seconds per
    /// million deliveries; and their lines: the client's, the server's and the machine's
    /// (`machine`: what the figure covers), with `note` on a line of its own after the client's.
    mutating func cpu(
        _ cpu: BenchHarness.CPUUsage, serverPID: Int32?, deliveries: Int? = nil, machine: String = "all cores, kernel network work included",
        note: String? = nil
    ) {
        add([
            "client_cpu_seconds": cpu.client, "server_pid": serverPID.map { Int($0) }, "server_cpu_seconds": cpu.server,
            "machine_cpu_seconds": cpu.machine,
        ])
        if let deliveries {
            add([
                "client_cpu_seconds_per_million_deliveries": Self.perMillion(cpu.client, deliveries),
                "server_cpu_seconds_per_million_deliveries": cpu.server.flatMap { Self.perMillion($0, deliveries) },
            ])
        }
        line("client CPU", "\(fixed(cpu.client)) s")
        if let note { summary.append("  " + note) }
        if let server = cpu.server {
            let perMillion = deliveries.map { deliveries in ", \(Self.perMillion(server, deliveries).map { fixed($0) } ?? "-") s per million deliveries" }
            line("server CPU", "\(fixed(server)) s" + (perMillion ?? ""))
        }
        if let busy = cpu.machine { line("machine CPU", "\(fixed(busy)) s busy (\(machine))") }
    }

    static func perMillion(_ seconds: Double, _ deliveries: Int) -> Double? {
        deliveries > 0 ? seconds / (Double(deliveries) / 1e6) : nil
    }

    /// A summary line: the label in a column of 16, then the text.
    mutating func line(_ label: String, _ text: String) {
        summary.append("  " + label + String(repeating: " ", count: max(0, 16 - label.count)) + text)
    }

    /// The `errors` line: the total, what it is made of, the first error.
    mutating func errors(_ total: Int, _ parts: String, first: String?) {
        line("errors", "\(total) (\(parts))" + (first.map { "; first: \($0)" } ?? ""))
    }

    /// What the subscribers received over the measured phase of `seconds`: the delivery
    /// fields (with `extra` when asked) and the latencies, and their two summary lines.
    mutating func deliveries(_ deliveries: Int, expected: Int, seconds: Double, latency: LatencySummary, extra: Bool = false) {
        let (missing, beyond, perSecond) = (max(expected - deliveries, 0), max(deliveries - expected, 0), BenchHarness.rate(deliveries, seconds))
        add([
            "expected_deliveries": expected, "deliveries": deliveries, "missing": missing, "delivery_seconds": seconds,
            "deliveries_per_second": perSecond,
        ])
        if extra { add(["extra": beyond]) }
        self.latency("latency", latency)
        line(
            "deliveries", "\(deliveries) of \(expected) expected, \(missing) missing, " + (extra ? "\(beyond) extra, " : "")
                + "\(fixed(perSecond, 0))/s over \(fixed(seconds)) s"
        )
        latencyLine(latency)
    }

    /// The `latency ms` line: p50, p90, p99 and max.
    mutating func latencyLine(_ latency: LatencySummary, label: String = "latency ms") {
        line(label, "p50 \(fixed(latency.p50)), p90 \(fixed(latency.p90)), p99 \(fixed(latency.p99)), max \(fixed(latency.max))")
    }
}

/// A value `BenchReport.add` takes.
protocol BenchFigure {
    var json: JSONValue { get }
}

extension Int: BenchFigure {
    var json: JSONValue { .number(Double(self)) }
}

extension Double: BenchFigure {
    var json: JSONValue { .number(isFinite ? (self * 1000).rounded() / 1000 : 0) }
}

extension String: BenchFigure {
    var json: JSONValue { .string(self) }
}

extension JSONValue: BenchFigure {
    var json: JSONValue { self }
}

/// `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int = 2) -> String {
    String(format: "%.\(digits)f", value)
}
