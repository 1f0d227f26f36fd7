import Foundation
import PostgresNIO
import PraxisDomain

/// The demo data on PostgreSQL: the same accounts, profiles, case library and rooms as
/// SQLite's ``Store/loadDemoData(hashPassword:)``, only into an empty database, in one
/// transaction, as the owner.
extension PostgresDatabase {
    package func loadDemoData(hashPassword: @Sendable (String) throws -> String) async throws -> DemoSummary {
        let cases = try Store.demoCases()
        let accounts = Store.demoAccounts
        let hashes = try accounts.map { try hashPassword($0.password) }
        let logger = self.logger
        return try await transaction { connection in
            let counts = try await Self.rows(
                "SELECT (SELECT count(*) FROM users)::text, (SELECT count(*) FROM case_briefs)::text", on: connection, logger: logger
            )
            let users = (counts.first?.first ?? nil).flatMap { Int($0) } ?? 0
            let briefs = (counts.first?.last ?? nil).flatMap { Int($0) } ?? 0
            guard users == 0, briefs == 0 else { return DemoSummary(loaded: false, accounts: [], caseCount: briefs, roomCount: 0) }
            let ids = try await Self.insertDemoAccounts(accounts, hashes: hashes, on: connection, logger: logger)
            for item in cases {
                let id = UUID().uuidString.lowercased()
                try await Self.run(
                    """
                    INSERT INTO case_briefs (id, category, condition, case_name, case_name_internal, domain,
                        candidate_brief, actor_brief, target_profession, clinical_area, difficulty_level,
                        patient_persona, status, is_ai_generated, created_by_admin_id)
                    VALUES (\(id)::uuid, \(item.category), \(item.condition), \(item.case_name), \(item.case_name_internal), \(item.domain),
                        \(item.candidate_brief), \(item.actor_brief), \(item.target_profession), \(item.clinical_area), \(item.difficulty_level),
                        \(item.patient_persona.jsonString)::jsonb, 'published', false, \(ids[0])::uuid)
                    """,
                    on: connection, logger: logger
                )
            }
            // Rooms on the board: two public (one with a guest), one private (as SQLite's).
            let hour: TimeInterval = 3600
            let rooms: [(host: String, guest: String?, offset: TimeInterval, type: String, isPrivate: Bool)] = [
                (ids[1], nil, 2 * hour, "Clinical", false),
                (ids[2], ids[3], 26 * hour, "Communication", false),
                (ids[3], ids[1], 50 * hour, "Clinical", true),
            ]
            for room in rooms {
                let id = UUID().uuidString.lowercased()
                let at = Timestamp.format(Date().addingTimeInterval(room.offset))
                try await Self.run(
                    """
                    INSERT INTO practice_rooms (id, host_id, guest_id, datetime_utc, type, room_url, stage, private)
                    VALUES (\(id)::uuid, \(room.host)::uuid, \(room.guest)::uuid, \(at)::timestamptz, \(room.type), \("room-\(id.prefix(8))"), 1, \(room.isPrivate))
                    """,
                    on: connection, logger: logger
                )
            }
            return DemoSummary(loaded: true, accounts: accounts, caseCount: cases.count, roomCount: rooms.count)
        }
    }

    /// The demo users and their profiles; returns their ids in `accounts`' order.
    private static func insertDemoAccounts(
        _ accounts: [DemoAccount], hashes: [String], on connection: PostgresConnection, logger: Logger
    ) async throws -> [String] {
        let professions = ["medicine", "medicine", "nursing", "dentistry"]
        let levels = ["consultant", "foundation year 2", "staff nurse", "dental core trainee"]
        var ids: [String] = []
        for (index, account) in accounts.enumerated() {
            let id = UUID().uuidString.lowercased()
            ids.append(id)
            try await run(
                """
                INSERT INTO users (id, email, hashed_password, full_name, role, profession, is_email_verified, email_confirmed_at)
                VALUES (\(id)::uuid, \(account.email), \(hashes[index]), \(account.fullName), \(account.role), \(professions[index]), true, now())
                """,
                on: connection, logger: logger
            )
            let names = account.fullName.split(separator: " ").map(String.init)
            try await run(
                "INSERT INTO profiles (user_id, first_name, last_name, training_level) VALUES (\(id)::uuid, \(names[0]), \(names[1]), \(levels[index]))",
                on: connection, logger: logger
            )
        }
        return ids
    }
}
