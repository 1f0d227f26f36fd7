import ArgumentParser
import Foundation
import PraxisAuth
import PraxisClient
import PraxisDomain
import PraxisStore

/// `praxis client`: the scripted client for testers.
struct Client: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scripted clients: play rooms, the board and the data API as several users at once.",
        subcommands: [Run.self]
    )
}

extension Client {
    /// `praxis client run`.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run client scripts (JSON, see protocol/client-scripts.md) against a running server.",
            discussion: """
                Each FILE is one script: actors (users, each with their own realtime WebSocket) and the \
                steps they take — data-API requests, channel joins and pushes, room turns, waits for \
                events, disconnects, reconnects with resume, parallel races and assertions. One line \
                per step, then PASS or FAIL; the first failed expectation stops the script and prints \
                what was expected and what arrived. Scripts run one after another.

                The anon key comes from --anon-key, else PRAXIS_ANON_KEY, else --db FILE (read from \
                the server's database, as 'praxis keys' does). Exit status: 0 when every script \
                passed, 1 when one failed, 2 when a script is not valid (nothing runs then).
                """
        )

        @Option(help: "The server, http://HOST:PORT.")
        var url: String

        @Option(help: "Seconds one script may run, 1...3600. Default: the script's timeout_s, else 60.")
        var timeout: Double?

        @Option(help: "The server's anon key (env PRAXIS_ANON_KEY).")
        var anonKey: String?

        @Option(help: "Read the anon key from this database file (as 'praxis keys --db' does) when no key is given.")
        var db: String?

        @Option(name: .customLong("var"), help: ArgumentHelp(
            "Replace the starting value of a variable the scripts declare (repeatable). VALUE is read as JSON when it parses, else as text.",
            valueName: "NAME=VALUE"))
        var variables: [String] = []

        @Argument(help: "Script files (JSON).")
        var files: [String] = []

        func validate() throws {
            guard parsedURL != nil else {
                throw ValidationError("invalid value '\(url)' for '--url': expected http://HOST:PORT")
            }
            if let timeout, !(timeout >= 1 && timeout <= 3600) {
                throw ValidationError("invalid value '\(timeout)' for '--timeout': must be 1...3600 seconds")
            }
            guard !files.isEmpty else { throw ValidationError("missing script files: praxis client run --url URL FILE…") }
            _ = try overrides()
        }

        /// `--var` values by name.
        func overrides() throws -> [String: JSONValue] {
            var values: [String: JSONValue] = [:]
            for entry in variables {
                guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                    throw ValidationError("invalid value '\(entry)' for '--var': expected NAME=VALUE")
                }
                let raw = String(entry[entry.index(after: equals)...])
                values[String(entry[..<equals])] = (try? JSONValue.parse(raw)) ?? .string(raw)
            }
            return values
        }

        /// `http://host:port` (or `ws://`), without a path.
        var parsedURL: WebSocketURL? { WebSocketURL(url).flatMap { $0.path == nil ? $0 : nil } }

        func run() async throws {
            let key = try await resolveAnonKey()
            var scripts: [(file: String, script: Script)] = []
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read \(file)")
                }
                guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(file): not UTF-8 text") }
                do {
                    scripts.append((file, try Script.load(text: text)))
                } catch {
                    throw ValidationError("\(file): \(error.description)")
                }
            }
            let overrides = try overrides()
            for name in overrides.keys.sorted() where !scripts.contains(where: { $0.script.variables[name] != nil }) {
                throw ValidationError("--var \(name): no script declares a variable \(name)")
            }
            let parsed = parsedURL!  // validated
            let options = ScriptRunOptions(
                host: parsed.host, port: parsed.port, anonKey: key, timeoutSeconds: timeout, color: isatty(STDOUT_FILENO) == 1,
                overrides: overrides
            )
            let write: @Sendable (String) -> Void = { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
            var failed: [String] = []
            for (index, entry) in scripts.enumerated() {
                if index > 0 { write("") }
                if !(await ScriptRunner.run(entry.script, options: options, output: write)) { failed.append(entry.file) }
            }
            if scripts.count > 1 {
                write("")
                write(failed.isEmpty ? "\(scripts.count) scripts passed" : "\(failed.count) of \(scripts.count) scripts failed: \(failed.joined(separator: ", "))")
            }
            if !failed.isEmpty { throw ExitCode(1) }
        }

        private func resolveAnonKey() async throws -> String {
            if let key = anonKey ?? Environment.value("PRAXIS_ANON_KEY") {
                guard key.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                    throw ValidationError("invalid anon key: expected a JWT (letters, digits, '-', '_', '.')")
                }
                return key
            }
            guard let option = db else {
                throw ValidationError("missing the anon key: pass --anon-key KEY, set PRAXIS_ANON_KEY, or --db FILE (see 'praxis keys')")
            }
            let location = try DatabaseOption.resolve(option)
            do {
                let secret = try await DatabaseOption.withSettings(location) {
                    try await $0.signingSecret(provided: Environment.value("PRAXIS_JWT_SECRET"))
                }
                return try await TokenIssuer(secret: secret).apiKeys().anon
            } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure(message: "cannot read the keys of \(location.redacted): \(error)")
            }
        }
    }
}
