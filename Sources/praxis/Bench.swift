import ArgumentParser
import Foundation
import PraxisClient
import PraxisHTTP

/// `praxis bench`: load tools for the WebSocket transport of a running `praxis serve --echo`.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the WebSocket transport (fan-out, handshakes, idle memory) and the realtime board feed.",
        discussion: """
            fanout, connect and idle run against a server started with 'praxis serve --echo'; board \
            against any 'praxis serve' (its service key). Loopback hosts only unless \
            --allow-remote is given; every run is bounded (at most \(BenchLimits.maxDuration) s of \
            publishing or writing, \(BenchLimits.maxConnections) connections) and stops by itself. A progress line \
            goes to stderr once a second; the summary goes to stdout, or with --json one JSON object \
            goes to stdout (and the summary to stderr). scripts/bench runs the standard set and \
            writes BENCHMARKS.md.
            """,
        subcommands: [Fanout.self, Connect.self, Idle.self, Board.self, Rooms.self]
    )
}

/// The bounds of every benchmark.
enum BenchLimits {
    static let maxDuration = 600
    static let maxConnections = 50_000
    static let maxRate = 1_000_000
    static let maxSize = 1 << 20
    static let maxThreads = 256
    static let maxConcurrency = 5_000
    /// Room changes per second of the board benchmark.
    static let maxChangeRate = 10_000
    static let maxWriterConnections = 256
    static let maxInFlight = 1_000

    /// Refuses a `--service-key` or `--anon-key` that cannot be a JWT (exit status 2).
    static func checkKeys(service: String, anon: String?) throws {
        for (name, key) in [("--service-key", service), ("--anon-key", anon ?? "x")]
        where key.isEmpty || key.contains(where: { !($0.isLetter || $0.isNumber || "-_.".contains($0)) }) {
            throw ValidationError("invalid value for '\(name)': expected a JWT (letters, digits, '-', '_', '.')")
        }
    }

    /// Refuses a `--duration` that is not more than 0 and at most `maxDuration` (exit status 2).
    static func checkDuration(_ duration: Double) throws {
        guard duration > 0, duration <= Double(maxDuration) else {
            throw ValidationError("invalid value '\(duration)' for '--duration': must be more than 0 and at most \(maxDuration)")
        }
    }

    /// Refuses `value` outside `range`, naming the flag (exit status 2).
    static func check(_ value: Int, in range: ClosedRange<Int>, flag: String) throws {
        guard range.contains(value) else {
            throw ValidationError("invalid value '\(value)' for '\(flag)': must be \(range.lowerBound)...\(range.upperBound)")
        }
    }
}

/// Options every benchmark takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "The server, ws://HOST:PORT (http://HOST:PORT is taken too). A path in it replaces the benchmark's endpoint.")
    var url: String

    @Flag(help: "Allow a host that is not a loopback address.")
    var allowRemote = false

    @Option(help: "Client event-loop threads. Default: one per core.")
    var threads: Int?

    @Option(help: "Process id of the server, to read its CPU time (/proc/PID/stat) or memory (/proc/PID/status).")
    var serverPid: Int32?

    @Flag(help: "Print one JSON object with all figures on stdout (the summary goes to stderr).")
    var json = false

    func validate() throws {
        guard let parsed = parsedURL else {
            throw ValidationError("invalid value '\(url)' for '--url': expected ws://HOST:PORT or http://HOST:PORT")
        }
        if !parsed.isLoopback, !allowRemote {
            throw ValidationError("'\(parsed.host)' is not a loopback address; pass --allow-remote to load a remote server")
        }
        if let threads, !(1...BenchLimits.maxThreads).contains(threads) {
            throw ValidationError("invalid value '\(threads)' for '--threads': must be 1...\(BenchLimits.maxThreads)")
        }
        if let serverPid, serverPid < 1 {
            throw ValidationError("invalid value '\(serverPid)' for '--server-pid'")
        }
    }

    /// `--url` parsed (`http://` is read as `ws://`).
    var parsedURL: WebSocketURL? { WebSocketURL(url) }

    /// The endpoint: the URL's path when it has one, else `defaultPath`.
    func target(defaultPath: String) -> BenchTarget {
        let parsed = parsedURL!  // validated
        return BenchTarget(host: parsed.host, port: parsed.port, path: parsed.path ?? defaultPath)
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// Raises the open-file limit and checks that `connections` sockets fit under it.
    func prepare(connections: Int) throws {
        let limit = OpenFileLimit.raiseToHardLimit()
        if connections + 64 > limit {
            throw CommandFailure(message: "open-file limit \(limit) is too low for \(connections) connections (raise the hard limit: ulimit -Hn)")
        }
    }

    /// The server's CPU seconds at this moment, when --server-pid was given.
    func checkServerPid() throws {
        if let serverPid, ProcessProbe.cpuSeconds(pid: serverPid) == nil {
            throw CommandFailure(message: "cannot read /proc/\(serverPid)/stat (no such process?)")
        }
    }

    /// The settings every benchmark shares, for `count` connections (subscribers, rooms).
    func configuration(count: Int, target: BenchTarget) -> BenchConfiguration {
        BenchConfiguration(target: target, threads: threadCount, serverPID: serverPid, count: count)
    }

    /// Runs a benchmark, then prints its figures: JSON on stdout with --json (the summary on
    /// stderr), else the summary on stdout. A failure is reported as "NAME benchmark failed: …".
    func run(_ name: String, _ benchmark: () async throws -> BenchReport) async throws {
        let report: BenchReport
        do {
            report = try await benchmark()
        } catch {
            throw CommandFailure(message: "\(name) benchmark failed: \(error)")
        }
        let text = report.summary.joined(separator: "\n") + "\n"
        if json {
            FileHandle.standardError.write(Data(text.utf8))
            print(report.json)
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

/// Writes progress lines to stderr.
let benchProgress: @Sendable (String) -> Void = { line in
    FileHandle.standardError.write(Data("praxis bench: \(line)\n".utf8))
}

extension Bench {
    /// `praxis bench fanout`.
    struct Fanout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fan-out: one publisher, N subscribers on /ws/broadcast; deliveries, latency, CPU.",
            discussion: """
                Opens the subscribers (200 at a time), then one publisher that sends --rate messages a \
                second of --size bytes for --duration seconds: {"t":<send time, ns, monotonic>,"p":"xx…"}. \
                Every subscriber counts deliveries and records receive time − send time in its event \
                loop's HDR histogram; the histograms are merged at the end. After publishing, waits for \
                the last deliveries as long as the publishing lasted (at least 10 s). The server must allow the rate: \
                praxis serve --echo --ws-max-messages-per-second N (default 100).

                JSON fields: benchmark, url, subscribers, subscribers_connected, rate, size, duration, \
                threads, connect_seconds, published, publish_seconds, publish_rate, expected_deliveries \
                (published × subscribers connected), deliveries, missing, delivery_seconds (publishing \
                plus drain), deliveries_per_second, latency_p50_ms, latency_p90_ms, latency_p99_ms, \
                latency_max_ms, latency_mean_ms, connect_failures, unexpected_closes, malformed_messages, \
                errors (their sum), first_error, client_cpu_seconds, client_cpu_seconds_per_million_deliveries, \
                server_pid, server_cpu_seconds, server_cpu_seconds_per_million_deliveries (the last three \
                null without --server-pid), machine_cpu_seconds (busy CPU seconds of the whole machine, \
                all cores, from /proc/stat; beyond the client's and the server's, it is the kernel's \
                network work and whatever else ran), and with --connections-per-loop, loops: [{connections, \
                deliveries, latency_p99_ms}]. CPU seconds cover publishing plus drain.
                """
        )

        @OptionGroup var options: BenchOptions

        @Option(help: "Subscriber connections (1...\(BenchLimits.maxConnections)).")
        var subscribers: Int

        @Option(help: "Messages per second the publisher sends (1...\(BenchLimits.maxRate)).")
        var rate: Int

        @Option(help: "Bytes per message (\(BenchPayload.minimumSize)...\(BenchLimits.maxSize)).")
        var size: Int = 200

        @Option(help: "Seconds of publishing (at most \(BenchLimits.maxDuration)).")
        var duration: Double

        @Flag(help: "Also report each client event loop's connections, deliveries and p99.")
        var connectionsPerLoop = false

        func validate() throws {
            try BenchLimits.check(subscribers, in: 1...BenchLimits.maxConnections, flag: "--subscribers")
            try BenchLimits.check(rate, in: 1...BenchLimits.maxRate, flag: "--rate")
            guard (BenchPayload.minimumSize...BenchLimits.maxSize).contains(size) else {
                throw ValidationError("invalid value '\(size)' for '--size': must be \(BenchPayload.minimumSize)...\(BenchLimits.maxSize)")
            }
            try BenchLimits.checkDuration(duration)
        }

        func run() async throws {
            try options.prepare(connections: subscribers + 1)
            try options.checkServerPid()
            var configuration = options.configuration(count: subscribers, target: options.target(defaultPath: "/ws/broadcast"))
            configuration.rate = rate
            configuration.size = size
            configuration.duration = duration
            configuration.connectionsPerLoop = connectionsPerLoop
            try await options.run("fan-out") { try await FanoutBenchmark.run(configuration, progress: benchProgress) }
        }    }

    /// `praxis bench connect`.
    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Handshakes: open and cleanly close N connections to /ws/echo, C at a time.",
            discussion: """
                Each connection is opened (TCP connect and upgrade, timed), then closed with the \
                closing handshake; C run at once. handshakes_per_second is connections opened and \
                closed per second of the whole run.

                JSON fields: benchmark, url, connections, concurrency, threads, opened, closed_cleanly, \
                connect_failures, unclean_closes, errors, first_error, seconds, handshakes_per_second, \
                latency_p50_ms, latency_p90_ms, latency_p99_ms, latency_max_ms, latency_mean_ms, \
                client_cpu_seconds, server_pid, server_cpu_seconds (null without --server-pid), machine_cpu_seconds.
                """
        )

        @OptionGroup var options: BenchOptions

        @Option(help: "Connections to open and close (1...\(BenchLimits.maxConnections)).")
        var connections: Int

        @Option(help: "Connections in progress at once (1...\(BenchLimits.maxConcurrency)). Default 50.")
        var concurrency: Int = 50

        func validate() throws {
            try BenchLimits.check(connections, in: 1...BenchLimits.maxConnections, flag: "--connections")
            try BenchLimits.check(concurrency, in: 1...BenchLimits.maxConcurrency, flag: "--concurrency")
        }

        func run() async throws {
            try options.prepare(connections: concurrency)
            try options.checkServerPid()
            var configuration = options.configuration(count: connections, target: options.target(defaultPath: "/ws/echo"))
            configuration.concurrency = concurrency
            try await options.run("connect") { await ConnectBenchmark.run(configuration, progress: benchProgress) }
        }    }

    /// `praxis bench idle`.
    struct Idle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Idle memory: hold N quiet connections to /ws/echo; the server's RSS per connection.",
            discussion: """
                Reads the server's VmRSS, opens N connections that send nothing (answering pings), \
                holds them --hold seconds, reads VmRSS again, then closes them. Run it on a fresh \
                server: memory freed by earlier runs is reused and hides the cost.

                JSON fields: benchmark, url, connections, concurrency, threads, opened, connect_failures, \
                unexpected_closes, errors, first_error, connect_seconds, hold_seconds, server_pid, \
                server_rss_before_kib, server_rss_after_kib, server_rss_per_connection_kib, \
                client_rss_per_connection_kib.
                """
        )

        @OptionGroup var options: BenchOptions

        @Option(help: "Connections to hold open (1...\(BenchLimits.maxConnections)).")
        var connections: Int

        @Option(help: "Connections being opened at once (1...\(BenchLimits.maxConcurrency)). Default 200.")
        var concurrency: Int = 200

        @Option(help: "Seconds to hold the connections before measuring (0...\(BenchLimits.maxDuration)). Default 5.")
        var hold: Double = 5

        func validate() throws {
            try BenchLimits.check(connections, in: 1...BenchLimits.maxConnections, flag: "--connections")
            try BenchLimits.check(concurrency, in: 1...BenchLimits.maxConcurrency, flag: "--concurrency")
            guard hold >= 0, hold <= Double(BenchLimits.maxDuration) else {
                throw ValidationError("invalid value '\(hold)' for '--hold': must be 0...\(BenchLimits.maxDuration)")
            }
            guard options.serverPid != nil else {
                throw ValidationError("missing '--server-pid': the idle benchmark reads the server's memory")
            }
        }

        func run() async throws {
            try options.prepare(connections: connections)
            var configuration = options.configuration(count: connections, target: options.target(defaultPath: "/ws/echo"))
            configuration.concurrency = concurrency
            configuration.hold = hold
            try await options.run("idle") { try await IdleBenchmark.run(configuration, progress: benchProgress) }
        }    }
}

extension Bench {
    /// `praxis bench board`.
    struct Board: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Realtime board feed: N subscribers on realtime:board, room changes through the data API; deliveries, latency, CPU.",
            discussion: """
                Against any 'praxis serve' (no --echo needed; allow the connections with \
                --ws-max-connections-per-ip). Set-up with the service key: signs up one host user \
                (POST /auth/v1/signup) and creates its profile (POST /rest/v1/profiles). Then opens N \
                connections to /realtime/v1/websocket?apikey=KEY&vsn=1.0.0 (200 at a time), each joining \
                topic realtime:board with a postgres_changes binding on public.practice_rooms as \
                realtime-py sends it (access_token = KEY), waiting for the ok reply and the system \
                "subscribed" message, and sending a heartbeat every 20 s. KEY is --anon-key (anonymous \
                subscribers, under the access rules) or, without it, the service key. A writer then \
                makes --rate changes a second for --duration seconds through the data API with the \
                service key, over --writer-connections pipelined keep-alive HTTP/1.1 connections with at \
                most --max-in-flight requests outstanding: alternately the INSERT of a new public room \
                (its room_url carries the send time) and a PATCH of a room whose INSERT was answered \
                (datetime_utc or type; its send time is kept by room id). Every subscriber counts the \
                changes it receives, checks that data.offset increases strictly on its connection, and \
                records receive time − send time of the request that made the change (one monotonic \
                clock) in its event loop's HDR histogram. After writing, waits for the last deliveries \
                as long as the writing lasted (at least 10 s).

                JSON fields: benchmark, url, subscribers, subscribers_connected, subscriber_role (anon or \
                service_role), rate, duration, threads, writer_connections, max_in_flight, connect_seconds, \
                requests, changes (confirmed by the data API), inserts, updates, change_seconds (first \
                request to last answer), change_rate (changes per second achieved), write_latency_p50_ms, \
                write_latency_p99_ms, write_latency_max_ms (data-API round trips), expected_deliveries \
                (changes × subscribers connected), deliveries, missing, extra, delivery_seconds (writing \
                plus drain), deliveries_per_second, latency_p50_ms, latency_p90_ms, latency_p99_ms, \
                latency_max_ms, latency_mean_ms, connect_failures (join failures included), \
                join_failures, unexpected_closes, malformed_messages, order_violations, channel_errors, \
                write_failures, unanswered_requests, errors (the sum of connect_failures, \
                unexpected_closes, malformed_messages, order_violations, channel_errors, write_failures \
                and unanswered_requests), foreign_changes (changes of rooms this run did not make; not \
                errors), first_error, client_cpu_seconds, client_cpu_seconds_per_million_deliveries, \
                server_pid, server_cpu_seconds, server_cpu_seconds_per_million_deliveries (the last \
                three null without --server-pid), machine_cpu_seconds. CPU seconds cover writing plus drain.
                """
        )

        @OptionGroup var options: BenchOptions

        @Option(help: "The service_role key (praxis keys --db FILE): set-up and writes, and the subscribers' key without --anon-key.")
        var serviceKey: String

        @Option(help: "The anon key: subscribers connect and join as anonymous callers. Default: the service key.")
        var anonKey: String?

        @Option(help: "Subscriber connections (1...\(BenchLimits.maxConnections)).")
        var subscribers: Int

        @Option(help: "Room changes per second the writer makes (1...\(BenchLimits.maxChangeRate)).")
        var rate: Int

        @Option(help: "Seconds of writing (at most \(BenchLimits.maxDuration)).")
        var duration: Double

        @Option(help: "Keep-alive HTTP connections of the writer (1...\(BenchLimits.maxWriterConnections)). Default 16.")
        var writerConnections: Int = 16

        @Option(help: "Most data-API requests in flight at once (1...\(BenchLimits.maxInFlight)). Default 256.")
        var maxInFlight: Int = 256

        @Option(help: "Subscribers connecting and joining at once (1...\(BenchLimits.maxConcurrency)). Default 200.")
        var concurrency: Int = 200

        func validate() throws {
            try BenchLimits.check(subscribers, in: 1...BenchLimits.maxConnections, flag: "--subscribers")
            try BenchLimits.check(rate, in: 1...BenchLimits.maxChangeRate, flag: "--rate")
            try BenchLimits.checkDuration(duration)
            try BenchLimits.check(writerConnections, in: 1...BenchLimits.maxWriterConnections, flag: "--writer-connections")
            try BenchLimits.check(maxInFlight, in: 1...BenchLimits.maxInFlight, flag: "--max-in-flight")
            try BenchLimits.check(concurrency, in: 1...BenchLimits.maxConcurrency, flag: "--concurrency")
            if options.parsedURL?.path != nil {
                throw ValidationError("'--url' of board is the server's base, http://HOST:PORT, without a path")
            }
            try BenchLimits.checkKeys(service: serviceKey, anon: anonKey)
        }

        func run() async throws {
            try options.prepare(connections: subscribers + writerConnections + 1)
            try options.checkServerPid()
            var configuration = options.configuration(count: subscribers, target: options.target(defaultPath: "/"))
            configuration.serviceKey = serviceKey
            configuration.anonKey = anonKey
            configuration.rate = rate
            configuration.duration = duration
            configuration.writerConnections = writerConnections
            configuration.maxInFlight = maxInFlight
            configuration.concurrency = concurrency
            try await options.run("board") { try await BoardBenchmark.run(configuration, progress: benchProgress) }
        }    }
}
