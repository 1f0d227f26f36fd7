import PraxisHTTP
import PraxisStore
import Prometheus
import PraxisAuth
import Logging

/// The server's route table.
enum Routes {
    static func make(
        store: Store, tokens: TokenIssuer, api: APIConfiguration, metrics: PrometheusCollectorRegistry, logger: Logger
    ) -> Router {
        var router = Router()
        AuthAPI(store: store, tokens: tokens, configuration: api, logger: logger).register(in: &router)
        RestAPI(store: store, tokens: tokens, configuration: api, logger: logger).register(in: &router)
        router.add([.GET], "/health") { _ in
            .json(.ok, ["status": "ok"])
        }
        router.add([.GET], "/ready") { _ in
            if await store.isReachable() {
                return .json(.ok, ["status": "ready", "database": "ok"])
            }
            return .json(.serviceUnavailable, ["status": "unavailable", "database": "unreachable"])
        }
        router.add([.GET], "/metrics") { _ in
            var bytes: [UInt8] = []
            metrics.emit(into: &bytes)
            return HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", bytes: bytes)
        }
        return router
    }
}
