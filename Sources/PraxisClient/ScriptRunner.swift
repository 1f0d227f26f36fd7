public import PraxisDomain
import NIOCore
import NIOPosix
import Synchronization

/// How `praxis client run` runs scripts.
public struct ScriptRunOptions: Sendable {
    public var host: String
    public var port: Int
    /// The server's anon key: every request's `apikey`, the realtime `apikey`, and the token
    /// of anonymous actors.
    public var anonKey: String
    /// Bound on one script's run, seconds; nil: the script's `timeout_s`, else 60.
    public var timeoutSeconds: Double?
    /// Colour ✓/✗ and PASS/FAIL (when stdout is a terminal).
    public var color: Bool
    /// `--var NAME=VALUE`: replaces the starting value of a variable the script declares.
    public var overrides: [String: JSONValue]

    public init(
        host: String, port: Int, anonKey: String, timeoutSeconds: Double? = nil, color: Bool = false, overrides: [String: JSONValue] = [:]
    ) {
        self.host = host
        self.port = port
        self.anonKey = anonKey
        self.timeoutSeconds = timeoutSeconds
        self.color = color
        self.overrides = overrides
    }

    public static let defaultTimeoutSeconds = 60.0
}

/// Runs client scripts (protocol/client-scripts.md) against a running server: one progress
/// line per step, the expected and the arrived value of the first failed expectation, and a
/// PASS or FAIL summary line.
public enum ScriptRunner {
    /// Runs `script`; every line goes to `output`. Returns whether it passed.
    public static func run(_ script: Script, options: ScriptRunOptions, output: @escaping @Sendable (String) -> Void) async -> Bool {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let limit = options.timeoutSeconds ?? script.timeoutSeconds ?? ScriptRunOptions.defaultTimeoutSeconds
        let run = ScriptRun(script: script, options: options, group: group, limitSeconds: limit, output: output)
        let passed = await withTaskGroup(of: Bool?.self) { tasks in
            tasks.addTask { await run.execute() }
            tasks.addTask {
                // A safety net: every wait is already bounded by the time left.
                try? await Task.sleep(for: .seconds(limit) + .seconds(5))
                return nil
            }
            let first = await tasks.next() ?? nil
            tasks.cancelAll()
            return first
        }
        await run.closeSessions()
        guard let passed else {
            run.summary(passed: false, detail: "the time limit of \(formatSeconds(limit)) s ran out")
            return false
        }
        return passed
    }

    static func formatSeconds(_ seconds: Double) -> String {
        let tenths = (seconds * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}

/// One run of one script: the actors' sessions, the variables, the clock.
final class ScriptRun: Sendable {
    let script: Script
    let runID: String
    let sessions: [String: ScriptSession]
    let limitSeconds: Double
    private let options: ScriptRunOptions
    private let output: @Sendable (String) -> Void
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let deadline: ContinuousClock.Instant
    private let variables: Mutex<[String: JSONValue]>
    private let stepsRun = Atomic<Int>(0)
    /// The first step that failed ("step 7 (wait)"), for the summary.
    private let firstFailure = Mutex<String?>(nil)
    private let summarised = Atomic<Bool>(false)

    init(script: Script, options: ScriptRunOptions, group: any EventLoopGroup, limitSeconds: Double, output: @escaping @Sendable (String) -> Void) {
        self.script = script
        self.options = options
        self.output = output
        self.limitSeconds = limitSeconds
        runID = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)  // 8 hex digits
        var sessions: [String: ScriptSession] = [:]
        for actor in script.actors { sessions[actor.name] = ScriptSession(spec: actor, server: options, group: group) }
        self.sessions = sessions
        var starting = script.variables
        for (name, value) in options.overrides where starting[name] != nil { starting[name] = value }
        variables = Mutex(starting)
        start = clock.now
        deadline = start + .milliseconds(Int64(limitSeconds * 1000))
    }

    // MARK: Running

    func execute() async -> Bool {
        output(
            "\(script.name): \(script.actors.count) actor\(script.actors.count == 1 ? "" : "s"), "
                + "\(script.stepCount) step\(script.stepCount == 1 ? "" : "s"), "
                + "run \(runID), time limit \(ScriptRunner.formatSeconds(limitSeconds)) s"
        )
        // Actors sign up (or in) at the same time; their lines come in name order.
        let setups = await withTaskGroup(of: (String, Result<String, any Error>, Duration).self) { group in
            for actor in script.actors {
                group.addTask {
                    let start = self.clock.now
                    do {
                        let note = try await self.sessions[actor.name]!.setUp(runID: self.runID, timeout: try self.budget(20_000))
                        return (actor.name, .success(note), self.clock.now - start)
                    } catch {
                        return (actor.name, .failure(error), self.clock.now - start)
                    }
                }
            }
            var results: [String: (Result<String, any Error>, Duration)] = [:]
            for await (name, result, duration) in group { results[name] = (result, duration) }
            return results
        }
        for actor in script.actors {
            let (result, duration) = setups[actor.name]!
            switch result {
            case .success(let note):
                line(ok: true, "actor \(actor.name): \(note)", since: clock.now - duration)
            case .failure(let error):
                line(ok: false, "actor \(actor.name)", since: clock.now - duration)
                report(error)
                summary(passed: false, detail: "setting up actor \(actor.name) failed")
                return false
            }
        }
        for step in script.steps {
            guard await runStep(step) else {
                summary(passed: false, detail: "\(firstFailure.withLock { $0 } ?? "step \(step.number)") failed")
                return false
            }
        }
        summary(passed: true, detail: nil)
        return true
    }

    func closeSessions() async {
        await withTaskGroup(of: Void.self) { group in
            for session in sessions.values { group.addTask { await session.close() } }
        }
    }

    /// Runs one step and prints its line; false when it failed.
    private func runStep(_ step: ScriptStep) async -> Bool {
        let began = clock.now
        do {
            try await perform(step)
            if case .parallel = step.kind {} else { stepsRun.wrappingAdd(1, ordering: .relaxed) }
            line(ok: true, describe(step), since: began)
            return true
        } catch is CancellationError {
            return false  // a sibling in a parallel step failed, or the time limit ran out
        } catch {
            firstFailure.withLock { if $0 == nil { $0 = "step \(step.number) (\(step.kindName))" } }
            line(ok: false, describe(step), since: began)
            report(error)
            return false
        }
    }

    private func describe(_ step: ScriptStep) -> String {
        var text = "step \(step.number)"
        if let actor = step.actor { text += " \(actor)" }
        text += " \(step.kindName)"
        if !step.label.isEmpty { text += " \(step.label.clipped(90))" }
        return text
    }

    // MARK: Output

    private func paint(_ text: String, _ code: String) -> String {
        options.color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func line(ok: Bool, _ text: String, since began: ContinuousClock.Instant) {
        let ms = (clock.now - began).milliseconds
        output("\(ok ? paint("✓", "32") : paint("✗", "31")) \(text) (\(ms) ms)")
    }

    private func report(_ error: any Error) {
        let failure = (error as? ScriptStepFailure) ?? ScriptStepFailure("\(error)")
        var message = failure.message
        if clock.now >= deadline, !message.contains("time limit") { message += " (\(timeUp))" }
        output("    \(message)")
        if let expected = failure.expected { output("    expected: \(expected)") }
        if let arrived = failure.arrived { output("    arrived:  \(arrived)") }
    }

    func summary(passed: Bool, detail: String?) {
        guard !summarised.exchange(true, ordering: .relaxed) else { return }
        let seconds = ScriptRunner.formatSeconds(max(0.1, Double((clock.now - start).milliseconds) / 1000))
        if passed {
            let count = stepsRun.load(ordering: .relaxed)
            output("\(paint("PASS", "32")) \(script.name): \(count) step\(count == 1 ? "" : "s") in \(seconds) s")
        } else {
            output("\(paint("FAIL", "31")) \(script.name): \(detail ?? "failed") after \(seconds) s")
        }
    }

    // MARK: Time

    /// What a step that outlives the script's time limit fails with.
    private var timeUp: String { "the script's time limit of \(ScriptRunner.formatSeconds(limitSeconds)) s ran out" }

    /// `ms`, or less when the script's time limit is nearer.
    func budget(_ ms: Int) throws -> Duration {
        let left = deadline - clock.now
        guard left > .zero else { throw ScriptStepFailure(timeUp) }
        return min(.milliseconds(ms), left)
    }

    /// Sleeps `ms`; fails when the script's time limit comes first.
    private func pause(_ ms: Int) async throws {
        let allowed = try budget(ms)
        try await Task.sleep(for: allowed)
        if allowed < .milliseconds(ms) { throw ScriptStepFailure(timeUp) }
    }

    // MARK: Steps

    private func session(_ step: ScriptStep) -> ScriptSession {
        sessions[step.actor!]!  // checked when the script was loaded
    }

    private func perform(_ step: ScriptStep) async throws {
        switch step.kind {
        case .http(let method, let rawPath, let rawBody, let rawHeaders, let expect):
            try await performHTTP(step, method: method, rawPath: rawPath, rawBody: rawBody, rawHeaders: rawHeaders, expect: expect)

        case .join(let rawConfig, let expect):
            let actor = session(step)
            let payload: JSONValue = .object(["config": try rawConfig.map(resolve) ?? .object([:]), "access_token": .string(actor.token)])
            let reply = try await push(step, event: "phx_join", payload: payload)
            if reply["status"]?.stringValue == "ok" { actor.joined(topic: try text(step.topic), payload: payload) }
            try check(reply, expect, save: step.save)

        case .push(let rawEvent, let rawPayload, let expect):
            try check(try await push(step, event: try text(rawEvent), payload: try resolve(rawPayload)), expect, save: step.save)

        case .turns(let rawTexts, let delayMs):
            try await performTurns(step, rawTexts: rawTexts, delayMs: delayMs)

        case .wait(let rawEvent, let rawMatch):
            let match = try rawMatch.map(resolve)
            let topic = try text(step.topic)
            let found = try await session(step).take(topic: topic, event: try text(rawEvent), match: match, timeout: try budget(step.timeoutMs))
            try store(step.save, from: found)

        case .disconnect:
            session(step).drop(reason: "disconnect")

        case .reconnect(let resume):
            try await performReconnect(step, resume: resume)

        case .sleep(let ms):
            try await pause(ms)

        case .parallel(let steps):
            try await performParallel(steps)

        case .assert(let assertion):
            let (holds, expected, arrived) = try evaluate(assertion)
            guard holds else { throw ScriptStepFailure("the assertion does not hold", expected: expected, arrived: arrived) }
        }
    }

    private func performHTTP(
        _ step: ScriptStep, method: String, rawPath: String, rawBody: JSONValue?, rawHeaders: [String: String], expect: ScriptStep.HTTPExpectation
    ) async throws {
        let path = try text(rawPath)
        let body = try rawBody.map(resolve)
        var headers: [String: String] = [:]
        for (name, value) in rawHeaders { headers[name] = try text(value) }
        if path.hasPrefix("/rest/v1/"), ["POST", "PATCH", "DELETE"].contains(method),
            !headers.keys.contains(where: { $0.lowercased() == "prefer" })
        {
            headers["Prefer"] = "return=representation"
        }
        let answer = try await session(step).http(method: method, path: path, headers: headers, body: body, bearer: true, timeout: try budget(step.timeoutMs))
        var wanted: [String: JSONValue] = [:]
        if let status = expect.status { wanted["status"] = .int(Int64(status)) }
        if let expected = expect.body { wanted["body"] = try resolve(expected) }
        let (status, json) = (JSONValue.int(answer.status), answer.json)
        try requireMatch(.object(["status": status, "body": json]), wanted, "answer")
        // What `save` paths see: the header names in lower case.
        let named = Dictionary(answer.headers.map { ($0.name.lowercased(), JSONValue.string($0.value)) }) { _, last in last }
        try store(step.save, from: .object(["status": status, "headers": .object(named), "body": json]))
    }

    /// Sends `event` on the step's topic as its actor (connecting first when there is no
    /// connection yet); the reply's payload.
    private func push(_ step: ScriptStep, event: String, payload: JSONValue) async throws -> JSONValue {
        let actor = session(step)
        try await actor.ensureConnected(timeout: try budget(step.timeoutMs))
        return try await actor.push(topic: try text(step.topic), event: event, payload: payload, timeout: try budget(step.timeoutMs))
    }

    private func performTurns(_ step: ScriptStep, rawTexts: [String], delayMs: Int) async throws {
        let actor = session(step)
        var sent: [JSONValue] = []
        for (index, raw) in rawTexts.enumerated() {
            if index > 0, delayMs > 0 { try await pause(delayMs) }
            let turnText = try text(raw)
            let id = actor.nextTurnID(run: runID)
            let payload: JSONValue = .object(["client_turn_id": .string(id), "text": .string(turnText)])
            let reply = try await push(step, event: "turn", payload: payload)
            guard reply["status"]?.stringValue == "ok" else {
                throw ScriptStepFailure(
                    "turn \(index + 1) of \(rawTexts.count) (\(id)) was not acked ok", expected: #"{"status":"ok"}"#, arrived: reply.truncated()
                )
            }
            var turn: [String: JSONValue] = ["text": .string(turnText), "client_turn_id": .string(id)]
            turn["seq"] = reply.value(atPath: "response.seq") ?? .null
            turn["offset"] = reply.value(atPath: "response.offset") ?? .null
            sent.append(.object(turn))
        }
        try store(step.save, from: .object(["turns": .array(sent)]))
    }

    private func performReconnect(_ step: ScriptStep, resume: Bool) async throws {
        let actor = session(step)
        try await actor.connect(timeout: try budget(step.timeoutMs))
        for (topic, payload) in actor.joinedTopics {
            var sent = payload
            var resumed = false
            if resume, topic.hasPrefix("realtime:room:"), let offset = actor.roomOffset(topic) {
                var config = payload["config"]?.objectValue ?? [:]
                var praxis = config["praxis"]?.objectValue ?? [:]
                praxis["resume"] = .object(["offset": .int(offset)])
                config["praxis"] = .object(praxis)
                var fields = payload.objectValue ?? [:]
                fields["config"] = .object(config)
                fields["access_token"] = .string(actor.token)
                sent = .object(fields)
                resumed = true
            }
            let reply = try await actor.push(topic: topic, event: "phx_join", payload: sent, timeout: try budget(step.timeoutMs))
            var wanted: [String: JSONValue] = ["status": .string("ok")]
            if resumed { wanted["response"] = .object(["recovered": .bool(true)]) }
            guard reply.contains(.object(wanted)) else {
                throw ScriptStepFailure(
                    "rejoining \(topic)\(resumed ? " with resume" : "") did not succeed", expected: JSONValue.object(wanted).truncated(),
                    arrived: reply.truncated()
                )
            }
        }
    }

    private func performParallel(_ steps: [ScriptStep]) async throws {
        // Each actor's steps in order, the actors at once (started in the order they first appear).
        let actors = steps.compactMap(\.actor).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let passed = await withTaskGroup(of: Bool.self) { group in
            for actor in actors {
                let sequence = steps.filter { $0.actor == actor }
                group.addTask {
                    for inner in sequence {
                        guard await self.runStep(inner) else { return false }
                    }
                    return true
                }
            }
            var all = true
            for await result in group where !result {
                all = false
                group.cancelAll()
            }
            return all
        }
        try Task.checkCancellation()
        guard passed else { throw ScriptStepFailure("a step inside failed") }
    }

    /// Checks `reply` against `expectation`, then saves from it.
    private func check(_ reply: JSONValue, _ expectation: ScriptStep.ReplyExpectation, save: [String: String]) throws {
        var wanted: [String: JSONValue] = ["status": .string(expectation.status)]
        if let response = expectation.response { wanted["response"] = try resolve(response) }
        try requireMatch(reply, wanted, "reply")
        try store(save, from: reply)
    }

    /// Fails unless `arrived` matches `wanted` (`what` arrived: the answer, the reply).
    private func requireMatch(_ arrived: JSONValue, _ wanted: [String: JSONValue], _ what: String) throws {
        if let difference = arrived.mismatch(with: .object(wanted)) {
            throw ScriptStepFailure(
                "the \(what) is not the one expected: \(difference)", expected: JSONValue.object(wanted).truncated(), arrived: arrived.truncated()
            )
        }
    }

    /// Saves `path` of `result` under each name; a path ending in `?` saves null when absent.
    private func store(_ saves: [String: String], from result: JSONValue) throws {
        for (name, rawPath) in saves.sorted(by: { $0.key < $1.key }) {
            let optional = rawPath.hasSuffix("?")
            let path = optional ? String(rawPath.dropLast()) : rawPath
            guard let value = result.value(atPath: path) ?? (optional ? .null : nil) else {
                throw ScriptStepFailure("save \(name): \(path) is not in the result (end the path with ? to save null instead)", arrived: result.truncated())
            }
            variables.withLock { $0[name] = value }
        }
    }

    // MARK: Assertions

    private func evaluate(_ assertion: ScriptAssertion) throws -> (Bool, String, String) {
        switch assertion {
        case .equal(let a, let b):
            let (left, right) = (try resolve(a), try resolve(b))
            return (left == right, right.truncated(), left.truncated())
        case .notEqual(let a, let b):
            let (left, right) = (try resolve(a), try resolve(b))
            return (left != right, "anything but \(right.truncated())", left.truncated())
        case .countTrue(let conditions, let equals):
            var values: [Bool] = []
            for condition in conditions {
                switch condition {
                case .value(let raw):
                    let value = try resolve(raw)
                    values.append(value == .bool(true))
                case .assertion(let inner):
                    values.append(try evaluate(inner).0)
                }
            }
            let count = values.count(where: { $0 })
            return (count == equals, "\(equals) true", "\(count) true: \(values.map { $0 ? "true" : "false" }.joined(separator: ", "))")
        case .notContains(let actor, let raw):
            let needle = try text(raw.stringValue ?? "")
            guard !needle.isEmpty else { throw ScriptStepFailure("not_contains: the text is empty") }
            if let hit = sessions[actor]!.firstReceived(containing: needle) {
                return (false, "nothing \(actor) received contains \"\(needle.clipped(60))\"", hit.clipped(500))
            }
            return (true, "", "")
        case .received(let actor, let rawTopic, let rawEvent, let rawMatch, let equals):
            let (count, seen) = sessions[actor]!.count(topic: try text(rawTopic), event: try text(rawEvent), match: try rawMatch.map(resolve))
            return (
                count == equals, "\(equals) matching \(rawEvent) on the current connection",
                "\(count)" + (seen.isEmpty ? "" : ": " + JSONValue.array(seen).truncated())
            )
        }
    }

    // MARK: Variables

    /// A template string as text: `${…}` replaced by the value (a string as is, others as JSON).
    private func text(_ template: String) throws -> String {
        try ScriptTemplate.pieces(of: template).map { piece in
            let value = try lookup(piece)
            return value.stringValue ?? value.jsonString
        }.joined()
    }

    /// Replaces `${…}` in every string of `value`; a string that is only `${name}` becomes the
    /// variable's value with its JSON type.
    private func resolve(_ value: JSONValue) throws -> JSONValue {
        switch value {
        case .string(let template):
            let pieces = try ScriptTemplate.pieces(of: template)
            return pieces.count == 1 ? try lookup(pieces[0]) : .string(try text(template))
        case .array(let items): return .array(try items.map(resolve))
        case .object(let fields): return .object(try fields.mapValues(resolve))
        default: return value
        }
    }

    /// The value of one piece of a template (a literal: itself).
    private func lookup(_ piece: ScriptTemplate.Piece) throws -> JSONValue {
        switch piece {
        case .literal(let text):
            return .string(text)
        case .repeated(let count, let text):
            return .string(String(repeating: text, count: count))
        case .variable(let name):
            if name == "run" { return .string(runID) }
            if let saved = variables.withLock({ $0[name] }) { return saved }
            let parts = name.split(separator: ".")
            if parts.count > 1, let saved = variables.withLock({ $0[String(parts[0])] }) {
                let path = parts.dropFirst().joined(separator: ".")
                guard let value = saved.value(atPath: path) else {
                    throw ScriptStepFailure("${\(name)}: \(parts[0]) has no \(path)", arrived: saved.truncated())
                }
                return value
            }
            if parts.count == 2, let actor = sessions[String(parts[0])] {
                switch parts[1] {
                case "id": if let id = actor.userID { return .string(id) }
                case "email": if let email = actor.email { return .string(email) }
                default: break
                }
                throw ScriptStepFailure("${\(name)}: actor \(parts[0]) is anonymous (no \(parts[1]))")
            }
            throw ScriptStepFailure("${\(name)} has no value")
        }
    }
}
