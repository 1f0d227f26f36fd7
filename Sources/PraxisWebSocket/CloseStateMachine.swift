/// The closing handshake (RFC 6455 §7), as a plain state machine: each event returns what
/// the connection must do. No I/O here, so every path is unit-tested.
public struct CloseStateMachine: Sendable {
    public enum State: Equatable, Sendable {
        case open
        /// We sent a close and wait for the peer's.
        case closeSent
        /// The handshake is over (or the connection failed): the TCP connection is closing.
        case closed
    }

    /// A close frame to send: a code (nil for an empty payload) and a reason.
    public struct Frame: Equatable, Sendable {
        public var code: UInt16?
        public var reason: String

        public init(code: UInt16?, reason: String = "") {
            precondition(code.map(CloseCode.isValidOnWire) ?? true, "never send 1005, 1006, 1015 or an unregistered code")
            self.code = code
            self.reason = reason
        }
    }

    public enum Action: Equatable, Sendable {
        case none
        /// Send the close frame and wait for the peer's (with a timeout).
        case sendCloseAndWait(Frame)
        /// Send the close frame, then close the TCP connection once it is written.
        case sendCloseThenDisconnect(Frame)
        /// Close the TCP connection now.
        case disconnect
    }

    public private(set) var state: State = .open

    public init() {}

    /// Whether data frames should still be processed.
    public var acceptsData: Bool { state == .open }

    /// The peer sent a close frame with this payload.
    public mutating func peerSentClose(_ payload: CloseCode.Payload) -> Action {
        switch state {
        case .open:
            state = .closed
            switch payload {
            case .empty: return .sendCloseThenDisconnect(Frame(code: nil))
            case .code(let code, _): return .sendCloseThenDisconnect(Frame(code: code))
            case .invalid(let failCode): return .sendCloseThenDisconnect(Frame(code: failCode, reason: "invalid close frame"))
            }
        case .closeSent:
            state = .closed
            return .disconnect
        case .closed:
            return .none
        }
    }

    /// We close (application, idle timeout, shutdown): start the handshake.
    public mutating func close(code: UInt16, reason: String) -> Action {
        guard state == .open else { return .none }
        state = .closeSent
        return .sendCloseAndWait(Frame(code: code, reason: reason))
    }

    /// The peer broke the protocol: fail the connection (§7.1.7) with `code`.
    public mutating func fail(code: UInt16, reason: String) -> Action {
        switch state {
        case .open:
            state = .closed
            return .sendCloseThenDisconnect(Frame(code: code, reason: reason))
        case .closeSent:
            state = .closed
            return .disconnect
        case .closed:
            return .none
        }
    }

    /// The peer did not answer our close in time.
    public mutating func closeTimedOut() -> Action {
        guard state == .closeSent else { return .none }
        state = .closed
        return .disconnect
    }

    /// The TCP connection ended.
    public mutating func connectionClosed() {
        state = .closed
    }
}
