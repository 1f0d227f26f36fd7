public import NIOHTTP1

/// Dispatches requests by method and path. A route's path is either exact (`/health`, and `/`
/// itself) or a prefix ending in `/` (`/rest/v1/`), which matches everything below it.
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    private struct Route: Sendable {
        var methods: [HTTPMethod]?
        var path: String
        var handler: Handler

        func matches(path candidate: String) -> Bool {
            path != "/" && path.hasSuffix("/") ? candidate.hasPrefix(path) : candidate == path
        }
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route. `methods` nil accepts any method (the handler checks).
    public mutating func add(_ methods: [HTTPMethod]?, _ path: String, handler: @escaping Handler) {
        routes.append(Route(methods: methods, path: path, handler: handler))
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let candidates = routes.filter { $0.matches(path: request.path) }
        guard !candidates.isEmpty else {
            return APIError.notFound(request.path).response
        }
        let method = request.method == .HEAD ? .GET : request.method
        guard let route = candidates.first(where: { $0.methods?.contains(method) ?? true }) else {
            var response = APIError(.methodNotAllowed, code: "PGRST405", message: "\(request.method) is not allowed on \(request.path)").response
            let allowed = candidates.flatMap { $0.methods ?? [] }.map { "\($0)" }
            response.headers.add(name: "Allow", value: (allowed + (allowed.contains("GET") ? ["HEAD"] : [])).joined(separator: ", "))
            return response
        }
        return await route.handler(request)
    }
}
