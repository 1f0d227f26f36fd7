public import PraxisDomain

/// A client script of `praxis client run` (format: protocol/client-scripts.md): named actors,
/// each a user with their own HTTP requests and realtime WebSocket, and the steps they take.
/// Loading checks everything that can be checked before running — fields, types, actor
/// names, variables used before a step saves them — and says where: "step 4 (push):
/// missing field event".
public struct Script: Sendable {
    public var name: String
    /// The actors, sorted by name (signed in in that order).
    var actors: [ScriptActorSpec]
    var steps: [ScriptStep]
    /// The script's own bound on its run, seconds (`timeout_s`); `--timeout` overrides it.
    public var timeoutSeconds: Double?
    /// Variables with their starting values (`variables`); `--var NAME=VALUE` overrides them.
    public var variables: [String: JSONValue] = [:]

    /// How many steps run (a `parallel` counts its inner steps, not itself).
    public var stepCount: Int {
        steps.reduce(0) { count, step in
            if case .parallel(let inner) = step.kind { return count + inner.count }
            return count + 1
        }
    }
}

/// Why a script cannot run. `description` is one line: where, and what is wrong.
public struct ScriptFormatError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

struct ScriptActorSpec: Sendable {
    var name: String
    /// Nil: an anonymous actor (the anon key is its token).
    var email: String?
    var password: String?
    var signup: Bool
    /// Sign-up `data` (user metadata).
    var data: JSONValue?
    /// When set: the actor's `profiles` row, upserted after signing in.
    var profile: JSONValue?
}

struct ScriptStep: Sendable {
    /// "4", or "5.2" inside a parallel step.
    var number: String
    /// The step's `do`: http, join, push, …
    var kindName: String
    var name: String?
    var actor: String?
    var kind: Kind
    /// The realtime steps' `topic`.
    var topic = ""
    /// `save`: variable name → dotted path into the step's result.
    var save: [String: String] = [:]
    /// `timeout_ms`, the bound on what the step waits for (0 for steps that wait for nothing).
    var timeoutMs = 0
    /// Every string of the step that may hold `${…}`: those in the values of its fields but
    /// do, name, actor, save and (a parallel step's) steps.
    var templates: [String] = []

    enum Kind: Sendable {
        case http(method: String, path: String, body: JSONValue?, headers: [String: String], expect: HTTPExpectation)
        case join(config: JSONValue?, expect: ReplyExpectation)
        case push(event: String, payload: JSONValue, expect: ReplyExpectation)
        case turns(texts: [String], delayMs: Int)
        case wait(event: String, match: JSONValue?)
        case disconnect
        case reconnect(resume: Bool)
        case sleep(ms: Int)
        case parallel([ScriptStep])
        case assert(ScriptAssertion)
    }

    struct HTTPExpectation: Sendable {
        var status: Int?
        var body: JSONValue?
    }

    struct ReplyExpectation: Sendable {
        /// "ok" or "error".
        var status: String
        var response: JSONValue?
    }

    /// What the progress line shows after the kind: the name, else the gist.
    var label: String {
        if let name { return name }
        switch kind {
        case .http(let method, let path, _, _, _): return "\(method) \(path)"
        case .join: return topic
        case .push(let event, _, _), .wait(let event, _): return event
        case .turns(let texts, _): return texts.count == 1 ? "1 turn" : "\(texts.count) turns"
        case .disconnect: return ""
        case .reconnect(let resume): return resume ? "resume" : ""
        case .sleep(let ms): return "\(ms) ms"
        case .parallel(let steps): return "\(steps.count) steps"
        case .assert(let assertion): return assertion.name
        }
    }
}

indirect enum ScriptAssertion: Sendable {
    case equal(JSONValue, JSONValue)
    case notEqual(JSONValue, JSONValue)
    case countTrue([ScriptCondition], equals: Int)
    case notContains(actor: String, text: JSONValue)
    case received(actor: String, topic: String, event: String, match: JSONValue?, equals: Int)

    var name: String {
        switch self {
        case .equal: "equal"
        case .notEqual: "not_equal"
        case .countTrue: "count_true"
        case .notContains: "not_contains"
        case .received: "received"
        }
    }
}

/// An item of `count_true`: a value (true counts) or a nested assertion (true when it holds).
enum ScriptCondition: Sendable {
    case value(JSONValue)
    case assertion(ScriptAssertion)
}

// MARK: - Loading

extension Script {
    /// Parses and checks a script's text.
    public static func load(text: String) throws(ScriptFormatError) -> Script {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw ScriptFormatError("not JSON: \(error.description)")
        }
        return try Script(json: json)
    }

    init(json: JSONValue) throws(ScriptFormatError) {
        let top = try Fields(json, at: "the script")
        try top.allow(["name", "description", "timeout_s", "variables", "actors", "steps"])
        name = try top.string("name")
        if let timeout = try top.optionalNumber("timeout_s") {
            guard timeout > 0, timeout <= 3600 else { throw ScriptFormatError("timeout_s must be more than 0 and at most 3600") }
            timeoutSeconds = timeout
        }
        _ = try top.optionalString("description")
        guard let actorsValue = top.fields["actors"] else { throw ScriptFormatError("missing field actors") }
        guard case .object(let actorFields) = actorsValue, !actorFields.isEmpty else {
            throw ScriptFormatError("actors must be an object naming at least one actor")
        }
        actors = []
        for actorName in actorFields.keys.sorted() {
            guard Self.isIdentifier(actorName) else {
                throw ScriptFormatError("actors: the name \"\(actorName)\" is not a word (letters, digits, _)")
            }
            actors.append(try Self.actor(actorName, actorFields[actorName]!))
        }
        guard case .array(let stepValues)? = top.fields["steps"] else {
            throw ScriptFormatError(top.fields["steps"] == nil ? "missing field steps" : "steps must be an array")
        }
        guard !stepValues.isEmpty else { throw ScriptFormatError("steps is empty") }
        if let declared = top.fields["variables"] {
            guard case .object(let entries) = declared else { throw ScriptFormatError("variables must be an object: {\"name\": value}") }
            for (name, value) in entries {
                guard Self.isIdentifier(name), name != "run" else {
                    throw ScriptFormatError("variables: \"\(name)\" is not a variable name (letters, digits, _; not run)")
                }
                variables[name] = value
            }
        }
        let actorNames = Set(actors.map(\.name))
        var defined = Self.builtins(actors: actorNames).union(variables.keys)
        steps = []
        for (index, value) in stepValues.enumerated() {
            let step = try Self.step(value, number: "\(index + 1)", actors: actorNames, nested: false)
            try Self.checkVariables(step, defined: &defined)
            steps.append(step)
        }
    }

    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private static func actor(_ name: String, _ value: JSONValue) throws(ScriptFormatError) -> ScriptActorSpec {
        let fields = try Fields(value, at: "actors.\(name)")
        try fields.allow(["email", "password", "signup", "data", "profile"])
        let email = try fields.optionalString("email")
        let password = try fields.optionalString("password")
        if email != nil, password == nil { throw ScriptFormatError("actors.\(name): missing field password") }
        if email == nil, password != nil { throw ScriptFormatError("actors.\(name): missing field email") }
        let signup = try fields.optionalBool("signup") ?? false
        if email == nil, signup { throw ScriptFormatError("actors.\(name): signup needs an email") }
        let profile = fields.fields["profile"]
        if let profile, profile.objectValue == nil { throw ScriptFormatError("actors.\(name): profile must be an object") }
        if email == nil, profile != nil { throw ScriptFormatError("actors.\(name): an anonymous actor (no email) cannot have a profile") }
        let data = fields.fields["data"]
        if let data, data.objectValue == nil { throw ScriptFormatError("actors.\(name): data must be an object") }
        return ScriptActorSpec(name: name, email: email, password: password, signup: signup, data: data, profile: profile)
    }

    /// The kinds of step, and the fields each takes besides do, name and actor (in the order
    /// "allowed:" lists them).
    private static let kinds: KeyValuePairs<String, [String]> = [
        "http": ["method", "path", "body", "headers", "expect", "save", "timeout_ms"],
        "join": ["topic", "config", "expect", "save", "timeout_ms"],
        "push": ["topic", "event", "payload", "expect", "save", "timeout_ms"],
        "turns": ["topic", "texts", "delay_ms", "save", "timeout_ms"],
        "wait": ["topic", "event", "match", "timeout_ms", "save"],
        "disconnect": [],
        "reconnect": ["resume", "timeout_ms"],
        "sleep": ["ms"],
        "parallel": ["steps"],
        "assert": ["that"],
    ]

    private static func step(_ value: JSONValue, number: String, actors: Set<String>, nested: Bool) throws(ScriptFormatError) -> ScriptStep {
        guard case .object(let raw) = value else { throw ScriptFormatError("step \(number): must be an object, not \(value.kindName)") }
        let names = kinds.map(\.key).joined(separator: ", ")
        guard let kindValue = raw["do"] else { throw ScriptFormatError("step \(number): missing field do (one of \(names))") }
        guard let kind = kindValue.stringValue, let allowed = kinds.first(where: { $0.key == kind })?.value else {
            throw ScriptFormatError("step \(number): do must be one of \(names), not \(kindValue.truncated(60))")
        }
        let fields = try Fields(value, at: "step \(number) (\(kind))")
        let actor = try fields.optionalString("actor")
        if let actor, !actors.contains(actor) {
            throw fields.error("unknown actor \(actor) (the script's actors: \(actors.sorted().joined(separator: ", ")))")
        }
        let needsActor = !["sleep", "parallel", "assert"].contains(kind)
        if needsActor, actor == nil { throw fields.error("missing field actor") }
        if !needsActor, actor != nil, kind != "sleep" { throw fields.error("a \(kind) step takes no actor") }
        if nested {
            if kind == "parallel" || kind == "assert" { throw fields.error("a \(kind) step cannot be inside a parallel step") }
            if actor == nil { throw fields.error("steps inside a parallel step need an actor") }
        }
        try fields.allow(["do", "name", "actor"] + allowed)
        var step = ScriptStep(
            number: number, kindName: kind, name: try fields.optionalString("name"), actor: actor,
            kind: try self.kind(kind, fields: fields, number: number, actors: actors)
        )
        if allowed.contains("topic") { step.topic = try fields.string("topic") }
        step.save = try fields.saves()
        step.templates = raw.keys.sorted().filter { !["do", "name", "actor", "save", "steps"].contains($0) }.flatMap { strings(in: raw[$0]!) }
        if allowed.contains("timeout_ms") { step.timeoutMs = try fields.milliseconds("timeout_ms", default: kind == "http" ? 10_000 : 5000) }
        return step
    }

    /// The kind-specific fields of a step whose `do` is `kind` (its fields allowed).
    private static func kind(_ kind: String, fields: Fields, number: String, actors: Set<String>) throws(ScriptFormatError) -> ScriptStep.Kind {
        switch kind {
        case "http":
            return try http(fields: fields, number: number)
        case "join":
            let config = fields.fields["config"]
            if let config, config.objectValue == nil { throw fields.error("config must be an object") }
            return .join(config: config, expect: try fields.replyExpectation())
        case "push":
            let payload = fields.fields["payload"] ?? .object([:])
            guard payload.objectValue != nil else { throw fields.error("payload must be an object") }
            return .push(event: try fields.string("event"), payload: payload, expect: try fields.replyExpectation())
        case "turns":
            guard case .array(let items)? = fields.fields["texts"] else {
                throw fields.error(fields.fields["texts"] == nil ? "missing field texts" : "texts must be an array of strings")
            }
            var texts: [String] = []
            for item in items {
                guard let text = item.stringValue else { throw fields.error("texts must be an array of strings") }
                texts.append(text)
            }
            guard !texts.isEmpty else { throw fields.error("texts is empty") }
            let delay = try fields.milliseconds("delay_ms", default: 0, allowZero: true)
            guard delay <= 10_000 else { throw fields.error("delay_ms must be at most 10000") }
            return .turns(texts: texts, delayMs: delay)
        case "wait":
            return .wait(event: try fields.string("event"), match: fields.fields["match"])
        case "disconnect":
            return .disconnect
        case "reconnect":
            return .reconnect(resume: try fields.optionalBool("resume") ?? true)
        case "sleep":
            guard let ms = try fields.optionalNumber("ms") else { throw fields.error("missing field ms") }
            guard let whole = Int(exactly: ms), (0...10_000).contains(whole) else { throw fields.error("ms must be a whole number from 0 to 10000") }
            return .sleep(ms: whole)
        case "parallel":
            guard case .array(let items)? = fields.fields["steps"] else {
                throw fields.error(fields.fields["steps"] == nil ? "missing field steps" : "steps must be an array")
            }
            guard items.count >= 2 else { throw fields.error("a parallel step needs at least two steps") }
            var inner: [ScriptStep] = []
            for (index, item) in items.enumerated() {
                inner.append(try step(item, number: "\(number).\(index + 1)", actors: actors, nested: true))
            }
            guard Set(inner.compactMap(\.actor)).count >= 2 else {
                throw fields.error("the steps of a parallel step must belong to at least two actors (one actor's steps run in order)")
            }
            return .parallel(inner)
        default:  // "assert"
            guard let that = fields.fields["that"] else { throw fields.error("missing field that") }
            return .assert(try assertion(that, fields: fields, actors: actors))
        }
    }

    /// The fields of an http step.
    private static func http(fields: Fields, number: String) throws(ScriptFormatError) -> ScriptStep.Kind {
        let method = try fields.string("method").uppercased()
        guard ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"].contains(method) else {
            throw fields.error("method must be GET, HEAD, POST, PATCH, PUT, DELETE or OPTIONS, not \(method)")
        }
        let path = try fields.string("path")
        guard path.hasPrefix("/") else { throw fields.error("path must start with /") }
        var headers: [String: String] = [:]
        if let headerValue = fields.fields["headers"] {
            guard case .object(let headerFields) = headerValue else { throw fields.error("headers must be an object of strings") }
            for (key, value) in headerFields {
                guard let text = value.stringValue else { throw fields.error("headers.\(key) must be a string") }
                headers[key] = text
            }
        }
        var expect = ScriptStep.HTTPExpectation()
        if let expectValue = fields.fields["expect"] {
            let expectFields = try Fields(expectValue, at: "step \(number) (http): expect")
            try expectFields.allow(["status", "body"])
            if let status = try expectFields.optionalNumber("status") {
                guard let code = Int(exactly: status), (100...599).contains(code) else {
                    throw fields.error("expect.status must be an HTTP status (100 to 599)")
                }
                expect.status = code
            }
            expect.body = expectFields.fields["body"]
        }
        return .http(method: method, path: path, body: fields.fields["body"], headers: headers, expect: expect)
    }

    private static func assertion(_ value: JSONValue, fields: Fields, actors: Set<String>) throws(ScriptFormatError) -> ScriptAssertion {
        let forms = "{\"equal\": [a, b]}, {\"not_equal\": [a, b]}, {\"count_true\": [...], \"equals\": N}, {\"not_contains\": {\"actor\", \"text\"}} or {\"received\": {\"actor\", \"topic\", \"event\", \"match\"?}, \"equals\": N}"
        guard case .object(let that) = value else { throw fields.error("that must be one of \(forms)") }
        func pair(_ key: String) throws(ScriptFormatError) -> (JSONValue, JSONValue) {
            guard that.count == 1, case .array(let items)? = that[key], items.count == 2 else {
                throw fields.error("\(key) takes exactly two values: {\"\(key)\": [a, b]}")
            }
            return (items[0], items[1])
        }
        func equals() throws(ScriptFormatError) -> Int {
            guard that.count == 2, let number = that["equals"]?.intValue, number >= 0 else {
                throw fields.error("\(that.keys.first { $0 != "equals" } ?? "count") needs \"equals\": a whole number ≥ 0 (and nothing else)")
            }
            return Int(number)
        }
        func checkActor(_ name: String?) throws(ScriptFormatError) -> String {
            guard let name else { throw fields.error("the assertion needs an actor") }
            guard actors.contains(name) else { throw fields.error("unknown actor \(name)") }
            return name
        }
        if that["equal"] != nil {
            let (a, b) = try pair("equal")
            return .equal(a, b)
        }
        if that["not_equal"] != nil {
            let (a, b) = try pair("not_equal")
            return .notEqual(a, b)
        }
        if case .array(let items)? = that["count_true"] {
            var conditions: [ScriptCondition] = []
            for item in items {
                if case .object(let object) = item, object.keys.contains(where: { ["equal", "not_equal", "count_true", "not_contains", "received"].contains($0) }) {
                    conditions.append(.assertion(try assertion(item, fields: fields, actors: actors)))
                } else {
                    conditions.append(.value(item))
                }
            }
            return .countTrue(conditions, equals: try equals())
        }
        if let inner = that["not_contains"] {
            guard that.count == 1, case .object(let args) = inner, Set(args.keys) == ["actor", "text"], let text = args["text"], text.stringValue != nil else {
                throw fields.error("not_contains takes {\"actor\": NAME, \"text\": STRING}")
            }
            return .notContains(actor: try checkActor(args["actor"]?.stringValue), text: text)
        }
        if let inner = that["received"] {
            guard case .object(let args) = inner, Set(args.keys).isSubset(of: ["actor", "topic", "event", "match"]),
                let topic = args["topic"]?.stringValue, let event = args["event"]?.stringValue
            else {
                throw fields.error("received takes {\"actor\": NAME, \"topic\": TOPIC, \"event\": EVENT, \"match\"?: {…}}")
            }
            return .received(actor: try checkActor(args["actor"]?.stringValue), topic: topic, event: event, match: args["match"], equals: try equals())
        }
        throw fields.error("that must be one of \(forms)")
    }

    // MARK: Variables

    /// The names every script may use: `run`, and `ACTOR.id`, `ACTOR.email` per actor.
    static func builtins(actors: Set<String>) -> Set<String> {
        var names: Set<String> = ["run"]
        for actor in actors {
            names.insert("\(actor).id")
            names.insert("\(actor).email")
        }
        return names
    }

    /// Checks that every `${name}` the step uses is defined by then, then adds its saves.
    private static func checkVariables(_ step: ScriptStep, defined: inout Set<String>) throws(ScriptFormatError) {
        if case .parallel(let inner) = step.kind {
            var saved: Set<String> = []
            var perActor: [String: Set<String>] = [:]
            for child in inner {
                var visible = defined.union(perActor[child.actor!] ?? [])
                try checkVariables(child, defined: &visible)
                let own = visible.subtracting(defined)
                perActor[child.actor!, default: []].formUnion(own)
                saved.formUnion(own)
            }
            defined.formUnion(saved)
            return
        }
        for text in step.templates {
            let pieces: [ScriptTemplate.Piece]
            do {
                pieces = try ScriptTemplate.pieces(of: text)
            } catch {
                throw ScriptFormatError("step \(step.number) (\(step.kindName)): \(error.description)")
            }
            for case .variable(let name) in pieces where !defined.contains(name) {
                let first = String(name.prefix { $0 != "." })
                guard defined.contains(first) else {
                    throw ScriptFormatError("step \(step.number) (\(step.kindName)): ${\(name)} is used before any step saves \(first)")
                }
            }
        }
        for name in step.save.keys {
            guard isIdentifier(name) else {
                throw ScriptFormatError("step \(step.number) (\(step.kindName)): save: \"\(name)\" is not a variable name (letters, digits, _)")
            }
            defined.insert(name)
        }
    }
}

extension Script {
    /// The strings in `value`, its objects' values in the order of their keys.
    static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let items): items.flatMap { strings(in: $0) }
        case .object(let fields): fields.keys.sorted().flatMap { strings(in: fields[$0]!) }
        default: []
        }
    }
}

/// One object of the script being checked, with where it is for error messages.
private struct Fields {
    let fields: [String: JSONValue]
    let location: String

    init(_ value: JSONValue, at location: String) throws(ScriptFormatError) {
        guard case .object(let fields) = value else { throw ScriptFormatError("\(location): must be an object, not \(value.kindName)") }
        self.fields = fields
        self.location = location
    }

    func error(_ message: String) -> ScriptFormatError {
        ScriptFormatError("\(location): \(message)")
    }

    func allow(_ keys: [String]) throws(ScriptFormatError) {
        if let unknown = fields.keys.sorted().first(where: { !keys.contains($0) }) {
            throw error("unknown field \(unknown) (allowed: \(keys.joined(separator: ", ")))")
        }
    }

    func string(_ key: String) throws(ScriptFormatError) -> String {
        guard let value = fields[key] else { throw error("missing field \(key)") }
        guard let text = value.stringValue else { throw error("\(key) must be a string, not \(value.kindName)") }
        guard !text.isEmpty else { throw error("\(key) is empty") }
        return text
    }

    func optionalString(_ key: String) throws(ScriptFormatError) -> String? {
        guard fields[key] != nil else { return nil }
        return try string(key)
    }

    func optionalBool(_ key: String) throws(ScriptFormatError) -> Bool? {
        guard let value = fields[key] else { return nil }
        guard case .bool(let flag) = value else { throw error("\(key) must be true or false, not \(value.kindName)") }
        return flag
    }

    func optionalNumber(_ key: String) throws(ScriptFormatError) -> Double? {
        guard let value = fields[key] else { return nil }
        switch value {
        case .number(let number): return number
        default: throw error("\(key) must be a number, not \(value.kindName)")
        }
    }

    func milliseconds(_ key: String, default fallback: Int, allowZero: Bool = false) throws(ScriptFormatError) -> Int {
        guard let number = try optionalNumber(key) else { return fallback }
        guard let whole = Int(exactly: number), whole >= (allowZero ? 0 : 1), whole <= 3_600_000 else {
            throw error("\(key) must be a whole number of milliseconds from \(allowZero ? 0 : 1) to 3600000")
        }
        return whole
    }

    func saves() throws(ScriptFormatError) -> [String: String] {
        guard let value = fields["save"] else { return [:] }
        guard case .object(let entries) = value else { throw error("save must be an object: {\"variable\": \"dotted.path\"}") }
        var saves: [String: String] = [:]
        for (name, path) in entries {
            guard let text = path.stringValue, !text.isEmpty else { throw error("save.\(name) must be a dotted path (a string)") }
            saves[name] = text
        }
        return saves
    }

    func replyExpectation() throws(ScriptFormatError) -> ScriptStep.ReplyExpectation {
        guard let value = fields["expect"] else { return ScriptStep.ReplyExpectation(status: "ok") }
        let expect = try Fields(value, at: "\(location): expect")
        try expect.allow(["status", "response"])
        let status = try expect.optionalString("status") ?? "ok"
        guard status == "ok" || status == "error" else { throw error("expect.status must be ok or error, not \(status)") }
        return ScriptStep.ReplyExpectation(status: status, response: expect.fields["response"])
    }
}
