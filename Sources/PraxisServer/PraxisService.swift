public import ServiceLifecycle
import Logging

/// Runs a `PraxisApplication` until graceful shutdown (SIGINT/SIGTERM via the service group).
public struct PraxisService: Service {
    let application: PraxisApplication

    public init(application: PraxisApplication) {
        self.application = application
    }

    public func run() async throws {
        // Wait for the group's graceful shutdown (signal), or for cancellation.
        try? await gracefulShutdown()
        await application.shutdown()
    }
}
