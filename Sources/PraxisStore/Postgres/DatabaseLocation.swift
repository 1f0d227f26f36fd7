/// Where the store keeps its data: a SQLite file (the embedded default) or a PostgreSQL
/// database, as `--db` names it.
///
/// `--db` takes a file path, or `postgres://user[:password]@host[:port]/database` (also
/// `postgresql://`), with an optional `?sslmode=disable|prefer|require`. Anything else that
/// looks like a URL (has `://`) is refused rather than taken for a file name.
public enum DatabaseLocation: Sendable, Equatable {
    /// A SQLite database file.
    case sqlite(path: String)
    /// A PostgreSQL database.
    case postgres(PostgresLocation)

    /// Parses `--db`. Pure: no file or network is touched.
    ///
    /// - Parameter password: the password from `PRAXIS_DB_PASSWORD` or `--db-password-file`,
    ///   used when the URL has none; a password in the URL and another one here is an error
    ///   (which one was meant is not guessed).
    public static func parse(_ text: String, password: String? = nil) throws(DatabaseLocationError) -> DatabaseLocation {
        if text.isEmpty { throw .empty }
        guard let schemeEnd = text.firstRange(of: "://") else {
            if password != nil { throw .passwordForFile }
            return .sqlite(path: text)
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw .unsupportedScheme(String(scheme))
        }
        return .postgres(try PostgresLocation.parse(String(text[schemeEnd.upperBound...]), password: password))
    }

    /// The location for logs and messages: a PostgreSQL password is never shown.
    public var redacted: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.redacted
        }
    }
}
