import PraxisHTTP
import Metrics
import CoreMetrics
import Foundation

/// Counts requests by method and status and times them, around another responder.
struct InstrumentedResponder: HTTPResponder {
    let inner: any HTTPResponder
    let factory: any MetricsFactory

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let start = ContinuousClock.now
        let response = await inner.respond(to: request)
        let elapsed = ContinuousClock.now - start
        let dimensions = [("method", "\(request.method)"), ("status", "\(response.status.code)")]
        Counter(label: "praxis_http_requests_total", dimensions: dimensions, factory: factory).increment()
        Timer(label: "praxis_http_request_duration_seconds", dimensions: [("method", "\(request.method)")], factory: factory)
            .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        return response
    }
}
