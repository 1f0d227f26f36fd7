#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Just enough reading of Phoenix v1 messages (`{"topic":…,"event":…,"payload":…,"ref":…,
/// "join_ref":…}`) for the benchmarks' realtime peers (`BenchPeer`), without a JSON parser:
/// every board subscriber reads every change and every room peer every turn, so the hot path
/// only looks for a few keys by their bytes. A key pattern
/// such as `"offset":` cannot occur inside a JSON string value (its quotes would be
/// escaped), so a match is a key; the first `"event":` is the message's own, since the
/// server writes topic and event before the payload.
enum PhoenixBytes {
    /// What a subscriber needs from one `postgres_changes` message.
    struct Change {
        enum Kind { case insert, update, delete, other }
        var kind: Kind
        /// The feed offset (`data.offset`), -1 when absent.
        var offset: Int64
        /// The byte range of `record.id` (36 characters), if there is a record.
        var id: Range<Int>?
        /// The byte range of `record.room_url`, if there is one.
        var roomURL: Range<Int>?
    }

    /// The message's event name, e.g. `postgres_changes`, `phx_reply`, `system`.
    static func event(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        guard let start = find(Patterns.event, in: bytes, from: 0) else { return nil }
        return stringValue(bytes, at: start)
    }

    static func isEvent(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>?, _ name: [UInt8]) -> Bool {
        guard let range else { return false }
        return equal(bytes, range, name)
    }

    /// Reads a `postgres_changes` message's data; nil when it is malformed.
    static func change(_ bytes: UnsafeRawBufferPointer) -> Change? {
        guard let data = find(Patterns.data, in: bytes, from: 0),
            let typeStart = find(Patterns.type, in: bytes, from: data),
            let typeRange = stringValue(bytes, at: typeStart)
        else { return nil }
        let kind: Change.Kind =
            equal(bytes, typeRange, Patterns.insert) ? .insert
            : equal(bytes, typeRange, Patterns.update) ? .update : equal(bytes, typeRange, Patterns.delete) ? .delete : .other
        var offset: Int64 = -1
        if let offsetStart = find(Patterns.offset, in: bytes, from: data) {
            guard let value = integer(bytes, at: offsetStart) else { return nil }
            offset = value
        }
        var id: Range<Int>?
        var roomURL: Range<Int>?
        if let record = find(Patterns.record, in: bytes, from: data) {
            if let idStart = find(Patterns.id, in: bytes, from: record) { id = stringValue(bytes, at: idStart) }
            if let urlStart = find(Patterns.roomURL, in: bytes, from: record) { roomURL = stringValue(bytes, at: urlStart) }
        }
        return Change(kind: kind, offset: offset, id: id, roomURL: roomURL)
    }

    /// The value of the first `"key":"…"` string after `from`.
    static func string(_ key: [UInt8], in bytes: UnsafeRawBufferPointer, from: Int = 0) -> Range<Int>? {
        guard let start = find(key, in: bytes, from: from) else { return nil }
        return stringValue(bytes, at: start)
    }

    enum Patterns {
        static let event = Array(#""event":""#.utf8)
        static let ref = Array(#""ref":""#.utf8)
        static let status = Array(#""status":""#.utf8)
        static let data = Array(#""data":{"#.utf8)
        static let type = Array(#""type":""#.utf8)
        static let offset = Array(#""offset":"#.utf8)
        static let record = Array(#""record":{"#.utf8)
        static let id = Array(#""id":""#.utf8)
        static let roomURL = Array(#""room_url":""#.utf8)
        static let insert = Array("INSERT".utf8)
        static let update = Array("UPDATE".utf8)
        static let delete = Array("DELETE".utf8)
        static let postgresChanges = Array("postgres_changes".utf8)
        static let phxReply = Array("phx_reply".utf8)
        static let system = Array("system".utf8)
        static let phxError = Array("phx_error".utf8)
        static let phxClose = Array("phx_close".utf8)
        static let ok = Array("ok".utf8)
    }

    /// The index just after the first occurrence of `pattern` at or after `from`.
    static func find(_ pattern: [UInt8], in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = bytes.baseAddress, from < bytes.count, !pattern.isEmpty else { return nil }
        // memchr for the first byte, memcmp for the rest (Glibc does not export memmem).
        return pattern.withUnsafeBytes { needle -> Int? in
            let first = Int32(needle[0])
            var position = from
            let last = bytes.count - needle.count
            while position <= last {
                guard let hit = memchr(base + position, first, last - position + 1) else { return nil }
                let index = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
                if memcmp(base + index, needle.baseAddress!, needle.count) == 0 { return index + needle.count }
                position = index + 1
            }
            return nil
        }
    }

    /// The characters of a string value starting at `start` (just after its opening
    /// quote), up to the closing quote. The values read here contain no escapes.
    static func stringValue(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Range<Int>? {
        var index = start
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\"") { return start..<index }
            if bytes[index] == UInt8(ascii: "\\") { return nil }
            index += 1
        }
        return nil
    }

    /// A non-negative integer starting at `start`.
    static func integer(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Int64? {
        var value: Int64 = 0
        var index = start
        while index < bytes.count, index < start + 18, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            value = value &* 10 &+ Int64(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        return index > start ? value : nil
    }

    static func equal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: [UInt8]) -> Bool {
        range.count == text.count && bytes[range].elementsEqual(text)
    }

    static func text(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
