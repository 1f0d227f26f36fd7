import ArgumentParser
import Foundation
import PraxisStore

/// `--db` (env `PRAXIS_DB`): a SQLite file path or a `postgres://` URL, with the password
/// from the URL, else `--db-password-file`, else `PRAXIS_DB_PASSWORD`.
enum DatabaseOption {
    static let defaultPath = "./praxis.sqlite"

    /// The location `--db` names, parsed (``DatabaseLocation/parse(_:password:)``).
    /// `option` names the flag in messages (`--db`, or `copy`'s `--to`).
    static func resolve(_ db: String?, passwordFile: String? = nil, option: String = "--db") throws -> DatabaseLocation {
        let text = try Environment.resolve(db, "PRAXIS_DB", default: defaultPath) { $0 }
        var password: String?
        if let passwordFile {
            guard let contents = FileManager.default.contents(atPath: passwordFile) else {
                throw ValidationError("cannot read \(option)-password-file \(passwordFile)")
            }
            password = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .newlines)
        } else if text.contains("://") {
            password = Environment.value("PRAXIS_DB_PASSWORD")
        }
        do {
            return try DatabaseLocation.parse(text, password: password)
        } catch {
            throw ValidationError("invalid value for '\(option)': \(error.message)")
        }
    }

    /// The SQLite path of `--db`, for the commands that do not run on PostgreSQL yet;
    /// `missing` says what of the command PostgreSQL does not have yet.
    static func sqlitePath(_ db: String?, command: String, missing: String) throws -> String {
        switch try resolve(db) {
        case .sqlite(let path):
            return path
        case .postgres(let location):
            throw CommandFailure(
                message: "not yet supported: 'praxis \(command)' on PostgreSQL (\(location.redacted)): \(missing); use a SQLite path for now"
            )
        }
    }

    /// Runs `body` on the settings of the database `location` names (migrated first, as
    /// `serve` and `migrate` do), closed afterwards. A SQLite file must exist already.
    static func withSettings<T>(
        _ location: DatabaseLocation, connectTimeout: Duration = .seconds(30), _ body: (any SettingsStore) async throws -> T
    ) async throws -> T {
        switch location {
        case .sqlite(let path):
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandFailure(message: "no database at \(path) (start the server or run 'praxis migrate' first)")
            }
            let store = try Store.open(StoreConfiguration(path: path))
            defer { try? store.close() }
            return try await body(store)
        case .postgres(let postgres):
            let database = PostgresDatabase(postgres, maximumConnections: 2)
            do {
                _ = try await database.migrate(within: connectTimeout)
                let result = try await body(database)
                await database.close()
                return result
            } catch {
                await database.close()
                throw error
            }
        }
    }
}
