/// Why the server could not start.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    private enum Code { case cannotBind }
    private let code: Code
    public let description: String

    private init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    /// The address could not be bound (in use, or not ours).
    public static func cannotBind(host: String, port: Int, reason: String) -> ServerError {
        ServerError(.cannotBind, "cannot listen on \(host):\(port): \(reason)")
    }
}
