/// One holder at a time for work on the shared test cluster that touches cluster-wide
/// objects (migrations create the API roles): the PostgreSQL suite and the backend-
/// parameterized suites take turns. Waiters are served in arrival order.
actor ClusterGate {
    static let shared = ClusterGate()

    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` once every earlier holder is done.
    nonisolated func exclusively<T>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }

    private func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
