import PraxisDomain
import Testing

@testable import PraxisRooms

@Suite("TurnIndex")
struct TurnIndexTests {
    @Test func copiesKeepTheirOwnTurns() {
        var index: TurnIndex = ["a": AcceptedTurn(seq: 1, text: "one")]
        let saved = index
        index["b"] = AcceptedTurn(seq: 2, text: "two")
        #expect(index["b"]?.seq == 2 && index.count == 2)
        #expect(saved["b"] == nil && saved.count == 1, "an older copy does not see later turns")
        #expect(saved.sharesLog(with: index))
        #expect(saved != index)

        // A refused command restores the saved copy; what it inserts next is its own.
        var restored = saved
        restored["c"] = AcceptedTurn(seq: 2, text: "other")
        #expect(restored["c"]?.carries("other") == true && restored["b"] == nil)
        #expect(index["c"] == nil && index["b"]?.carries("two") == true, "the newer copy is untouched")
        index["d"] = AcceptedTurn(seq: 3, text: "three")
        #expect(index.count == 3 && restored.count == 2)
    }

    @Test func replacingAndRemovingAreValueChanges() {
        var index: TurnIndex = ["a": AcceptedTurn(seq: 1, text: "one"), "b": AcceptedTurn(seq: 2, text: "two")]
        let before = index
        index["a"] = AcceptedTurn(seq: 9, text: "nine")
        index["b"] = nil
        #expect(index["a"]?.seq == 9 && index["b"] == nil && index.count == 1)
        #expect(before["a"]?.seq == 1 && before["b"]?.seq == 2)
        #expect(TurnIndex() == [:] && TurnIndex().isEmpty)
        let same: TurnIndex = ["b": AcceptedTurn(seq: 2, text: "two"), "a": AcceptedTurn(seq: 1, text: "one")]
        #expect(same == before, "equality ignores the order of acceptance")
    }

    /// The room's pattern — a saved copy held while each turn is inserted — keeps every insert
    /// at the log's tip: the storage is shared, never copied.
    @Test func aLongRoundWithASavedCopyPerTurnSharesOneLog() {
        var state = RoomState(hostID: "h", guestID: "g")
        for turn in 1...5000 {
            let saved = state
            state.acceptedTurns["h\u{0}\(turn)"] = AcceptedTurn(seq: turn, text: "turn \(turn)")
            #expect(saved.acceptedTurns.count == turn - 1)
            #expect(saved.acceptedTurns.sharesLog(with: state.acceptedTurns), "turn \(turn) copied the index")
        }
        #expect(state.acceptedTurns.count == 5000 && state.acceptedTurns["h\u{0}1"]?.seq == 1)
    }

    /// The index keeps a digest of each turn's text, not the text: a repeat is told apart from
    /// a different turn under the same client id all the same.
    @Test func aTurnRemembersWhichTextItCarries() {
        let turn = AcceptedTurn(seq: 4, text: "I have had this cough for three weeks.")
        #expect(turn.carries("I have had this cough for three weeks."))
        #expect(!turn.carries("I have had this cough for three weeks"))
        #expect(!turn.carries(""))
        var index = TurnIndex()
        index["g\u{0}t1"] = turn
        #expect(index["g\u{0}t1"] == turn && index["g\u{0}t2"] == nil && index["h\u{0}t1"] == nil)
    }
}
