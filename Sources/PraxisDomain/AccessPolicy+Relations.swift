extension AccessPolicy {
    /// The related rows the read rule of `table` may consult for `rows`, whoever reads.
    ///
    /// Relational rules apply to signed-in callers who are not admins, and name the same
    /// column whoever the caller is, so the rule of any such caller names them all
    /// (`AccessPolicyRelationsTests` checks this against every table and kind of caller).
    package static func relationKeys(_ table: String, rows: [Row?]) -> RelationKeys {
        var keys = RelationKeys()
        let predicate = readable(table, by: relationProbe)
        for case let row? in rows { predicate.collectRelationKeys(in: row, into: &keys) }
        return keys
    }

    /// A signed-in non-admin caller whose rules show which relations a table's rules use.
    static let relationProbe = Caller.user(id: "", isAdmin: false)
}
