import PraxisDomain
import PraxisStore
import Testing

extension PostgresTests {
    /// PostgreSQL's row-level security against Praxis' own `AccessPolicy`: for every actor,
    /// table and operation, the rows the database lets through are the rows the policy allows.
    /// Expected sets come from `AccessPolicy` evaluated on the stored rows, never written here.
    @Suite struct RLSMatrix {
        typealias Fixture = RLSFixture

        static func seeded<T>(_ body: (PostgresDatabase) async throws -> T) async throws -> T {
            try await PostgresTests.withDatabase { database, _ in
                for statement in Fixture.statements { _ = try await database.ownerTextRows(statement) }
                return try await body(database)
            }
        }

        /// What a statement did under RLS: the keys it returned, or nothing when PostgreSQL
        /// refused it for privilege or policy (42501). Any other error fails the test.
        static func passed(_ result: Result<[[String?]], PostgresError>, accept: Set<String> = [], _ context: String) -> Set<String>? {
            switch result {
            case .success(let rows): return Set(rows.compactMap { $0.first ?? nil })
            case .failure(let error) where error.sqlState == "42501": return []
            case .failure(let error) where accept.contains(error.sqlState ?? ""): return nil
            case .failure(let error):
                Issue.record("\(context): unexpected \(error)")
                return []
            }
        }

        @Test func readsAgree() async throws {
            try await Self.seeded { database in
                let relations = try await Fixture.relations(database)
                var distinctSets = Set<String>()
                for table in Fixture.tables {
                    let rows = try await Fixture.rows(database, key: table.key, base: table.base)
                    #expect(!rows.isEmpty, "\(table.name) is seeded")
                    for actor in Fixture.actors {
                        for link in [nil, "link-3"] as [String?] {
                            let predicate = AccessPolicy.readable(table.name, by: actor.caller, roomLink: link)
                            let expected = Set(rows.filter { predicate.evaluate($0.value, relations: relations) }.keys)
                            let result = await database.trial(as: actor.caller, roomLink: link, "SELECT \(table.key)::text FROM \(table.name)")
                            let actual = Self.passed(result, "\(actor.name) reads \(table.name)") ?? []
                            #expect(actual == expected, "\(actor.name) reading \(table.name) (link \(link ?? "none"))")
                            distinctSets.insert("\(table.name):\(expected.sorted())")
                        }
                    }
                }
                // Not a vacuous matrix: actors see different rows in most tables.
                #expect(distinctSets.count >= 2 * Fixture.tables.count)
            }
        }

        @Test func noOpUpdatesTouchTheRowsThePolicyLetsThrough() async throws {
            let updates: [(table: String, key: String, set: String)] = [
                ("profiles", "user_id", "first_name = first_name"),
                ("practice_rooms", "id", "datetime_utc = datetime_utc"),
                ("case_briefs", "id", "status = status"),
                ("users", "id", "full_name = full_name"),
                ("practice_rounds", "id", "status = status"),
                ("subscriptions", "id", "status = status"),
                ("feedback_reports", "id", "score_raw = score_raw"),
            ]
            try await Self.seeded { database in
                let relations = try await Fixture.relations(database)
                for update in updates {
                    let rows = try await Fixture.rows(database, key: update.key, base: "SELECT * FROM \(update.table)")
                    for actor in Fixture.actors {
                        let predicate = AccessPolicy.mergeable(update.table, by: actor.caller)
                        let expected = Set(rows.filter { predicate.evaluate($0.value, relations: relations) }.keys)
                        let result = await database.trial(
                            as: actor.caller, "UPDATE \(update.table) SET \(update.set) RETURNING \(update.key)::text"
                        )
                        let actual = Self.passed(result, "\(actor.name) updates \(update.table)") ?? []
                        #expect(actual == expected, "\(actor.name) updating \(update.table)")
                    }
                }
            }
        }

        @Test func insertsAgree() async throws {
            let f = Fixture.self
            let inserts: [(table: String, row: Row, sql: String)] = [
                ("profiles", ["user_id": .text(f.newcomer)],
                 "INSERT INTO profiles (user_id, first_name, last_name, training_level) VALUES ('\(f.newcomer)', 'N', 'N', 'N') RETURNING 'x'"),
                ("practice_rooms", ["host_id": .text(f.host), "guest_id": .null],
                 "INSERT INTO practice_rooms (host_id, datetime_utc, type, room_url) VALUES ('\(f.host)', now(), 'Clinical', 'new') RETURNING 'x'"),
                ("practice_rooms", ["host_id": .text(f.host), "guest_id": .text(f.guest)],
                 "INSERT INTO practice_rooms (host_id, guest_id, datetime_utc, type, room_url) VALUES ('\(f.host)', '\(f.guest)', now(), 'Clinical', 'new') RETURNING 'x'"),
                ("case_briefs", [:],
                 "INSERT INTO case_briefs (category, condition, case_name, case_name_internal, domain, candidate_brief, actor_brief, target_profession, clinical_area, difficulty_level) VALUES ('c', 'c', 'n', 'new', 'Clinical', 'b', 'b', 'p', 'a', 'easy') RETURNING 'x'"),
                ("practice_rounds", [:],
                 "INSERT INTO practice_rounds (room_id, round, candidate_id) VALUES ('\(f.room(6))', 1, '\(f.other)') RETURNING 'x'"),
                ("users", [:], "INSERT INTO users (email, hashed_password) VALUES ('fresh@example.org', 'x') RETURNING 'x'"),
                ("subscriptions", [:],
                 "INSERT INTO subscriptions (user_id, plan_name, status, current_period_start, current_period_end) VALUES ('\(f.guest)', 'p', 'active', now(), now()) RETURNING 'x'"),
                ("audit_logs", [:], "INSERT INTO audit_logs (admin_id, action, ip_address) VALUES ('\(f.admin)', 'x', '::1') RETURNING 'x'"),
            ]
            try await Self.seeded { database in
                for insert in inserts {
                    for actor in Fixture.actors {
                        let allowed = AccessPolicy.mayInsert(into: insert.table, by: actor.caller)
                            && (try? AccessPolicy.checkInsert(insert.table, row: insert.row, by: actor.caller)) != nil
                        let result = await database.trial(as: actor.caller, insert.sql)
                        let actual = Self.passed(result, "\(actor.name) inserts into \(insert.table)") ?? []
                        #expect(actual == (allowed ? ["x"] : []), "\(actor.name) inserting into \(insert.table): \(insert.row)")
                    }
                }
            }
        }
    }
}
