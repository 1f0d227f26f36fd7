import Testing

@testable import PraxisClient

@Suite("Rooms at a steady rate")
struct RoomsSteadyTests {
    @Test("the first rooms' ends are spread evenly over one lifetime, the last at its end")
    func staggeredEnds() {
        let ends = (0..<200).map { RoomsBenchmark.firstEnd(slot: $0, rooms: 200, lifetime: 60) }
        #expect(abs(ends[0] - 0.3) < 1e-9)
        #expect(abs(ends[199] - 60) < 1e-9)
        for (earlier, later) in zip(ends, ends.dropFirst()) { #expect(abs(later - earlier - 0.3) < 1e-9) }
    }

    @Test("a run creates enough rooms for every slot's rooms over the duration")
    func roomCount() {
        // Slot s: its first room until (s + 1)/rooms of a lifetime, then one room per lifetime.
        #expect(RoomsBenchmark.steadyRoomCount(rooms: 200, duration: 600, lifetime: 60) == 2200)
        #expect(RoomsBenchmark.steadyRoomCount(rooms: 10, duration: 100, lifetime: 30) == 50)
        #expect(RoomsBenchmark.steadyRoomCount(rooms: 3, duration: 5, lifetime: 5) == 6)
    }
}
