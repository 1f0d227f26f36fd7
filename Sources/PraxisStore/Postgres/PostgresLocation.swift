/// A PostgreSQL database as `--db postgres://user[:password]@host[:port]/database` names it.
public struct PostgresLocation: Sendable, Equatable {
    /// How the connection uses TLS (`?sslmode=`); libpq's names, a subset.
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP only.
        case disable
        /// TLS if the server offers it, else plain TCP. The default, as in libpq.
        case prefer
        /// TLS or no connection (the server's certificate is verified).
        case require
    }

    public var user: String
    public var password: String?
    public var host: String
    /// Default 5432.
    public var port: Int
    public var database: String
    /// Default ``SSLMode/prefer``.
    public var sslMode: SSLMode

    public init(user: String, password: String? = nil, host: String, port: Int = 5432, database: String, sslMode: SSLMode = .prefer) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.sslMode = sslMode
    }

    /// The URL with the password left out, for logs.
    public var redacted: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let secret = password == nil ? "" : ":***"
        return "postgres://\(user)\(secret)@\(shownHost):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// Parses what follows `postgres://`.
    static func parse(_ rest: String, password extra: String?) throws(DatabaseLocationError) -> PostgresLocation {
        var rest = Substring(rest)
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw .missingDatabase }
        let authority = rest[..<slash]
        let path = rest[rest.index(after: slash)...]
        guard let at = authority.lastIndex(of: "@") else { throw .missingUser }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]

        var user = userInfo
        var password: String?
        if let colon = userInfo.firstIndex(of: ":") {
            user = userInfo[..<colon]
            password = try decode(userInfo[userInfo.index(after: colon)...], part: "password")
        }
        let userName = try decode(user, part: "user")
        if userName.isEmpty { throw .missingUser }
        if password != nil, extra != nil { throw .twoPasswords }

        let (host, port) = try parseHostPort(hostPort)
        let database = try decode(path, part: "database")
        if database.isEmpty { throw .missingDatabase }
        if database.contains("/") { throw .badDatabase(database) }

        var location = PostgresLocation(user: userName, password: password ?? extra, host: host, port: port, database: database)
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]) : ""
            guard name == "sslmode" else { throw .unknownParameter(name) }
            guard let mode = SSLMode(rawValue: value.lowercased()) else { throw .badSSLMode(value) }
            location.sslMode = mode
        }
        return location
    }

    static func parseHostPort(_ text: Substring) throws(DatabaseLocationError) -> (String, Int) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .missingHost }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .missingHost }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        if host.isEmpty { throw .missingHost }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value), portText.allSatisfy(\.isASCII) else {
                throw .badPort(String(portText))
            }
            port = value
        }
        return (String(host), port)
    }

    /// Percent-decodes one URL part (UTF-8).
    static func decode(_ text: Substring, part: String) throws(DatabaseLocationError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw .badEncoding(part)
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .badEncoding(part) }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
