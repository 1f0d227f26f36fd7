/// Turns a request into a response. Runs as a Swift task off the event loop, so it may
/// await the store or hash passwords.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) async -> HTTPResponse
}
