import PraxisHTTP
import PraxisStore
import Prometheus

/// The server's route table.
enum Routes {
    static func make(store: Store, metrics: PrometheusCollectorRegistry) -> Router {
        var router = Router()
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
