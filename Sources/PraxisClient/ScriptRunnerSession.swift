import PraxisDomain
import NIOCore
import NIOHTTP1
import Synchronization

/// A failed step: what went wrong and, for a failed expectation, what was expected and what
/// arrived (JSON, shortened when printed).
struct ScriptStepFailure: Error {
    var message: String
    var expected: String?
    var arrived: String?

    init(_ message: String, expected: String? = nil, arrived: String? = nil) {
        self.message = message
        self.expected = expected
        self.arrived = arrived
    }
}

/// One message the actor's realtime connection received.
struct ScriptInboxMessage: Sendable {
    var topic: String
    var event: String
    var payload: JSONValue
    var consumed = false

    /// The payload a `wait` for `name` looks at: the message's own for a Phoenix event of
    /// that name, the inner payload for a broadcast whose sub-event has that name.
    func target(forEvent name: String) -> JSONValue? {
        if event == name { return payload }
        if event == "broadcast", payload["event"]?.stringValue == name { return payload["payload"] ?? .null }
        return nil
    }
}

/// An actor of a running script: who they are, their realtime connection and everything it
/// received. Thread-safe: messages arrive on the connection's event loop, steps run in tasks.
final class ScriptSession: Sendable {
    let name: String
    let spec: ScriptActorSpec
    /// Where the scripts run: host, port and the anon key.
    private let server: ScriptRunOptions
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    struct State {
        var token = ""
        var userID: String?
        var email: String?
        var connection: WebSocketClientConnection?
        /// Counts connections; messages of an older one are only kept for `not_contains`.
        var connectionNumber = 0
        /// Set by `disconnect` until `reconnect`.
        var disconnected = false
        /// Why the current connection ended when the script did not end it.
        var lost: String?
        /// The current connection's messages (replies are in `replies`).
        var inbox: [ScriptInboxMessage] = []
        var replies: [String: JSONValue] = [:]
        var nextRef = 1
        var joinRefs: [String: String] = [:]
        /// Every text the actor ever received — realtime messages and HTTP bodies.
        var everything: [String] = []
        /// Topics joined, in order, with the join payload sent (for `reconnect`).
        var joined: [(topic: String, payload: JSONValue)] = []
        /// The highest room event `offset` seen per room topic.
        var roomOffsets: [String: Int64] = [:]
        var turnCounter = 0
    }

    init(spec: ScriptActorSpec, server: ScriptRunOptions, group: any EventLoopGroup) {
        self.name = spec.name
        self.spec = spec
        self.server = server
        self.group = group
        state.withLock { $0.token = server.anonKey }
    }

    var token: String { state.withLock { $0.token } }
    var userID: String? { state.withLock { $0.userID } }
    var email: String? { state.withLock { $0.email } }

    func nextTurnID(run: String) -> String {
        let count = state.withLock { state in
            state.turnCounter += 1
            return state.turnCounter
        }
        return "\(name)-\(run)-\(count)"
    }

    // MARK: Sign-in

    /// Signs up or in (unless anonymous) and upserts the profile. Returns a line for the log.
    func setUp(runID: String, timeout: Duration) async throws -> String {
        guard let rawEmail = spec.email, let password = spec.password else { return "anonymous (anon key)" }
        let email = rawEmail.replacing("{run}", with: runID)
        var body: [String: JSONValue] = ["email": .string(email), "password": .string(password)]
        if let data = spec.data { body["data"] = data }
        let path = spec.signup ? "/auth/v1/signup" : "/auth/v1/token?grant_type=password"
        let answer = try await http(method: "POST", path: path, headers: [:], body: .object(body), bearer: false, timeout: timeout)
        let (status, user) = (answer.status, answer.json)
        guard status == 200, let token = user["access_token"]?.stringValue, let id = user.value(atPath: "user.id")?.stringValue else {
            throw ScriptStepFailure("\(spec.signup ? "sign-up" : "sign-in") of \(email) failed: HTTP \(status)", arrived: user.truncated())
        }
        state.withLock { state in
            state.token = token
            state.userID = id
            state.email = email
        }
        if let profile = spec.profile {
            let created = try await http(
                method: "POST", path: "/rest/v1/profiles", headers: ["Prefer": "resolution=merge-duplicates,return=minimal"], body: profile,
                bearer: true, timeout: timeout
            )
            guard created.status == 201 || created.status == 200 else {
                throw ScriptStepFailure("creating the profile of \(email) failed: HTTP \(created.status)", arrived: created.json.truncated())
            }
        }
        return "\(spec.signup ? "signed up" : "signed in") \(email)" + (spec.profile == nil ? "" : " with a profile")
    }

    // MARK: HTTP

    /// One request on a fresh connection, with the apikey and (when `bearer`) the actor's token.
    func http(method: String, path: String, headers: [String: String], body: JSONValue?, bearer: Bool, timeout: Duration) async throws -> BenchHTTPResponse {
        var all: [(String, String)] = [("apikey", server.anonKey)]
        if bearer { all.append(("Authorization", "Bearer \(token)")) }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            all.removeAll { $0.0.lowercased() == name.lowercased() }
            all.append((name, value))
        }
        let amount = TimeAmount.milliseconds(max(1, timeout.milliseconds))
        let connection: BenchHTTPConnection
        do {
            connection = try await BenchHTTPConnection.connect(host: server.host, port: server.port, eventLoop: group.next(), timeout: amount)
        } catch {
            throw ScriptStepFailure("cannot connect to \(server.host):\(server.port): \(error)")
        }
        let response: BenchHTTPResponse
        do {
            response = try await connection.request(
                method: HTTPMethod(rawValue: method), uri: path, headers: all, body: body?.jsonString, timeout: amount
            )
            await connection.close()
        } catch {
            await connection.close()
            throw ScriptStepFailure("\(method) \(path): no answer within \(timeout.milliseconds) ms (\(error))")
        }
        state.withLock { $0.everything.append(response.bodyText) }
        return response
    }

    // MARK: Realtime

    /// Opens the realtime connection if there is none yet (not after `disconnect`).
    func ensureConnected(timeout: Duration) async throws {
        let status = state.withLock { ($0.connection != nil, $0.disconnected) }
        if status.0 { return }
        if status.1 { throw ScriptStepFailure("\(name) is disconnected: add a reconnect step first") }
        try await connect(timeout: timeout)
    }

    /// Opens a new realtime connection, replacing (dropping) any current one.
    func connect(timeout: Duration) async throws {
        drop(reason: nil)
        let number = state.withLock { state in
            state.connectionNumber += 1
            return state.connectionNumber
        }
        let path = "/realtime/v1/websocket?apikey=\(server.anonKey)&vsn=1.0.0"
        let connection: WebSocketClientConnection
        do {
            connection = try await WebSocketClient.connect(
                host: server.host, port: server.port, path: path, group: group,
                timeout: .milliseconds(max(1, timeout.milliseconds))
            ) { [self] message in
                received(String(buffer: message.data), isText: message.isText, connection: number)
            }
        } catch {
            throw ScriptStepFailure("\(name) cannot open the realtime WebSocket: \(error)")
        }
        // Heartbeats while this is the actor's connection.
        connection.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(20), delay: .seconds(20)) { [self] task in
            guard state.withLock({ $0.connection === connection }) else { return task.cancel() }
            connection.send(text: #"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"heartbeat"}"#)
        }
        connection.closeFuture.whenComplete { [self] outcome in
            state.withLock { state in
                guard state.connectionNumber == number, state.connection != nil else { return }
                let code = (try? outcome.get())?.code.map { " (close code \($0))" } ?? ""
                state.lost = "the server closed \(name)'s WebSocket\(code)"
            }
        }
        state.withLock { state in
            state.connection = connection
            state.disconnected = false
            state.lost = nil
            state.inbox = []
            state.replies = [:]
            state.joinRefs = [:]
        }
    }

    /// Drops the connection without a close frame; `reason` nil for a replacement.
    func drop(reason: String?) {
        detach { state in
            state.inbox = []
            state.replies = [:]
            if reason != nil { state.disconnected = true }
        }?.abort()
    }

    /// Closes the connection cleanly at the end of a run.
    func close() async {
        await detach()?.close(timeout: .seconds(1))
    }

    /// Takes the connection out of the state (its heartbeats stop), changing the state with `also`.
    private func detach(_ also: (inout State) -> Void = { _ in }) -> WebSocketClientConnection? {
        state.withLock { state in
            let connection = state.connection
            state.connection = nil
            also(&state)
            return connection
        }
    }

    /// Checks `found` every 2 ms until it has an answer or `timeout` has passed (nil then).
    private func poll<T>(_ timeout: Duration, _ found: () throws -> T?) async throws -> T? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let answer = try found() { return answer }
            guard clock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    private func received(_ text: String, isText: Bool, connection number: Int) {
        let parsed = isText ? try? JSONValue.parse(text) : nil
        state.withLock { state in
            state.everything.append(text)
            guard number == state.connectionNumber, let parsed, let topic = parsed["topic"]?.stringValue,
                let event = parsed["event"]?.stringValue
            else { return }
            let payload = parsed["payload"] ?? .object([:])
            if topic.hasPrefix("realtime:room:") {
                var offset: Int64?
                if event == "broadcast" {
                    offset = payload.value(atPath: "payload.offset")?.intValue
                } else if event == "phx_reply", payload["status"]?.stringValue == "ok" {
                    offset = payload.value(atPath: "response.offset")?.intValue
                }
                if let offset { state.roomOffsets[topic] = max(state.roomOffsets[topic] ?? offset, offset) }
            }
            if event == "phx_close" { state.joined.removeAll { $0.topic == topic } }
            if event == "phx_reply", let ref = parsed["ref"]?.stringValue {
                state.replies[ref] = payload
            } else {
                state.inbox.append(ScriptInboxMessage(topic: topic, event: event, payload: payload))
            }
        }
    }

    /// Sends one Phoenix message and waits for its reply's payload (`{status, response}`).
    func push(topic: String, event: String, payload: JSONValue, timeout: Duration) async throws -> JSONValue {
        let ref = try state.withLock { state throws(ScriptStepFailure) -> String in
            guard let connection = state.connection else {
                throw ScriptStepFailure(state.disconnected ? "\(name) is disconnected: add a reconnect step first" : "\(name) has no realtime connection")
            }
            if let lost = state.lost { throw ScriptStepFailure(lost) }
            let ref = String(state.nextRef)
            state.nextRef += 1
            if event == "phx_join" { state.joinRefs[topic] = ref }
            let joinRef: JSONValue = state.joinRefs[topic].map { .string($0) } ?? .null
            let message: JSONValue = .object([
                "topic": .string(topic), "event": .string(event), "payload": payload, "ref": .string(ref), "join_ref": joinRef,
            ])
            connection.send(text: message.jsonString)
            return ref
        }
        let reply = try await poll(timeout) {
            try state.withLock { state throws(ScriptStepFailure) -> JSONValue? in
                if let reply = state.replies.removeValue(forKey: ref) { return reply }
                if let lost = state.lost { throw ScriptStepFailure("\(lost) before the reply to \(event) on \(topic)") }
                return nil
            }
        }
        guard let reply else { throw ScriptStepFailure("no reply to \(event) on \(topic) within \(timeout.milliseconds) ms") }
        return reply
    }

    /// Records a successful join (for `reconnect`).
    func joined(topic: String, payload: JSONValue) {
        state.withLock { state in
            if let index = state.joined.firstIndex(where: { $0.topic == topic }) {
                state.joined[index].payload = payload
            } else {
                state.joined.append((topic, payload))
            }
        }
    }

    var joinedTopics: [(topic: String, payload: JSONValue)] { state.withLock { $0.joined } }

    func roomOffset(_ topic: String) -> Int64? { state.withLock { $0.roomOffsets[topic] } }

    /// Takes the first message not taken yet on `topic` with `event` whose payload contains
    /// `match`; waits up to `timeout`. Returns the payload it matched against.
    func take(topic: String, event: String, match: JSONValue?, timeout: Duration) async throws -> JSONValue {
        // The scan and the check for a lost connection happen under one lock: every message
        // of a connection is in the inbox before its close is recorded.
        let outcome = try await poll(timeout) {
            try state.withLock { state throws(ScriptStepFailure) -> (found: JSONValue?, lost: String?)? in
                guard state.connection != nil || state.lost != nil else {
                    throw ScriptStepFailure(
                        state.disconnected ? "\(name) is disconnected: add a reconnect step first" : "\(name) has no realtime connection (join a topic first)"
                    )
                }
                for index in state.inbox.indices where !state.inbox[index].consumed && state.inbox[index].topic == topic {
                    if let target = state.inbox[index].target(forEvent: event), match.map({ target.contains($0) }) ?? true {
                        state.inbox[index].consumed = true
                        return (target, nil)
                    }
                }
                if let lost = state.lost { return (nil, lost) }
                return nil
            }
        }
        if let found = outcome?.found { return found }
        let lost = outcome?.lost
        let seen = count(topic: topic, event: event, match: nil).seen
        var message = "no \(event) message on \(topic) matched"
        if lost == nil { message += " within \(timeout.milliseconds) ms" }
        message += seen.isEmpty ? " (none arrived)" : " (\(seen.count) arrived; the last \(min(3, seen.count)) shown)"
        if let lost { message += "; \(lost)" }
        throw ScriptStepFailure(
            message, expected: match?.truncated() ?? "any \(event)",
            arrived: seen.isEmpty ? "nothing" : seen.suffix(3).map { $0.truncated(300) }.joined(separator: "\n              ")
        )
    }

    /// How many messages of the current connection on `topic` with `event` contain `match`.
    func count(topic: String, event: String, match: JSONValue?) -> (count: Int, seen: [JSONValue]) {
        state.withLock { state in
            let targets = state.inbox.filter { $0.topic == topic }.compactMap { $0.target(forEvent: event) }
            let matching = targets.filter { target in match.map { target.contains($0) } ?? true }
            return (matching.count, matching)
        }
    }

    /// The first text the actor received that contains `needle`.
    func firstReceived(containing needle: String) -> String? {
        state.withLock { state in state.everything.first { $0.contains(needle) } }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
