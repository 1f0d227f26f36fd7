import NIOCore
import Synchronization

/// Admits or refuses each accepted connection against `--max-connections` and
/// `--http-max-connections-per-ip`, shared by all event loops.
final class ConnectionGate: Sendable {
    private let counts: Mutex<ConnectionCounts>

    init(maxTotal: Int, maxPerIP: Int) {
        counts = Mutex(ConnectionCounts(maxTotal: maxTotal, maxPerIP: maxPerIP))
    }

    func admit(ip: String) -> ConnectionCounts.Admission { counts.withLock { $0.admit(ip: ip) } }
    func upgraded(ip: String) { counts.withLock { $0.upgraded(ip: ip) } }
    func closed(ip: String, wasUpgraded: Bool) { counts.withLock { $0.closed(ip: ip, wasUpgraded: wasUpgraded) } }

    /// Open connections now.
    var openConnections: Int { counts.withLock { $0.total } }
}

/// One admitted connection's place in the gate: released once, when the channel closes,
/// on the per-IP count only while it still speaks HTTP.
final class ConnectionTicket {
    let ip: String
    private let gate: ConnectionGate
    private var upgraded = false
    private var released = false

    init(gate: ConnectionGate, ip: String) {
        self.gate = gate
        self.ip = ip
    }

    /// The connection upgraded; after its release (it closed first) this does nothing.
    func markUpgraded() {
        guard !upgraded, !released else { return }
        upgraded = true
        gate.upgraded(ip: ip)
    }

    func release() {
        guard !released else { return }
        released = true
        gate.closed(ip: ip, wasUpgraded: upgraded)
    }
}
