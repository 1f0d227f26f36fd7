/// RFC 6455 §7.4 close codes, and which may appear on the wire.
public enum CloseCode {
    public static let normal: UInt16 = 1000
    public static let goingAway: UInt16 = 1001
    public static let protocolError: UInt16 = 1002
    public static let unacceptableData: UInt16 = 1003
    public static let invalidPayload: UInt16 = 1007
    public static let policyViolation: UInt16 = 1008
    public static let messageTooBig: UInt16 = 1009
    public static let internalError: UInt16 = 1011
    public static let tryAgainLater: UInt16 = 1013

    /// Whether `code` may be sent in a close frame: the registered codes 1000–1003,
    /// 1007–1014, and the application ranges 3000–4999. Never 1005, 1006 or 1015.
    public static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    /// A close frame's payload, parsed.
    public enum Payload: Equatable, Sendable {
        /// No status code.
        case empty
        case code(UInt16, reason: String)
        /// The payload breaks the rules: fail the connection with this code.
        case invalid(failWith: UInt16)
    }

    /// Parses and checks a received close payload (code, then UTF-8 reason).
    public static func parse(_ bytes: [UInt8]) -> Payload {
        if bytes.isEmpty { return .empty }
        guard bytes.count >= 2 else { return .invalid(failWith: protocolError) }
        let code = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard isValidOnWire(code) else { return .invalid(failWith: protocolError) }
        let reason = bytes[2...]
        guard UTF8Validator.isValid(reason) else { return .invalid(failWith: invalidPayload) }
        return .code(code, reason: String(decoding: reason, as: UTF8.self))
    }
}
