@testable import PraxisStore
import Testing

/// The journals' group-commit queue as a plain value: who starts a drain, what a batch
/// takes, when the drain ends.
@Suite("Group-commit queue")
struct GroupCommitQueueTests {
    @Test func onlyTheFirstAppendStartsADrain() {
        var queue = GroupCommitQueue<Int>()
        let firstStarts = queue.append(1)
        #expect(firstStarts)
        let secondStarts = queue.append(2)
        #expect(!secondStarts)
        let thirdStarts = queue.append(3)
        #expect(!thirdStarts)
        #expect(queue.hasWork && queue.notDurable == 3)
    }

    @Test func batchesTakeTheOldestUpToTheLimitAndCountWhileInFlight() {
        var queue = GroupCommitQueue<Int>()
        _ = queue.append(1)
        for item in 2...5 { _ = queue.append(item) }
        let firstBatch = queue.nextBatch(maxBatch: 3)
        #expect(firstBatch == [1, 2, 3])
        #expect(queue.notDurable == 5, "taken items are not durable until their batch is done")
        let lateStarts = queue.append(6)
        #expect(!lateStarts, "a drain is running: no second one")
        queue.batchDone()
        #expect(queue.notDurable == 3)
        let secondBatch = queue.nextBatch(maxBatch: 3)
        #expect(secondBatch == [4, 5, 6])
        queue.batchDone()
        #expect(queue.batches == 2 && queue.items == 6)
    }

    @Test func anEmptyBatchEndsTheDrainAndTheNextAppendStartsOne() {
        var queue = GroupCommitQueue<Int>()
        _ = queue.append(1)
        let onlyBatch = queue.nextBatch(maxBatch: 10)
        #expect(onlyBatch == [1])
        queue.batchDone()
        #expect(queue.hasWork, "the drain still runs until it finds nothing")
        let emptyBatch = queue.nextBatch(maxBatch: 10)
        #expect(emptyBatch.isEmpty)
        #expect(!queue.hasWork && queue.notDurable == 0)
        let nextStarts = queue.append(2)
        #expect(nextStarts, "an append after the drain ended starts a new one")
    }
}
