import ArgumentParser
import Foundation
import PraxisStore

/// `praxis copy`: a SQLite installation's data into an empty PostgreSQL database, verified
/// row by row (``StoreCopier``); prints the rows per table as one JSON object.
struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a SQLite database into an empty PostgreSQL database, verified row by row.",
        discussion: """
            Migrates the target, refuses it if any data table has rows, copies every table in one \
            transaction (the JWT secret too, so issued keys and tokens stay valid), then compares \
            every row. Prints {"table": rows, …} on success; exits 1 naming the table on refusal \
            or mismatch. Stop the server first, or the copy holds what it had committed when the \
            copy began.
            """
    )

    @Option(help: "The SQLite database file to copy from (read only).")
    var from: String

    @Option(help: "postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]: the empty database to copy into.")
    var to: String

    @Option(help: "Read the PostgreSQL password from this file (else env PRAXIS_DB_PASSWORD).")
    var toPasswordFile: String?

    @Option(help: "PostgreSQL: seconds to wait for the server and the migration lock before giving up. Default 30.")
    var connectTimeout: Int?

    func run() async throws {
        guard case .sqlite(let path) = try DatabaseOption.resolve(from, option: "--from") else {
            throw ValidationError("invalid value for '--from': a SQLite file path, not a URL")
        }
        guard case .postgres(let location) = try DatabaseOption.resolve(to, passwordFile: toPasswordFile, option: "--to") else {
            throw ValidationError("invalid value for '--to': a postgres:// URL")
        }
        let database = PostgresDatabase(location, maximumConnections: 2)
        let counts: [(table: String, rows: Int)]
        do {
            counts = try await StoreCopier(target: database).copy(from: path, connectTimeout: .seconds(connectTimeout ?? 30))
            await database.close()
        } catch {
            await database.close()
            throw CommandFailure(message: "\(error)")
        }
        print("{" + counts.map { "\"\($0.table)\":\($0.rows)" }.joined(separator: ",") + "}")
    }
}
