import ArgumentParser
import Foundation
import PraxisStore

/// `--db` (env `PRAXIS_DB`): a SQLite file path or a `postgres://` URL, with the password
/// from the URL, else `--db-password-file`, else `PRAXIS_DB_PASSWORD`.
enum DatabaseOption {
    static let defaultPath = "./praxis.sqlite"

    /// The location `--db` names, parsed (``DatabaseLocation/parse(_:password:)``).
    static func resolve(_ db: String?, passwordFile: String? = nil) throws -> DatabaseLocation {
        let text = try Environment.resolve(db, "PRAXIS_DB", default: defaultPath) { $0 }
        var password: String?
        if let passwordFile {
            guard let contents = FileManager.default.contents(atPath: passwordFile) else {
                throw ValidationError("cannot read --db-password-file \(passwordFile)")
            }
            password = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .newlines)
        } else if text.contains("://") {
            password = Environment.value("PRAXIS_DB_PASSWORD")
        }
        do {
            return try DatabaseLocation.parse(text, password: password)
        } catch {
            throw ValidationError("invalid value for '--db': \(error.message)")
        }
    }

    /// The SQLite path of `--db`, for the commands that do not run on PostgreSQL yet.
    static func sqlitePath(_ db: String?, command: String) throws -> String {
        switch try resolve(db) {
        case .sqlite(let path):
            return path
        case .postgres(let location):
            throw CommandFailure(
                message: "not yet supported: 'praxis \(command)' on PostgreSQL (\(location.redacted)); only 'praxis migrate' runs there so far"
            )
        }
    }
}
