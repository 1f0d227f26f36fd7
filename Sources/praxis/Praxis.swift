import ArgumentParser
import Foundation

/// The `praxis` command line.
struct Praxis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "praxis",
        abstract: "Praxis: a realtime practice-room server for clinical communication role-plays.",
        discussion: "Speaks Supabase's auth, data and realtime protocols over one HTTP port.",
        subcommands: [Serve.self, Migrate.self, Copy.self, Keys.self, Bench.self, Client.self]
    )
}

@main
enum Main {
    static func main() async {
        do {
            var command = try Praxis.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = Praxis.exitCode(for: error)
            if code == .validationFailure {
                // Usage errors: one line naming the problem, exit status 2.
                let message = Praxis.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
                FileHandle.standardError.write(Data("praxis: \(message)\n".utf8))
                exit(2)
            }
            if let failure = error as? CommandFailure {
                FileHandle.standardError.write(Data("praxis: error: \(failure.message)\n".utf8))
                exit(1)
            }
            Praxis.exit(withError: error)
        }
    }
}

/// A runtime failure of a subcommand: printed as one line, exit status 1.
struct CommandFailure: Error {
    var message: String
}

/// Reads `PRAXIS_*` environment variables for options not given on the command line.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// The option's value, else the environment's (validated), else the default.
    static func resolve<T>(_ option: T?, _ name: String, default fallback: T, parse: (String) -> T?) throws -> T {
        if let option { return option }
        guard let raw = value(name) else { return fallback }
        guard let parsed = parse(raw) else {
            throw ValidationError("invalid value '\(raw)' in environment variable \(name)")
        }
        return parsed
    }
}
