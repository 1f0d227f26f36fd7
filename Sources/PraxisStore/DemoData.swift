import Foundation
import GRDB
import PraxisDomain

/// One case of the bundled demo library (`Resources/demo-cases.json`).
struct DemoCase: Decodable {
    var case_name: String
    var case_name_internal: String
    var category: String
    var condition: String
    var domain: String
    var target_profession: String
    var clinical_area: String
    var difficulty_level: String
    var candidate_brief: String
    var actor_brief: String
    var patient_persona: JSONValue
}

/// A demo account, printed when the demo data is loaded.
public struct DemoAccount: Sendable, Hashable {
    public var email: String
    public var password: String
    public var role: String
    public var fullName: String
}

/// What `loadDemoData` did.
public struct DemoSummary: Sendable {
    /// False when the database already had data and nothing was loaded.
    public var loaded: Bool
    public var accounts: [DemoAccount]
    public var caseCount: Int
    public var roomCount: Int
}

extension Store {
    /// The demo accounts (all passwords are demo-only).
    public static let demoAccounts: [DemoAccount] = [
        DemoAccount(email: "admin@praxis.test", password: "praxis-admin-demo", role: "admin", fullName: "Dana Admin"),
        DemoAccount(email: "asha.patel@praxis.test", password: "practice-demo-1", role: "user", fullName: "Asha Patel"),
        DemoAccount(email: "ben.okafor@praxis.test", password: "practice-demo-2", role: "user", fullName: "Ben Okafor"),
        DemoAccount(email: "chloe.martin@praxis.test", password: "practice-demo-3", role: "user", fullName: "Chloe Martin"),
    ]

    /// The bundled case library.
    static func demoCases() throws -> [DemoCase] {
        guard let url = Bundle.module.url(forResource: "demo-cases", withExtension: "json") else {
            throw StoreError.demoDataInvalid("demo-cases.json is missing from the bundle")
        }
        do {
            return try JSONDecoder().decode([DemoCase].self, from: Data(contentsOf: url))
        } catch {
            throw StoreError.demoDataInvalid("\(error)")
        }
    }

    /// Loads demo accounts, profiles, the case library and a few rooms — only into an
    /// empty database (no users and no cases); otherwise does nothing.
    ///
    /// - Parameter hashPassword: hashes a demo password (scrypt, from PraxisAuth).
    public func loadDemoData(hashPassword: @Sendable (String) throws -> String) async throws -> DemoSummary {
        let cases = try Self.demoCases()
        let accounts = Self.demoAccounts
        let hashes = try accounts.map { try hashPassword($0.password) }
        return try await pool.write { db in
            let users = try Int.fetchOne(db, sql: "SELECT count(*) FROM users") ?? 0
            let briefs = try Int.fetchOne(db, sql: "SELECT count(*) FROM case_briefs") ?? 0
            guard users == 0, briefs == 0 else {
                return DemoSummary(loaded: false, accounts: [], caseCount: briefs, roomCount: 0)
            }
            let now = Timestamp.now()
            var ids: [String] = []
            let professions = ["medicine", "medicine", "nursing", "dentistry"]
            let levels = ["consultant", "foundation year 2", "staff nurse", "dental core trainee"]
            for (index, account) in accounts.enumerated() {
                let id = UUID().uuidString.lowercased()
                ids.append(id)
                try db.execute(
                    sql: """
                        INSERT INTO users (id, email, hashed_password, full_name, role, profession, is_email_verified, email_confirmed_at, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
                        """,
                    arguments: [id, account.email, hashes[index], account.fullName, account.role, professions[index], now, now, now]
                )
                let names = account.fullName.split(separator: " ")
                try db.execute(
                    sql: """
                        INSERT INTO profiles (user_id, first_name, last_name, training_level, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [id, String(names[0]), String(names[1]), levels[index], now, now]
                )
            }
            let adminID = ids[0]
            for item in cases {
                try db.execute(
                    sql: """
                        INSERT INTO case_briefs (id, category, condition, case_name, case_name_internal, domain,
                            candidate_brief, actor_brief, target_profession, clinical_area, difficulty_level,
                            patient_persona, status, is_ai_generated, created_by_admin_id, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'published', 0, ?, ?, ?)
                        """,
                    arguments: [
                        UUID().uuidString.lowercased(), item.category, item.condition, item.case_name,
                        item.case_name_internal, item.domain, item.candidate_brief, item.actor_brief,
                        item.target_profession, item.clinical_area, item.difficulty_level,
                        item.patient_persona.jsonString, adminID, now, now,
                    ]
                )
            }
            // Rooms on the board: two public (one with a guest), one private.
            let hour: TimeInterval = 3600
            let rooms: [(host: String, guest: String?, offset: TimeInterval, type: String, isPrivate: Bool)] = [
                (ids[1], nil, 2 * hour, "Clinical", false),
                (ids[2], ids[3], 26 * hour, "Communication", false),
                (ids[3], ids[1], 50 * hour, "Clinical", true),
            ]
            for room in rooms {
                let id = UUID().uuidString.lowercased()
                try db.execute(
                    sql: """
                        INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, stage, private, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
                        """,
                    arguments: [
                        id, room.host, room.guest, Timestamp.format(Date().addingTimeInterval(room.offset)),
                        room.type, "room-\(id.prefix(8))", room.isPrivate, now, now,
                    ]
                )
            }
            return DemoSummary(loaded: true, accounts: accounts, caseCount: cases.count, roomCount: rooms.count)
        }
    }
}
