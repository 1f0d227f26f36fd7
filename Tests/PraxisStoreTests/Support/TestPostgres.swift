import Foundation
import PraxisStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for the tests: one per test run, started on first use.
///
/// `initdb` into a temporary folder (as the `postgres` OS user when the tests run as root),
/// `trust` authentication, a free loopback port, `-k` a temporary socket folder; started
/// with `postgres` from ``binDirectory`` and ready once `pg_isready` says so (polled, with a
/// deadline). A watchdog shell beside it stops the cluster and removes the folder as soon as
/// the test process is gone, whether the run passed, failed or crashed. No system service.
final class TestPostgres: Sendable {
    /// `PRAXIS_PG_BIN`, else Debian's PostgreSQL 15.
    static let binDirectory = ProcessInfo.processInfo.environment["PRAXIS_PG_BIN"] ?? "/usr/lib/postgresql/15/bin"

    static var binariesPresent: Bool {
        ["initdb", "postgres", "pg_isready", "createdb"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: "\(binDirectory)/\($0)")
        }
    }

    /// Whether the PostgreSQL tests run: the binaries are there, or this is CI (`CI` set),
    /// where missing binaries must fail the run rather than skip it.
    static var enabled: Bool { binariesPresent || ProcessInfo.processInfo.environment["CI"] != nil }

    static let skipReason: Comment = "PostgreSQL binaries not found in \(binDirectory) (scripts/setup installs Debian's postgresql); skipped outside CI"

    /// The cluster of this test run.
    static func shared() async throws -> TestPostgres {
        try await sharedCluster.value
    }

    private static let sharedCluster = Task { try TestPostgres.start() }

    let port: Int
    let root: String
    private let counter = DatabaseCounter()

    private init(port: Int, root: String) {
        self.port = port
        self.root = root
    }

    /// A new, empty database on the cluster, and its location.
    func freshDatabase() throws -> PostgresLocation {
        let name = "praxis_test_\(counter.next())"
        try Self.run("\(Self.binDirectory)/createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", name])
        return PostgresLocation(user: "postgres", host: "127.0.0.1", port: port, database: name, sslMode: .disable)
    }

    private static func start() throws -> TestPostgres {
        guard binariesPresent else {
            throw TestPostgresError("PostgreSQL binaries missing in \(binDirectory) and CI is set: run scripts/setup")
        }
        let root = try makeTemporaryFolder()
        let data = "\(root)/data"
        let sockets = "\(root)/sockets"
        try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: false)
        let asRoot = getuid() == 0
        if asRoot { try chown(root, to: "postgres") }
        try run("\(binDirectory)/initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"], asPostgres: asRoot)
        let port = try freeLoopbackPort()
        let server = [
            "\(binDirectory)/postgres", "-D", data, "-p", "\(port)", "-k", sockets, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=60",
        ].map(shellQuoted).joined(separator: " ")
        // The watchdog: postgres in the background; once the test process is gone, a fast
        // shutdown and the folder removed.
        let script = """
            \(server) >\(shellQuoted("\(root)/postgres.log")) 2>&1 &
            pg=$!
            while [ -d /proc/\(getpid()) ] && kill -0 $pg 2>/dev/null; do sleep 1; done
            kill -INT $pg 2>/dev/null; wait $pg
            rm -rf \(shellQuoted(root))
            """
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: asRoot ? "/usr/sbin/runuser" : "/bin/sh")
        watchdog.arguments = asRoot ? ["-u", "postgres", "--", "/bin/sh", "-c", script] : ["-c", script]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try watchdog.run()
        try waitUntilReady(port: port, root: root, deadline: .now + .seconds(30))
        return TestPostgres(port: port, root: root)
    }

    /// Polls `pg_isready` until the server accepts connections or the deadline passes.
    private static func waitUntilReady(port: Int, root: String, deadline: ContinuousClock.Instant) throws {
        while ContinuousClock.now < deadline {
            if (try? run("\(binDirectory)/pg_isready", ["-q", "-h", "127.0.0.1", "-p", "\(port)", "-t", "1"])) != nil { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let log = (try? String(contentsOfFile: "\(root)/postgres.log", encoding: .utf8)) ?? "(no log)"
        throw TestPostgresError("PostgreSQL did not accept connections on 127.0.0.1:\(port) within 30 s; its log:\n\(log)")
    }

    private static func makeTemporaryFolder() throws -> String {
        var template = Array("\(NSTemporaryDirectory())/praxis-pg-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestPostgresError("mkdtemp failed: errno \(errno)") }
        let path = String(cString: made)
        chmod(path, 0o755)
        return path
    }

    private static func chown(_ path: String, to user: String) throws {
        guard let entry = getpwnam(user) else { throw TestPostgresError("no '\(user)' OS user to run PostgreSQL as (root may not)") }
        let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
        let paths = [path] + (((try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []).map { "\(path)/\($0)" })
        for item in paths where Glibc.chown(item, uid, gid) != 0 {
            throw TestPostgresError("chown \(item) failed: errno \(errno)")
        }
    }

    /// Binds 127.0.0.1:0 and returns the port the kernel chose.
    private static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestPostgresError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestPostgresError("bind 127.0.0.1:0 failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String], asPostgres: Bool = false) throws -> String {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: asPostgres ? "/usr/sbin/runuser" : tool)
        process.arguments = asPostgres ? ["-u", "postgres", "--", tool] + arguments : arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestPostgresError("\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text)")
        }
        return text
    }

    private static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

struct TestPostgresError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A thread-safe counter for database names.
final class DatabaseCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
