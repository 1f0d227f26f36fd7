/// A map of at most `capacity` entries that, when full, makes room by dropping the entry
/// used least recently (a lookup or an insert is a use). Every operation is O(1): the
/// entries are a doubly linked list, newest first, in an array with a free list.
struct LRUCache<Key: Hashable, Value> {
    private struct Slot {
        var key: Key?
        var value: Value?
        /// The slot used just before this one (towards the oldest), -1: none.
        var older: Int
        /// The slot used just after this one (towards the newest), -1: none.
        var newer: Int
    }

    /// Most entries kept; 0 keeps none.
    let capacity: Int
    private var slots: [Slot] = []
    private var index: [Key: Int] = [:]
    private var free: [Int] = []
    private var newest = -1
    private var oldest = -1

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Entries kept now (never more than `capacity`).
    var count: Int { index.count }

    /// The keys, the most recently used first.
    var keysNewestFirst: [Key] {
        var keys: [Key] = []
        var slot = newest
        while slot >= 0 {
            keys.append(slots[slot].key!)
            slot = slots[slot].older
        }
        return keys
    }

    /// The value kept for `key`, which becomes the most recently used; nil when absent.
    mutating func value(forKey key: Key) -> Value? {
        guard let slot = index[key] else { return nil }
        if slot != newest {
            unlink(slot)
            linkNewest(slot)
        }
        return slots[slot].value
    }

    /// Keeps `value` for `key` as the most recently used entry. Returns what left the
    /// cache: the value it replaced for `key`, or else the least recently used entry's when
    /// the cache was full (with a capacity of 0, `value` itself).
    @discardableResult
    mutating func insert(_ value: Value, forKey key: Key) -> Value? {
        if let slot = index[key] {
            let replaced = slots[slot].value
            slots[slot].value = value
            if slot != newest {
                unlink(slot)
                linkNewest(slot)
            }
            return replaced
        }
        guard capacity > 0 else { return value }
        var evicted: Value?
        if index.count >= capacity, let oldestKey = slots[oldest].key {
            evicted = removeValue(forKey: oldestKey)
        }
        let entry = Slot(key: key, value: value, older: -1, newer: -1)
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        index[key] = slot
        linkNewest(slot)
        return evicted
    }

    /// Drops the entry for `key`; returns its value, nil when absent.
    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard let slot = index.removeValue(forKey: key) else { return nil }
        unlink(slot)
        let value = slots[slot].value
        slots[slot] = Slot(key: nil, value: nil, older: -1, newer: -1)
        free.append(slot)
        return value
    }

    /// Drops every entry.
    mutating func removeAll() {
        slots.removeAll()
        index.removeAll()
        free.removeAll()
        newest = -1
        oldest = -1
    }

    private mutating func unlink(_ slot: Int) {
        let older = slots[slot].older
        let newer = slots[slot].newer
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        slots[slot].older = -1
        slots[slot].newer = -1
    }

    private mutating func linkNewest(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot } else { oldest = slot }
        newest = slot
    }
}
