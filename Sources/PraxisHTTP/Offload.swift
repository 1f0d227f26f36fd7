import NIOPosix

/// Runs blocking work (password hashing) on NIO's blocking thread pool, never on an
/// event loop or the cooperative pool.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(work)
}
