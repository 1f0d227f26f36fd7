import Foundation
import GRDB
import Testing

@testable import PraxisStore

@Suite("Store: demo data")
struct DemoDataTests {
    @Test func demoLibraryLoadsIntoAnEmptyDatabase() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        let summary = try await store.loadDemoData(hashPassword: { "hashed:\($0)" })
        #expect(summary.loaded)
        let (cases, professions, domains) = try await store.pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM case_briefs")!,
                try Int.fetchOne(db, sql: "SELECT count(DISTINCT target_profession) FROM case_briefs")!,
                try String.fetchSet(db, sql: "SELECT DISTINCT domain FROM case_briefs")
            )
        }
        #expect(cases >= 40)
        #expect(professions >= 6)
        #expect(domains == ["Clinical", "Communication"])
        let incomplete = try await store.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM case_briefs WHERE candidate_brief = '' OR actor_brief = '' OR condition = ''
                OR category = '' OR clinical_area = '' OR patient_persona = '{}'
                """)!
        }
        #expect(incomplete == 0)
        let scenarios = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scenarios")! }
        #expect(scenarios == cases)
    }

    @Test func demoDataIsNotLoadedTwice() async throws {
        let temp = try TemporaryDatabase()
        let store = try temp.open()
        _ = try await store.loadDemoData(hashPassword: { $0 })
        let second = try await store.loadDemoData(hashPassword: { $0 })
        #expect(!second.loaded)
        let users = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users")! }
        #expect(users == Store.demoAccounts.count)
    }
}
