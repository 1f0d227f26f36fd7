import PraxisDomain

/// Large values in the change log: a logged record refers to them in its row instead of
/// holding a copy.
///
/// A round's transcript (several KiB) was written three times per round: in its row, in the
/// log's INSERT of the round and again in the log's UPDATE that adds its assessment. Now the
/// log's `record` leaves out every value of at least ``referenceBytes`` bytes that the row
/// holds at that moment (`realtime_changes.record_refs` names those columns, `ref_key` the
/// row), and a read of the log (a resume's replay) takes them from the row.
///
/// That is exact because a referred value stays the row's value until a later change of
/// that row alters it (or deletes the row), and such a change first writes the value back
/// into every log entry that refers to it (``needsMaterializing(_:record:oldRecord:table:)``,
/// ``materialized(_:references:from:)``). A log entry with references therefore always means
/// "these columns as the row holds them now". Only the log's text changes: the feed's live
/// records are whole, and a replayed change equals the live one.
extension StoredRow {
    /// Values of at least this many UTF-8 bytes are referred to, not copied (text values only,
    /// never the primary key).
    static let referenceBytes = 1024

    /// The record as the log writes it: its text without the large values, the columns left
    /// out (nil when none) and the row's key (nil when nothing is left out).
    static func encodeReferring(_ record: Row?, table: String) -> (text: String?, references: String?, key: String?) {
        guard let record, let schema = Catalog.table(table), case .text(let key)? = record[schema.primaryKey] else {
            return (StoredRow.encode(record), nil, nil)
        }
        let large = record.filter { $0.key != schema.primaryKey && isLarge($0.value) }.keys.sorted()
        guard !large.isEmpty else { return (StoredRow.encode(record), nil, nil) }
        return (StoredRow.encode(record.filter { !large.contains($0.key) }), large.joined(separator: ","), key)
    }

    static func isLarge(_ value: Value) -> Bool {
        if case .text(let text) = value { return text.utf8.count >= referenceBytes }
        return false
    }

    /// Whether a change makes earlier log entries' references to its row wrong (so they must
    /// get their values first): an UPDATE that alters a large value or the row's key, or a
    /// DELETE of a row with a large value. Nothing else can: references are only ever to
    /// large values, and a value that became small got there through such an UPDATE.
    static func needsMaterializing(_ kind: ChangeRecord.Kind, record: Row?, oldRecord: Row?, table: String) -> (key: String, row: Row)? {
        guard let oldRecord, let schema = Catalog.table(table), case .text(let key)? = oldRecord[schema.primaryKey] else { return nil }
        switch kind {
        case .insert:
            return nil
        case .delete:
            return oldRecord.values.contains(where: isLarge) ? (key, oldRecord) : nil
        case .update:
            guard let record else { return nil }
            if record[schema.primaryKey] != oldRecord[schema.primaryKey] { return (key, oldRecord) }
            return oldRecord.contains { isLarge($0.value) && record[$0.key] != $0.value } ? (key, oldRecord) : nil
        }
    }

    /// A logged record's text with its referred values put back from `row` (the row as it was
    /// when they still held), so the entry no longer refers to anything.
    static func materialized(_ text: String?, references: String, from row: Row) -> String? {
        StoredRow.encode(resolved(StoredRow.decode(text), references: references, from: row))
    }

    /// The whole record of a logged entry: its referred columns from `row` (the row as it is
    /// now, read in the same transaction as the log; null if the row is gone, which a log kept
    /// by these rules never shows).
    static func resolved(_ record: Row?, references: String?, from row: Row?) -> Row? {
        guard var record, let references, !references.isEmpty else { return record }
        for column in columns(references) {
            record[column] = row?[column] ?? .null
        }
        return record
    }

    /// The referred column names of a `record_refs` value.
    static func columns(_ references: String) -> [String] {
        references.split(separator: ",").map(String.init)
    }
}
