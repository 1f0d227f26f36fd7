/// Open client connections, in total and HTTP ones per IP, and the admission rule. Pure.
///
/// Every accepted connection counts towards `maxTotal` until it closes (it holds a
/// descriptor). A connection counts towards `maxPerIP` while it speaks HTTP; an upgraded
/// WebSocket leaves that count (the WebSocket limits count it instead).
struct ConnectionCounts {
    enum Admission: Equatable {
        case admitted
        case overTotal
        case overPerIP
    }

    let maxTotal: Int
    let maxPerIP: Int
    private(set) var total = 0
    private(set) var httpPerIP: [String: Int] = [:]

    init(maxTotal: Int, maxPerIP: Int) {
        self.maxTotal = maxTotal
        self.maxPerIP = maxPerIP
    }

    mutating func admit(ip: String) -> Admission {
        guard total < maxTotal else { return .overTotal }
        guard httpPerIP[ip, default: 0] < maxPerIP else { return .overPerIP }
        total += 1
        httpPerIP[ip, default: 0] += 1
        return .admitted
    }

    /// An admitted connection upgraded: it leaves the per-IP HTTP count.
    mutating func upgraded(ip: String) {
        leaveHTTP(ip: ip)
    }

    /// An admitted connection closed.
    mutating func closed(ip: String, wasUpgraded: Bool) {
        total -= 1
        if !wasUpgraded { leaveHTTP(ip: ip) }
    }

    func httpConnections(ip: String) -> Int { httpPerIP[ip, default: 0] }

    private mutating func leaveHTTP(ip: String) {
        let left = httpPerIP[ip, default: 1] - 1
        httpPerIP[ip] = left > 0 ? left : nil
    }
}
