/// What one benchmark run does (`praxis bench SCENARIO`): one configuration for every
/// scenario; each reads the fields that apply to it (the defaults are the commands').
public struct BenchConfiguration: Sendable {
    /// The server. Fanout, connect and idle connect to its path; board and rooms take its host
    /// and port (the realtime endpoint, `BenchTarget.realtime`).
    public var target: BenchTarget
    /// Client event loops (the fan-out publisher and the board writer have one of their own).
    public var threads: Int
    /// The server process, for its CPU time and memory.
    public var serverPID: Int32?
    /// Subscribers (fanout, board), connections (connect, idle) or rooms (rooms).
    public var count: Int
    /// Connections being opened at once (connect: opened and closed; rooms: rooms being prepared).
    public var concurrency = 200
    /// Messages (fanout), room changes (board) or turns over all peers (rooms) per second.
    public var rate = 1
    /// Seconds of publishing, writing or sending turns.
    public var duration = 1.0
    /// Fanout: bytes per message; and each client event loop's share in the report.
    public var size = 200
    public var connectionsPerLoop = false
    /// Idle: seconds the connections are held before the second memory reading.
    public var hold = 5.0
    /// Board and rooms: the service_role key (set-up, the board's writes), and the key the
    /// subscribers or peers connect with (default: the service key).
    public var serviceKey = ""
    public var anonKey: String?
    /// Board: the writer's keep-alive HTTP connections and its most requests in flight; a
    /// subscriber's heartbeat interval and join bound, seconds.
    public var writerConnections = 16
    public var maxInFlight = 256
    public var heartbeatInterval = 20.0
    public var joinTimeout = 15.0
    /// Rooms: users signed up (room i: host i mod users/2, guest the same of the other half),
    /// characters per turn, and seconds between interval reports (nil: none).
    public var users = 20
    public var turnSize = 120
    public var reportEvery: Double?
    /// Rooms: seconds each room lives (nil, the default: every room for the whole run, all
    /// started and ended together). Set: rooms at a steady rate (`runSteady`), each room slot
    /// running fresh rooms one after another, their starts and ends staggered evenly.
    public var roomLifetime: Double?

    public init(target: BenchTarget, threads: Int, serverPID: Int32?, count: Int) {
        self.target = target
        self.threads = threads
        self.serverPID = serverPID
        self.count = count
    }

    /// After the timed phase, how long to wait for the last deliveries and answers: as long
    /// as the phase lasted, at least 10 s.
    var drainTimeout: Double { max(10, duration) }

    /// What the fan-out publisher or the board writer sends in all: rate × duration, at least 1.
    var total: Int { max(1, Int((Double(rate) * duration).rounded())) }

    /// The realtime endpoint of the server (`ws://host:port/realtime/v1/websocket` in reports).
    var realtime: BenchTarget { BenchTarget.realtime(host: target.host, port: target.port) }

    /// The key subscribers and peers connect with.
    var clientKey: String { anonKey ?? serviceKey }
}
