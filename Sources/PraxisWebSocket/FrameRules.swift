/// The RFC 6455 rules for a sequence of received frames (§5.2–5.6): masking, reserved
/// bits and opcodes, control frames, fragmentation, message size, and the UTF-8 of text.
/// A plain struct: the handler feeds it frame headers and text bytes, it says what to do.
public struct FrameRules: Sendable {
    public enum Opcode: UInt8, Sendable {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// What to do with one frame.
    public enum Decision: Equatable, Sendable {
        /// A control frame (ping, pong, close) to handle now.
        case control(Opcode)
        /// A fragment of a data message. `text` and `compressed` describe the whole message.
        case data(text: Bool, compressed: Bool, final: Bool)
        /// Fail the connection with this close code.
        case fail(code: UInt16, reason: String)
    }

    private struct Message {
        var text: Bool
        var compressed: Bool
        var size: Int
    }

    /// Largest message, in bytes (after inflation for compressed messages).
    public let maxMessageBytes: Int
    /// Whether permessage-deflate was negotiated (RSV1 then marks a compressed message).
    public let deflate: Bool

    private var message: Message?
    private var validator = UTF8Validator()

    public init(maxMessageBytes: Int, deflate: Bool) {
        self.maxMessageBytes = maxMessageBytes
        self.deflate = deflate
    }

    /// Whether a fragmented message is in progress.
    public var inMessage: Bool { message != nil }

    /// Checks one frame's header.
    public mutating func frame(
        fin: Bool, opcode rawOpcode: UInt8, rsv1: Bool, rsv2: Bool, rsv3: Bool, masked: Bool, length: Int
    ) -> Decision {
        guard masked else { return .fail(code: CloseCode.protocolError, reason: "client frames must be masked") }
        guard !rsv2, !rsv3 else { return .fail(code: CloseCode.protocolError, reason: "reserved bits set without an extension") }
        guard let opcode = Opcode(rawValue: rawOpcode) else {
            return .fail(code: CloseCode.protocolError, reason: "reserved opcode \(rawOpcode)")
        }
        switch opcode {
        case .close, .ping, .pong:
            guard fin else { return .fail(code: CloseCode.protocolError, reason: "fragmented control frame") }
            guard length <= 125 else { return .fail(code: CloseCode.protocolError, reason: "control frame over 125 bytes") }
            guard !rsv1 else { return .fail(code: CloseCode.protocolError, reason: "RSV1 on a control frame") }
            return .control(opcode)
        case .text, .binary:
            guard message == nil else {
                return .fail(code: CloseCode.protocolError, reason: "new message before the fragmented one finished")
            }
            guard !rsv1 || deflate else { return .fail(code: CloseCode.protocolError, reason: "RSV1 without permessage-deflate") }
            let started = Message(text: opcode == .text, compressed: rsv1, size: 0)
            message = started
            validator = UTF8Validator()
            return addFragment(length: length, final: fin)
        case .continuation:
            guard message != nil else { return .fail(code: CloseCode.protocolError, reason: "continuation without a message") }
            guard !rsv1 else { return .fail(code: CloseCode.protocolError, reason: "RSV1 on a continuation frame") }
            return addFragment(length: length, final: fin)
        }
    }

    private mutating func addFragment(length: Int, final: Bool) -> Decision {
        guard var current = message else { return .fail(code: CloseCode.protocolError, reason: "no message") }
        current.size += length
        // Compressed sizes are checked again after inflation; a compressed message can
        // only be smaller than its limit if its wire size is.
        guard current.size <= maxMessageBytes else {
            message = nil
            return .fail(code: CloseCode.messageTooBig, reason: "message over \(maxMessageBytes) bytes")
        }
        message = final ? nil : current
        return .data(text: current.text, compressed: current.compressed, final: final)
    }

    /// Validates the next bytes of an uncompressed text message (or of an inflated one).
    /// Returns a failure as soon as they cannot be UTF-8; at the final fragment, also
    /// when a character is cut off.
    public mutating func checkText(_ bytes: UnsafeRawBufferPointer, final: Bool) -> Decision? {
        guard validator.consume(bytes) else {
            return .fail(code: CloseCode.invalidPayload, reason: "text message is not valid UTF-8")
        }
        if final {
            defer { validator = UTF8Validator() }
            guard validator.isComplete else {
                return .fail(code: CloseCode.invalidPayload, reason: "text message ends inside a UTF-8 sequence")
            }
        }
        return nil
    }
}
