import Dispatch
import GRDB

/// Moves WAL checkpoints off the writer: the writer's automatic checkpoint (which runs inside
/// a commit, and with it the database file's fsync) is turned off, and a connection of its
/// own runs `PRAGMA wal_checkpoint(PASSIVE)` every `interval`. A passive checkpoint never
/// blocks the writer or readers; the writer restarts the WAL from its start once everything
/// was copied back. So the room journal's commits wait for their own WAL fsync only.
/// `@unchecked`: the timer is only created, resumed and cancelled (thread-safe Dispatch calls).
final class Checkpointer: @unchecked Sendable {
    private let timer: any DispatchSourceTimer
    private let connection: DatabaseQueue

    init(path: String, interval: DispatchTimeInterval) throws {
        var configuration = Configuration()
        configuration.label = "praxis.checkpoint"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        let queue = DispatchQueue(label: "praxis.checkpoint")
        timer = DispatchSource.makeTimerSource(queue: queue)
        let connection = self.connection
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler {
            _ = try? connection.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        }
        timer.resume()
    }

    /// Stops checkpointing and closes the connection.
    func stop() {
        timer.cancel()
        try? connection.close()
    }

    deinit { timer.cancel() }
}
