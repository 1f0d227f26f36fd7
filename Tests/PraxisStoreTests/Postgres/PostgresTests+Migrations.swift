import PraxisStore
import Testing

extension PostgresTests {
    @Suite struct Migrations {
        static let expectedNames = [
            "v1: seed schemas", "v2: auth sessions", "v3: realtime change log", "v4: room journal",
            "v5: room events type index without turns", "v6: realtime broadcast log",
            "v7: room journal user ids and case ids as columns", "v8: change log old records of updates as their changed columns",
            "v9: change log records refer to their rows' large values",
        ]

        @Test func applyOnAnEmptyDatabaseThenNothingTheSecondTime() async throws {
            try await PostgresTests.withDatabase(migrated: false) { database, _ in
                let none = try await database.appliedMigrations()
                #expect(none.isEmpty)
                let first = try await database.migrate()
                #expect(first == Self.expectedNames)
                let afterFirst = try await database.appliedMigrations()
                #expect(afterFirst == Self.expectedNames)
                let second = try await database.migrate()
                #expect(second.isEmpty, "a second run applies nothing")
                let afterSecond = try await database.appliedMigrations()
                #expect(afterSecond == Self.expectedNames)
            }
        }

        @Test func theSchemaHasPostgreSQLTypesIndexesAndRLS() async throws {
            try await PostgresTests.withDatabase { database, _ in
                let types = try await database.ownerTextRows("""
                    SELECT (table_name || '.' || column_name)::text, data_type::text FROM information_schema.columns
                    WHERE table_schema = 'public' AND (table_name, column_name) IN
                      (('users', 'id'), ('users', 'created_at'), ('case_briefs', 'patient_persona'),
                       ('practice_rooms', 'private'), ('user_progress_snapshots', 'snapshot_date'))
                    ORDER BY 1
                    """)
                #expect(types.map { [$0[0]!, $0[1]!] } == [
                    ["case_briefs.patient_persona", "jsonb"], ["practice_rooms.private", "boolean"],
                    ["user_progress_snapshots.snapshot_date", "date"], ["users.created_at", "timestamp with time zone"],
                    ["users.id", "uuid"],
                ])
                let gin = try await database.ownerTextRows(
                    "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%USING gin%' ORDER BY 1"
                )
                #expect(gin.map { $0[0]! } == ["audit_logs_details", "case_briefs_patient_persona", "user_progress_snapshots_strengths_topics"])
                let withoutRLS = try await database.ownerTextRows(
                    "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND NOT relrowsecurity ORDER BY 1"
                )
                #expect(withoutRLS.isEmpty, "tables without row-level security: \(withoutRLS)")
            }
        }

        @Test func emailsAreUniqueWithoutCaseAndAuditLogsAppendOnly() async throws {
            try await PostgresTests.withDatabase { database, _ in
                let admin = try await database.ownerTextRows(
                    "INSERT INTO users (email, hashed_password, role) VALUES ('Ada@Example.org', 'x', 'admin') RETURNING id::text"
                )[0][0]!
                #expect(admin.count == 36 && admin[admin.index(admin.startIndex, offsetBy: 14)] == "4", "a v4 uuid: \(admin)")
                let duplicate = await #expect(throws: PostgresError.self) {
                    try await database.ownerTextRows("INSERT INTO users (email, hashed_password) VALUES ('ada@example.ORG', 'y')")
                }
                #expect(duplicate?.sqlState == "23505")
                let log = try await database.ownerTextRows(
                    "INSERT INTO audit_logs (admin_id, action, ip_address) VALUES ($1::uuid, 'login', '127.0.0.1') RETURNING id::text", [admin]
                )[0][0]!
                for statement in ["UPDATE audit_logs SET action = 'x' WHERE id = $1::uuid", "DELETE FROM audit_logs WHERE id = $1::uuid"] {
                    let refused = await #expect(throws: PostgresError.self) { try await database.ownerTextRows(statement, [log]) }
                    #expect(refused?.sqlState == "23001", "\(statement)")
                }
                let kept = await #expect(throws: PostgresError.self) {
                    try await database.ownerTextRows("DELETE FROM users WHERE id = $1::uuid", [admin])
                }
                #expect(kept?.message.contains("never deleted") == true)
            }
        }

        /// Four migrators at once on one empty database: one schema, each step applied once.
        @Test func concurrentMigratorsEndWithOneSchema() async throws {
            let cluster = try await TestPostgres.shared()
            let location = try cluster.freshDatabase()
            let pools = (0..<4).map { _ in PostgresDatabase(location, maximumConnections: 1) }
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for pool in pools { group.addTask { try await pool.migrate() } }
                var all: [String] = []
                for try await names in group { all += names }
                return all
            }
            let recorded = try await pools[0].appliedMigrations()
            let tables = try await pools[0].ownerTextRows("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'")
            for pool in pools { await pool.close() }
            #expect(applied.sorted() == Self.expectedNames.sorted(), "each step applied exactly once across the four")
            #expect(recorded == Self.expectedNames)
            #expect(tables[0][0] == "19")
        }
    }
}
