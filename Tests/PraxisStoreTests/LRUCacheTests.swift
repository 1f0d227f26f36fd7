@testable import PraxisStore
import Testing

/// ``LRUCache`` as pure logic: the bound, the order of eviction, what each operation hands back.
@Suite("LRU cache")
struct LRUCacheTests {
    @Test
    func aFullCacheDropsTheLeastRecentlyUsedEntry() {
        var cache = LRUCache<String, Int>(capacity: 3)
        #expect(cache.insert(1, forKey: "a") == nil)
        #expect(cache.insert(2, forKey: "b") == nil)
        #expect(cache.insert(3, forKey: "c") == nil)
        #expect(cache.keysNewestFirst == ["c", "b", "a"])

        #expect(cache.value(forKey: "a") == 1, "a lookup is a use")
        #expect(cache.keysNewestFirst == ["a", "c", "b"])
        #expect(cache.insert(4, forKey: "d") == 2, "b, used least recently, leaves")
        #expect(cache.keysNewestFirst == ["d", "a", "c"])
        #expect(cache.value(forKey: "b") == nil)
        #expect(cache.insert(5, forKey: "e") == 3)
        #expect(cache.keysNewestFirst == ["e", "d", "a"])
        #expect(cache.count == 3)
    }

    @Test
    func theBoundHoldsOverManyKeys() {
        var cache = LRUCache<Int, Int>(capacity: 8)
        for key in 0..<1000 {
            let evicted = cache.insert(key * 10, forKey: key)
            #expect(evicted == (key >= 8 ? (key - 8) * 10 : nil))
            #expect(cache.count == min(key + 1, 8))
        }
        #expect(cache.keysNewestFirst == Array((992..<1000).reversed()))
        #expect(cache.value(forKey: 992) == 9920, "the oldest, touched")
        #expect(cache.insert(0, forKey: 1000) == 9930, "so the next oldest leaves")
        #expect(cache.count == 8)
        #expect(cache.keysNewestFirst == [1000, 992] + Array((994..<1000).reversed()))
    }

    @Test
    func insertingAKeptKeyReplacesItsValueAndMakesItNewest() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.insert(1, forKey: "a")
        cache.insert(2, forKey: "b")
        #expect(cache.insert(10, forKey: "a") == 1, "the replaced value comes back")
        #expect(cache.count == 2)
        #expect(cache.keysNewestFirst == ["a", "b"])
        #expect(cache.insert(3, forKey: "c") == 2)
        #expect(cache.value(forKey: "a") == 10)
    }

    @Test
    func removedSlotsAreReusedAndTheOrderStaysRight() {
        var cache = LRUCache<String, Int>(capacity: 3)
        cache.insert(1, forKey: "a")
        cache.insert(2, forKey: "b")
        cache.insert(3, forKey: "c")
        #expect(cache.removeValue(forKey: "b") == 2)
        #expect(cache.removeValue(forKey: "b") == nil)
        #expect(cache.keysNewestFirst == ["c", "a"])
        #expect(cache.insert(4, forKey: "d") == nil, "room was made by the removal")
        #expect(cache.keysNewestFirst == ["d", "c", "a"])
        #expect(cache.removeValue(forKey: "a") == 1, "the oldest")
        #expect(cache.removeValue(forKey: "d") == 4, "the newest")
        #expect(cache.keysNewestFirst == ["c"])
        cache.insert(5, forKey: "e")
        cache.insert(6, forKey: "f")
        #expect(cache.insert(7, forKey: "g") == 3)
        #expect(cache.keysNewestFirst == ["g", "f", "e"])
        cache.removeAll()
        #expect(cache.count == 0 && cache.keysNewestFirst.isEmpty)
        cache.insert(8, forKey: "h")
        #expect(cache.keysNewestFirst == ["h"])
    }

    @Test
    func aCapacityOfZeroKeepsNothing() {
        var cache = LRUCache<String, Int>(capacity: 0)
        #expect(cache.insert(1, forKey: "a") == 1, "the value itself is handed back")
        #expect(cache.count == 0)
        #expect(cache.value(forKey: "a") == nil)
    }
}
