import PraxisDomain
import PraxisProtocol
import PraxisStore
import Foundation

/// What a joining client gets before going live: the changes it missed (resume) or a
/// snapshot of the rows it may see, with the offset they are consistent with.
struct RecoveryPlan: Sendable {
    var offset: Int64
    var recovered: Bool
    var replay: [ChangeRecord]
    /// The related-row facts the access rules consult to filter `replay`, read with it.
    var replayRelations = RowRelations.none
    var snapshot: [JSONValue]?
    /// The snapshot hit its per-table row limit.
    var truncated = false

    static func make(
        hub: RealtimeHub, caller: Caller, bindings: [ChangeBinding], resumeEpoch: String?, resumeOffset: Int64?, wantsSnapshot: Bool
    ) async -> RecoveryPlan {
        if let resumeOffset, resumeEpoch == hub.epoch,
            let found = try? await hub.store.changes(after: resumeOffset, limit: hub.configuration.maxReplay + 1),
            found.changes.count <= hub.configuration.maxReplay,
            resumeOffset <= found.latest,
            resumeOffset >= (found.oldestRetained.map { $0 - 1 } ?? found.latest)
        {
            let keys = RealtimeHub.relationKeys(found.changes)
            // A failed read knows no relations: the relational rules are false (fail closed).
            let relations = (try? await hub.store.relatedRows(keys)) ?? .none
            return RecoveryPlan(offset: resumeOffset, recovered: true, replay: found.changes, replayRelations: relations, snapshot: nil)
        }
        // A fresh snapshot (asked for, or the resume was not possible).
        var rows: [JSONValue] = []
        var seen: Set<String> = []
        let tables = bindings.map(\.table).filter { seen.insert($0.name).inserted }
        guard let result = try? await hub.store.snapshot(tables: tables, caller: caller) else {
            return RecoveryPlan(offset: 0, recovered: false, replay: [], snapshot: [])
        }
        let offset = result.offset
        for (table, row) in result.rows where bindings.contains(where: { $0.table.name == table.name && ($0.filter?.matches(row) ?? true) }) {
            let bytes = RowEncoder.encodeObject(row, columns: table.columns)
            if var object = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)))?.object {
                object["_table"] = .string(table.name)
                rows.append(.object(object))
            }
        }
        return RecoveryPlan(
            offset: offset, recovered: resumeOffset == nil && wantsSnapshot, replay: [], snapshot: rows, truncated: result.truncated
        )
    }
}
