import PraxisStore
import Testing

@Suite struct DatabaseLocationTests {
    @Test func aPathIsSQLite() throws {
        #expect(try DatabaseLocation.parse("./praxis.sqlite") == .sqlite(path: "./praxis.sqlite"))
        #expect(try DatabaseLocation.parse("/var/lib/praxis/db.sqlite") == .sqlite(path: "/var/lib/praxis/db.sqlite"))
    }

    @Test func aFullURL() throws {
        let location = try DatabaseLocation.parse("postgres://praxis:s3cret@db.example.org:6543/practice?sslmode=require")
        #expect(location == .postgres(PostgresLocation(
            user: "praxis", password: "s3cret", host: "db.example.org", port: 6543, database: "practice", sslMode: .require
        )))
    }

    @Test func defaultsAndTheLongScheme() throws {
        let location = try DatabaseLocation.parse("postgresql://me@localhost/praxis")
        #expect(location == .postgres(PostgresLocation(user: "me", host: "localhost", port: 5432, database: "praxis", sslMode: .prefer)))
    }

    @Test(arguments: PostgresLocation.SSLMode.allCases)
    func everySSLMode(mode: PostgresLocation.SSLMode) throws {
        guard case .postgres(let location) = try DatabaseLocation.parse("postgres://u@h/d?sslmode=\(mode.rawValue.uppercased())") else {
            Issue.record("not a PostgreSQL location")
            return
        }
        #expect(location.sslMode == mode)
    }

    @Test func percentEncodingAndIPv6() throws {
        let location = try DatabaseLocation.parse("postgres://us%40er:p%3Ass%2Fw@[::1]:5433/my%20db")
        #expect(location == .postgres(PostgresLocation(user: "us@er", password: "p:ss/w", host: "::1", port: 5433, database: "my db")))
    }

    @Test func thePasswordFromOutside() throws {
        let location = try DatabaseLocation.parse("postgres://u@h/d", password: "from-env")
        guard case .postgres(let postgres) = location else { Issue.record("not PostgreSQL"); return }
        #expect(postgres.password == "from-env")
        #expect(postgres.redacted == "postgres://u:***@h:5432/d?sslmode=prefer")
        #expect(!location.redacted.contains("from-env"))
    }

    @Test(arguments: [
        ("", "empty"),
        ("mysql://u@h/d", "unsupported database URL scheme 'mysql://'"),
        ("postgres://h/d", "names no user"),
        ("postgres://@h/d", "names no user"),
        ("postgres://u@/d", "names no host"),
        ("postgres://u@h:0/d", "invalid port '0'"),
        ("postgres://u@h:70000/d", "invalid port '70000'"),
        ("postgres://u@h:abc/d", "invalid port 'abc'"),
        ("postgres://u@h", "names no database"),
        ("postgres://u@h/", "names no database"),
        ("postgres://u@h/a/b", "invalid database name 'a/b'"),
        ("postgres://u@h/d?sslmode=verify-full", "invalid sslmode 'verify-full'"),
        ("postgres://u@h/d?application_name=x", "unknown parameter 'application_name'"),
        ("postgres://u%zz@h/d", "percent-encoding in the database URL's user"),
    ])
    func badURLsSayWhy(text: String, expected: String) {
        let error = #expect(throws: DatabaseLocationError.self) { try DatabaseLocation.parse(text) }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test func twoPasswordsAreRefused() {
        #expect(throws: DatabaseLocationError.self) { try DatabaseLocation.parse("postgres://u:a@h/d", password: "b") }
        #expect(throws: DatabaseLocationError.self) { try DatabaseLocation.parse("./file.sqlite", password: "b") }
    }
}
