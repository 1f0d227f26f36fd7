import PraxisDomain
import PraxisProtocol
import PraxisStore

/// What a joining client gets before going live: the changes it missed (resume) or a
/// snapshot of the rows it may see, with the offset they are consistent with.
struct RecoveryPlan: Sendable {
    var offset: Int64
    var recovered: Bool
    var replay: [ChangeRecord]
    var snapshot: [JSONValue]?

    static func make(
        hub: RealtimeHub, caller: Caller, bindings: [ChangeBinding], resumeEpoch: String?, resumeOffset: Int64?, wantsSnapshot: Bool
    ) async -> RecoveryPlan {
        if let resumeOffset, resumeEpoch == hub.epoch,
            let found = try? await hub.store.changes(after: resumeOffset, limit: hub.configuration.maxReplay + 1),
            found.changes.count <= hub.configuration.maxReplay,
            resumeOffset >= (found.oldestRetained.map { $0 - 1 } ?? found.latest)
        {
            return RecoveryPlan(offset: resumeOffset, recovered: true, replay: found.changes, snapshot: nil)
        }
        // A fresh snapshot (asked for, or the resume was not possible).
        var rows: [JSONValue] = []
        var offset: Int64 = 0
        var seenTables: Set<String> = []
        for binding in bindings where seenTables.insert(binding.table.name).inserted {
            guard let result = try? await hub.store.snapshot(table: binding.table, caller: caller) else { continue }
            offset = max(offset, result.offset)
            for row in result.rows where bindings.contains(where: { $0.table.name == binding.table.name && ($0.filter?.matches(row) ?? true) }) {
                let bytes = RowEncoder.encodeObject(row, columns: binding.table.columns)
                if var object = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)))?.object {
                    object["_table"] = .string(binding.table.name)
                    rows.append(.object(object))
                }
            }
        }
        return RecoveryPlan(offset: offset, recovered: resumeOffset == nil && wantsSnapshot ? true : false, replay: [], snapshot: rows)
    }
}

import Foundation
