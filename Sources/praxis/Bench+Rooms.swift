import ArgumentParser
import Foundation
import PraxisClient

extension Bench {
    /// `praxis bench rooms`.
    struct Rooms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Practice rooms: K rooms × 2 peers sending turns; acknowledged-turn latency, deliveries, round-end persistence.",
            discussion: """
                Against any 'praxis serve' (allow the connections with --ws-max-connections-per-ip). \
                Set-up: signs up --users users (POST /auth/v1/signup), gives them profiles and creates K \
                public rooms with host and guest seated (POST /rest/v1/profiles and practice_rooms with the \
                service key). Each room's host and guest open their own connection to \
                /realtime/v1/websocket, join realtime:room:<id> with their access token, and the room is \
                put into role-play (set_timing 1800/1800 s, choose_case random, ready ×2, start_round, \
                start_roleplay), --concurrency rooms at a time. Then every peer sends turns (--turn-size \
                characters) so that all together send --rate turns a second for --duration seconds, and \
                records send → ok reply of each turn (the server replies once the turn is durable) in its \
                event loop's HDR histogram; both peers count the turn events they receive and check that \
                seq increases. After a drain (as long as the run, at least 10 s), every host sends \
                end_round at once and the send → ok time (round row, room stage and round id committed) is \
                the round-end persistence time. With --room-lifetime, rooms come and go at a steady rate \
                instead (see its help): every room ends its round after that many seconds of turns, one \
                every lifetime/rooms seconds, and rooms_ready counts the first rooms, peers all the peers \
                of the run.

                JSON fields: benchmark, url, rooms, rooms_ready, peers, rate, duration, users, setup_seconds, \
                turns_sent, turns_acked, turns_per_second, ack_p50_ms, ack_p90_ms, ack_p99_ms, ack_max_ms, \
                ack_mean_ms, deliveries, expected_deliveries (2 × turns acked), rounds_ended, round_end_p50_ms, \
                round_end_p99_ms, round_end_max_ms, error_replies, order_violations, unexpected_closes, \
                setup_failures, errors, first_error, client_cpu_seconds, server_pid, server_cpu_seconds, \
                server_cpu_ms_per_turn (null without --server-pid); from the server's /metrics (null when it does \
                not say): wal_written_bytes (what its writer appended to the WAL while turns were sent), \
                wal_written_bytes_per_turn (per acknowledged turn), wal_bytes_after and database_bytes_after (file \
                sizes at the end), server_rss_kib_after; and intervals (with --report-every: one object per interval \
                with end_seconds, turns_acked, ack_p50_ms, ack_p99_ms, ack_max_ms, wal_bytes, database_bytes, \
                server_rss_kib, wal_written_bytes).
                """
        )

        @OptionGroup var options: BenchOptions

        @Option(help: "The service_role key (praxis keys --db FILE): set-up.")
        var serviceKey: String

        @Option(help: "The anon key the peers connect with. Default: the service key.")
        var anonKey: String?

        @Option(help: "Rooms (1...\(BenchLimits.maxConnections / 2)); two connections each.")
        var rooms: Int

        @Option(help: "Turns per second over all peers (1...\(BenchLimits.maxChangeRate * 10)).")
        var rate: Int

        @Option(help: "Seconds of sending turns (at most \(BenchLimits.maxDuration)).")
        var duration: Double

        @Option(help: "Users signed up for the run (2...1000); rooms share them. Default 20.")
        var users: Int = 20

        @Option(help: "Rooms joined and prepared at once (1...\(BenchLimits.maxConcurrency)). Default 100.")
        var concurrency: Int = 100

        @Option(help: "Characters per turn (1...4000). Default 120.")
        var turnSize: Int = 120

        @Option(help: "Seconds between interval reports while turns are sent (1...duration): turns acked, ack latency, the server's WAL and database size (its /metrics) and memory (with --server-pid). Default: none.")
        var reportEvery: Double?

        @Option(help: "Seconds each room lives (1...duration): rooms at a steady rate. Each of the --rooms room slots runs fresh rooms one after another (end_round, peers closed, the next room joined and put into role-play), the slots' first rooms ending evenly staggered, so rooms/lifetime rooms end and start every second; round ends are measured at that rate, and the rooms running at the end are closed without ending. Default: every room for the whole run, ended together.")
        var roomLifetime: Double?

        func validate() throws {
            try BenchLimits.check(rooms, in: 1...(BenchLimits.maxConnections / 2), flag: "--rooms")
            try BenchLimits.check(rate, in: 1...(BenchLimits.maxChangeRate * 10), flag: "--rate")
            try BenchLimits.checkDuration(duration)
            try BenchLimits.check(users, in: 2...1000, flag: "--users")
            try BenchLimits.check(concurrency, in: 1...BenchLimits.maxConcurrency, flag: "--concurrency")
            try BenchLimits.check(turnSize, in: 1...4000, flag: "--turn-size")
            if let reportEvery, !(reportEvery >= 1 && reportEvery <= duration) {
                throw ValidationError("invalid value '\(reportEvery)' for '--report-every': must be 1 second up to --duration")
            }
            if let roomLifetime, !(roomLifetime >= 1 && roomLifetime <= duration) {
                throw ValidationError("invalid value '\(roomLifetime)' for '--room-lifetime': must be 1 second up to --duration")
            }
            if options.parsedURL?.path != nil {
                throw ValidationError("'--url' of rooms is the server's base, http://HOST:PORT, without a path")
            }
            try BenchLimits.checkKeys(service: serviceKey, anon: anonKey)
        }

        func run() async throws {
            try options.prepare(connections: 2 * rooms + 2)
            try options.checkServerPid()
            var configuration = options.configuration(count: rooms, target: options.target(defaultPath: "/"))
            configuration.serviceKey = serviceKey
            configuration.anonKey = anonKey
            configuration.rate = rate
            configuration.duration = duration
            configuration.users = users
            configuration.concurrency = concurrency
            configuration.turnSize = turnSize
            configuration.reportEvery = reportEvery
            configuration.roomLifetime = roomLifetime
            try await options.run("rooms") { try await RoomsBenchmark.run(configuration, progress: benchProgress) }
        }
    }
}
