import PraxisHTTP
import PraxisStore
import Prometheus
import PraxisAuth
import PraxisWebSocket
import PraxisWeb
import PraxisRealtime
import Logging

/// The server's route table.
enum Routes {
    static func make(
        store: OpenedStore, tokens: TokenIssuer, api: APIConfiguration, webSockets: WebSocketEndpoints,
        metrics: PrometheusCollectorRegistry, web: WebApp, anonKey: String, realtime: RealtimeApplication, logger: Logger
    ) -> Router {
        var router = Router()
        // A WebSocket path reached as plain HTTP is an upgrade that was refused: say why.
        for path in webSockets.paths {
            router.add(nil, path) { request in
                let rejection = webSockets.rejection(
                    method: request.method, uri: request.uri, headers: request.headers, remoteIP: request.remoteIP ?? "unknown"
                ) ?? .init(status: .badRequest, message: "the WebSocket upgrade failed", headers: [:])
                var response = APIError(rejection.status, code: "WS\(rejection.status.code)", message: rejection.message).response
                response.headers.add(contentsOf: rejection.headers)
                return response
            }
        }
        AuthAPI(store: store.auth, tokens: tokens, configuration: api, logger: logger).register(in: &router)
        RestAPI(store: store.data, users: store.auth, tokens: tokens, configuration: api, logger: logger).register(in: &router)
        BroadcastAPI(realtime: realtime, authenticator: RequestAuthenticator(tokens: tokens, store: store.auth)).register(in: &router)
        router.add([.GET], "/health") { _ in
            .json(.ok, ["status": "ok"])
        }
        router.add([.GET], "/ready") { _ in
            if await store.data.isReachable() {
                return .json(.ok, ["status": "ready", "database": "ok"])
            }
            return .json(.serviceUnavailable, ["status": "unavailable", "database": "unreachable"])
        }
        router.add([.GET], "/metrics") { _ in
            var bytes: [UInt8] = []
            metrics.emit(into: &bytes)
            return HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", bytes: bytes)
        }
        web.register(in: &router, anonKey: anonKey)
        return router
    }
}
