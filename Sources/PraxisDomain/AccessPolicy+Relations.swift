extension AccessPolicy {
    /// The related rows the read rule of `table` may consult for `rows`, whoever reads.
    ///
    /// Relational rules apply to signed-in callers who are not admins, and name the same
    /// column whoever the caller is, so the rule of any such caller names them all
    /// (`AccessPolicyRelationsTests` checks this against every table and kind of caller).
    package static func relationKeys(_ table: String, rows: [Row?]) -> RelationKeys {
        var keys = RelationKeys()
        guard let predicate = relationalReadRules[table] else { return keys }
        for case let row? in rows { predicate.collectRelationKeys(in: row, into: &keys) }
        return keys
    }

    /// A signed-in non-admin caller whose rules show which relations a table's rules use.
    static let relationProbe = Caller.user(id: "", isAdmin: false)

    /// The probe's read rule of every catalog table whose rule consults related rows (the
    /// others need nothing read, and are skipped without building their rule).
    static let relationalReadRules: [String: RowPredicate] = Dictionary(uniqueKeysWithValues: Catalog.tables.keys.compactMap { table in
        let rule = readable(table, by: relationProbe)
        return rule.consultsRelations ? (table, rule) : nil
    })
}
