import Foundation
package import Logging
import NIOHTTP1
package import PraxisAuth
import PraxisDomain
import PraxisProtocol
package import PraxisStore

/// A PostgREST-compatible subset under `/rest/v1/<table>`: reads with select, filters,
/// order, limit/offset and exact counts; inserts (and upserts), updates and deletes.
/// Every query runs under the caller's access rules.
package struct RestAPI: Sendable {
    let store: any DataStore
    let authenticator: RequestAuthenticator
    let configuration: APIConfiguration
    let logger: Logger

    package init(store: any DataStore, users: any AuthStore, tokens: TokenIssuer, configuration: APIConfiguration, logger: Logger) {
        self.store = store
        self.authenticator = RequestAuthenticator(tokens: tokens, store: users)
        self.configuration = configuration
        self.logger = logger
    }

    package func register(in router: inout Router) {
        router.add(nil, "/rest/v1/") { request in await self.respond(to: request) }
    }

    /// The response shape a client asked for with `Accept`.
    private enum Shape {
        case array, object
    }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        var caller = Caller.anonymous
        do {
            let identity: RequestAuthenticator.Identity
            do {
                identity = try await authenticator.authenticate(request)
            } catch {
                return APIError(.unauthorized, code: error.code, message: error.message, hint: error.hint).response
            }
            caller = identity.caller
            let name = String(request.path.dropFirst("/rest/v1/".count))
            guard let table = Catalog.table(name) else {
                throw DataError(.notFound, code: "PGRST205", message: "Could not find the table 'public.\(name)' in the schema cache")
            }
            let (shape, stripNulls) = try Self.shape(request)
            let query: PostgrestQuery
            do {
                query = try PostgrestQuery.parse(request.queryItems.filter { $0.name != "apikey" }, limits: configuration.queryLimits)
            } catch {
                throw DataError(.badRequest, code: "PGRST100", message: error.message)
            }
            let preferences = Preferences(headerValues: request.headers["prefer"])
            let context = DataContext(
                caller: caller, ipAddress: request.remoteIP ?? "unknown",
                expectsSingleRow: shape == .object && request.method != .GET && request.method != .HEAD
                    && preferences.returning == .representation
            )
            switch request.method {
            case .GET, .HEAD:
                var bounded = query
                bounded.limit = min(query.limit ?? configuration.maxRows, configuration.maxRows)
                let result = try await store.select(table, query: bounded, countExact: preferences.countExact, context: context)
                return try Self.render(result, status: .ok, shape: shape, stripNulls: stripNulls, offset: query.offset ?? 0, countExact: preferences.countExact)
            case .POST:
                let rows = try Self.bodyRows(request)
                let result = try await store.insert(table, InsertRequest(rows: rows, query: query, preferences: preferences), context: context)
                usersChanged(table, result)
                return try Self.renderWrite(result, status: .created, preferences: preferences, shape: shape, stripNulls: stripNulls)
            case .PATCH:
                guard case .object(let patch) = try Self.body(request) else {
                    throw DataError.invalidBody("PATCH takes one JSON object")
                }
                let result = try await store.update(table, query: query, patch: patch, context: context)
                usersChanged(table, result)
                return try Self.renderWrite(result, status: .ok, preferences: preferences, shape: shape, stripNulls: stripNulls)
            case .DELETE:
                let result = try await store.delete(table, query: query, context: context)
                usersChanged(table, result)
                return try Self.renderWrite(result, status: .ok, preferences: preferences, shape: shape, stripNulls: stripNulls)
            default:
                throw DataError(.methodNotAllowed, code: "PGRST117", message: "Unsupported HTTP method: \(request.method)")
            }
        } catch let error as DataError {
            return Self.errorResponse(error, caller: caller)
        } catch {
            logger.error("data request failed", metadata: ["error": "\(error)"])
            return APIError(.internalServerError, code: "XX000", message: "the request could not be completed").response
        }
    }

    // MARK: Pieces

    /// Users deleted, disabled or otherwise changed through the data API: their open
    /// realtime channels are checked again at once (a user whose id the answer does not
    /// show: everyone's).
    private func usersChanged(_ table: TableSchema, _ result: DataResult) {
        guard table.name == "users", !result.rows.isEmpty else { return }
        let events = authenticator.tokens.sessionEvents
        for row in result.rows {
            guard case .text(let id)? = row["id"] else { return events.sessionsEnded(userID: nil) }
            events.sessionsEnded(userID: id)
        }
    }

    static func errorResponse(_ error: DataError, caller: Caller) -> HTTPResponse {
        let status: HTTPResponseStatus =
            switch error.kind {
            case .badRequest: .badRequest
            case .unauthorized: .unauthorized
            // PostgREST answers a refused anonymous request with 401, a signed-in one with 403.
            case .forbidden: caller == .anonymous ? .unauthorized : .forbidden
            case .notFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .notAcceptable: .notAcceptable
            case .conflict: .conflict
            case .internalError: .internalServerError
            }
        return APIError(status, code: error.code, message: error.message, details: error.details, hint: error.hint).response
    }

    private static func shape(_ request: HTTPRequest) throws(DataError) -> (Shape, stripNulls: Bool) {
        guard let accept = request.headers.first(name: "accept"), !accept.isEmpty else { return (.array, false) }
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingSpaces().lowercased() }
            let stripNulls = parts.dropFirst().contains("nulls=stripped")
            switch parts.first ?? "" {
            case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
                return (.object, stripNulls)
            case "application/json", "application/vnd.pgrst.array+json", "application/*", "*/*":
                return (.array, stripNulls)
            default:
                continue
            }
        }
        throw DataError(.notAcceptable, code: "PGRST107", message: "None of these media types are available: \(accept)")
    }

    private static func body(_ request: HTTPRequest) throws(DataError) -> JSONValue {
        let bytes = request.bodyBytes
        guard !bytes.isEmpty else { throw .invalidBody("Empty or invalid json: the body is empty") }
        guard StrictJSON.isValid(bytes), let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
            throw .invalidBody("Empty or invalid json")
        }
        return value
    }

    private static func bodyRows(_ request: HTTPRequest) throws(DataError) -> [[String: JSONValue]] {
        switch try body(request) {
        case .object(let row):
            return [row]
        case .array(let items):
            var rows: [[String: JSONValue]] = []
            for item in items {
                guard case .object(let row) = item else { throw .invalidBody("every element of the array must be a JSON object") }
                rows.append(row)
            }
            return rows
        default:
            throw .invalidBody("the body must be a JSON object or an array of objects")
        }
    }

    private static func render(
        _ result: DataResult, status: HTTPResponseStatus, shape: Shape, stripNulls: Bool, offset: Int, countExact: Bool
    ) throws(DataError) -> HTTPResponse {
        var headers = HTTPHeaders()
        let total = result.total.map(String.init) ?? "*"
        if result.rows.isEmpty {
            headers.add(name: "Content-Range", value: "*/\(total)")
        } else {
            headers.add(name: "Content-Range", value: "\(offset)-\(offset + result.rows.count - 1)/\(total)")
        }
        switch shape {
        case .array:
            return .json(status, bytes: RowEncoder.encodeArray(result.rows, columns: result.columns, stripNulls: stripNulls), headers: headers)
        case .object:
            guard result.rows.count == 1 else {
                throw DataError(
                    .notAcceptable, code: "PGRST116", message: "JSON object requested, multiple (or no) rows returned",
                    details: "The result contains \(result.rows.count) rows"
                )
            }
            return .json(status, bytes: RowEncoder.encodeObject(result.rows[0], columns: result.columns, stripNulls: stripNulls), headers: headers)
        }
    }

    private static func renderWrite(
        _ result: DataResult, status: HTTPResponseStatus, preferences: Preferences, shape: Shape, stripNulls: Bool
    ) throws(DataError) -> HTTPResponse {
        switch preferences.returning ?? .minimal {
        case .representation:
            var rendered = try render(result, status: status, shape: shape, stripNulls: stripNulls, offset: 0, countExact: false)
            rendered.headers.remove(name: "Content-Range")
            rendered.headers.add(name: "Content-Range", value: "*/\(result.rows.count)")
            return rendered
        case .minimal, .headersOnly:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Range", value: "*/\(result.rows.count)")
            return .empty(status == .created ? .created : .noContent, headers: headers)
        }
    }
}
