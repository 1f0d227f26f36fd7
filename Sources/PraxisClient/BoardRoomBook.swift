import Synchronization

/// The rooms of one run: their ids and links, and the send time of each room's PATCH.
/// A room's id carries its index (`<run tag>-0000-4000-8000-<index, 12 hex digits>`, a
/// valid v4 UUID) and its link carries the INSERT's send time
/// (`https://praxis.test/bench/<run tag>/<index>/<send time, ns>`), so a subscriber finds
/// both without a lookup table; the PATCH send times are in an array of atomics indexed by
/// room (written by the writer before the request, read by the subscribers).
final class BoardRoomBook: @unchecked Sendable {
    let runTag: String
    let capacity: Int
    private let runTagBytes: [UInt8]
    private let updateSent: UnsafeMutablePointer<Atomic<UInt64>>

    init(capacity: Int) {
        let tag = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)  // 8 hex digits
        runTag = tag
        runTagBytes = Array(tag.utf8)
        self.capacity = capacity
        updateSent = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: capacity)
        for index in 0..<capacity { (updateSent + index).initialize(to: Atomic<UInt64>(0)) }
    }

    deinit {
        updateSent.deinitialize(count: capacity)
        updateSent.deallocate()
    }

    func id(_ index: Int) -> String {
        let hex = String(index, radix: 16)
        return "\(runTag)-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    func roomURL(_ index: Int, sent: UInt64) -> String {
        "https://praxis.test/bench/\(runTag)/\(index)/\(sent)"
    }

    func recordUpdate(_ index: Int, sent: UInt64) {
        updateSent[index].store(sent, ordering: .releasing)
    }

    /// The PATCH send time of the room whose id is at `range`, nil when it is not this run's
    /// room (`ours` false) or has no PATCH yet.
    func updateSendTime(id range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> (ours: Bool, sent: UInt64?) {
        guard range.count == 36, hasRunTag(bytes, at: range.lowerBound) else { return (false, nil) }
        // The last 12 hex digits (a small string: no allocation).
        guard let index = Int(PhoenixBytes.text(bytes, (range.upperBound - 12)..<range.upperBound), radix: 16), index < capacity else {
            return (true, nil)
        }
        let sent = updateSent[index].load(ordering: .acquiring)
        return (true, sent == 0 ? nil : sent)
    }

    /// The INSERT send time carried by the link at `range`.
    func insertSendTime(url range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> (ours: Bool, sent: UInt64?) {
        let prefix = Self.urlPrefix
        guard range.count > prefix.count + 8, PhoenixBytes.equal(bytes, range.lowerBound..<(range.lowerBound + prefix.count), prefix),
            hasRunTag(bytes, at: range.lowerBound + prefix.count)
        else { return (false, nil) }
        var start = range.upperBound  // of the last segment, the send time
        while start > range.lowerBound, bytes[start - 1] != UInt8(ascii: "/") { start -= 1 }
        return (true, PhoenixBytes.integer(bytes, at: start).map { UInt64($0) })
    }

    private static let urlPrefix = Array("https://praxis.test/bench/".utf8)

    private func hasRunTag(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Bool {
        start + runTagBytes.count <= bytes.count && PhoenixBytes.equal(bytes, start..<(start + runTagBytes.count), runTagBytes)
    }
}
