/// Which deadline a connection is under, as a plain state machine: the handler feeds it
/// what happened and does what it answers (arm a timer, answer 408, close).
///
/// - A new connection must deliver a complete request head within `headerTimeout`.
/// - After the head, the body must be complete within `bodyTimeout`.
/// - While the server works on the request there is no deadline (the client waits for us).
/// - After the response, a keep-alive connection may wait `idleTimeout` for its next
///   request; its first byte starts that request's `headerTimeout`.
struct HTTPTimeoutStateMachine {
    enum Phase: String, Sendable {
        case header
        case body
        case idle
    }

    enum State: Equatable {
        /// Waiting for a complete head; `started` once any byte of it came.
        case awaitingHead(started: Bool)
        case receivingBody
        /// A complete request is with the server; `nextStarted` once bytes of the next came.
        case responding(nextStarted: Bool)
        case idle
        /// Answered before the request was complete (413, 400): the connection is closing;
        /// the armed deadline still closes it should the client never read the answer.
        case draining
        /// Timed out, upgraded or closed: nothing more to time.
        case finished
    }

    enum Action: Equatable {
        case none
        /// Cancel any timer and arm one for `phase`.
        case arm(Phase, Duration)
        case cancelTimer
        /// The deadline passed: answer 408 when `reply` (part of a request came), then close.
        case timedOut(Phase, reply: Bool)
    }

    let headerTimeout: Duration
    let bodyTimeout: Duration
    let idleTimeout: Duration
    private(set) var state = State.awaitingHead(started: false)

    init(headerTimeout: Duration, bodyTimeout: Duration, idleTimeout: Duration) {
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
    }

    /// The connection is open: its first request's head is due.
    mutating func connected() -> Action {
        state = .awaitingHead(started: false)
        return .arm(.header, headerTimeout)
    }

    /// Bytes came from the client.
    mutating func bytesReceived() -> Action {
        switch state {
        case .idle:
            state = .awaitingHead(started: true)
            return .arm(.header, headerTimeout)
        case .awaitingHead(started: false):
            state = .awaitingHead(started: true)
            return .none
        case .responding(nextStarted: false):
            state = .responding(nextStarted: true)
            return .none
        case .awaitingHead(started: true), .receivingBody, .responding(nextStarted: true), .draining, .finished:
            return .none
        }
    }

    /// A complete request head was decoded.
    mutating func headReceived() -> Action {
        switch state {
        case .awaitingHead, .idle, .responding:
            // `.responding`/`.idle`: a pipelined head handed on after the previous response.
            state = .receivingBody
            return .arm(.body, bodyTimeout)
        case .receivingBody, .draining, .finished:
            return .none
        }
    }

    /// The request's end was decoded: the server has it all.
    mutating func requestEnded() -> Action {
        guard case .receivingBody = state else { return .none }
        state = .responding(nextStarted: false)
        return .cancelTimer
    }

    /// The response's end was written and the connection stays open.
    mutating func responseEnded() -> Action {
        switch state {
        case .responding(let nextStarted):
            if nextStarted {
                state = .awaitingHead(started: true)
                return .arm(.header, headerTimeout)
            }
            state = .idle
            return .arm(.idle, idleTimeout)
        case .awaitingHead, .receivingBody:
            // An early answer (a parse error, 413) closes the connection.
            state = .draining
            return .none
        case .idle, .draining, .finished:
            return .none
        }
    }

    /// The armed timer for `phase` fired.
    mutating func timerFired(_ phase: Phase) -> Action {
        switch (state, phase) {
        case (.awaitingHead(let started), .header):
            state = .finished
            return .timedOut(.header, reply: started)
        case (.receivingBody, .body):
            state = .finished
            return .timedOut(.body, reply: true)
        case (.idle, .idle):
            state = .finished
            return .timedOut(.idle, reply: false)
        case (.draining, _):
            state = .finished
            return .timedOut(phase, reply: false)
        default:
            return .none
        }
    }

    /// Upgraded (another protocol keeps its own time) or closed.
    mutating func finished() -> Action {
        state = .finished
        return .cancelTimer
    }
}
