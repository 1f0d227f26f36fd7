/// A parsed `ws://host[:port][/path]` address (`http://` is read as `ws://`: the same host
/// and port). Only plain `ws://` is spoken (no TLS).
public struct WebSocketURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// The path with its query, or nil when the URL names no path (or just "/").
    public var path: String?

    /// Parses `ws://host[:port][/path]` or `http://…`; IPv6 hosts in brackets (`ws://[::1]:8080`).
    /// Returns nil for other schemes, a missing host or a bad port.
    public init?(_ text: String) {
        guard let scheme = ["ws://", "http://"].first(where: { text.lowercased().hasPrefix($0) }) else { return nil }
        var rest = Substring(text.dropFirst(scheme.count))
        let slash = rest.firstIndex(of: "/")
        let authority = slash.map { rest[..<$0] } ?? rest
        rest = slash.map { rest[$0...] } ?? ""
        var hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { return nil }
        host = String(hostPart)
        if let portPart {
            guard let value = Int(portPart), (1...65535).contains(value) else { return nil }
            port = value
        } else {
            port = 80
        }
        path = (rest.isEmpty || rest == "/") ? nil : String(rest)
    }

    /// `host:port` as a Host header and a URL write it (an IPv6 host in brackets).
    static func authority(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether the host is a loopback address: `localhost`, 127.0.0.0/8 or `::1`.
    public var isLoopback: Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }
}
