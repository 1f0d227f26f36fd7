/// permessage-deflate (RFC 7692) negotiation: which offer we accept and what we answer.
///
/// The server always adds `server_no_context_takeover`: every message it sends is
/// compressed on its own, so one compressed copy of a broadcast serves every subscriber.
public struct PerMessageDeflate: Equatable, Sendable {
    /// The client resets its compression context after each message.
    public var clientNoContextTakeover: Bool
    /// Largest LZ77 window the server may use, 9...15.
    public var serverMaxWindowBits: Int

    public init(clientNoContextTakeover: Bool = false, serverMaxWindowBits: Int = 15) {
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
    }

    /// The `Sec-WebSocket-Extensions` response value.
    public var responseHeader: String {
        var parts = ["permessage-deflate", "server_no_context_takeover"]
        if clientNoContextTakeover { parts.append("client_no_context_takeover") }
        if serverMaxWindowBits != 15 { parts.append("server_max_window_bits=\(serverMaxWindowBits)") }
        return parts.joined(separator: "; ")
    }

    /// The first acceptable permessage-deflate offer among the request's
    /// `Sec-WebSocket-Extensions` values, or nil (then no extension is used).
    public static func negotiate(offers headerValues: [String]) -> PerMessageDeflate? {
        for value in headerValues {
            for offer in value.split(separator: ",") {
                if let accepted = accept(offer: offer) { return accepted }
            }
        }
        return nil
    }

    static func accept(offer: Substring) -> PerMessageDeflate? {
        let parts = offer.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
        guard parts.first?.lowercased() == "permessage-deflate" else { return nil }
        var result = PerMessageDeflate()
        var seen: Set<String> = []
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: " \t\"") }
            let name = pair[0].lowercased()
            guard seen.insert(name).inserted else { return nil }  // A parameter given twice declines the offer.
            let value = pair.count == 2 ? pair[1] : nil
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { return nil }
            case "client_no_context_takeover":
                guard value == nil else { return nil }
                result.clientNoContextTakeover = true
            case "server_max_window_bits":
                // zlib cannot honour a window of 8 for raw deflate: decline such an offer.
                guard let value, let bits = Int(value), (9...15).contains(bits), value.first != "0" else { return nil }
                result.serverMaxWindowBits = bits
            case "client_max_window_bits":
                if let value {
                    guard let bits = Int(value), (8...15).contains(bits), value.first != "0" else { return nil }
                }
            default:
                return nil
            }
        }
        return result
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, set.contains(last) { scalars = scalars.dropLast() }
        return String(scalars)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
