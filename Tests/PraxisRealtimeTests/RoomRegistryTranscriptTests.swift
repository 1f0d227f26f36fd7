import PraxisDomain
import Testing

@testable import PraxisRealtime

/// How a stored transcript becomes the assessor's turns and the report's text
/// (`RoomRegistry.transcript`, run on the assessment thread at every round end).
@Suite("RoomRegistry transcript")
struct RoomRegistryTranscriptTests {
    @Test("turns in order, with their roles, speakers and text; the report has one line per turn")
    func turnsAndText() {
        let json = #"""
            [{"seq":1,"role":"candidate","speaker_id":"u1","text":"Good morning, I'm the nurse.","at":"2026-12-04T10:00:00Z"},
             {"seq":2,"role":"interlocutor","speaker_id":"u2","text":"My chest hurts \"a lot\".\nSince today."}]
            """#
        let (turns, text) = RoomRegistry.transcript(json)
        #expect(turns == [
            TranscriptTurn(seq: 1, role: .candidate, speakerID: "u1", text: "Good morning, I'm the nurse."),
            TranscriptTurn(seq: 2, role: .interlocutor, speakerID: "u2", text: "My chest hurts \"a lot\".\nSince today."),
        ])
        #expect(text == "[1] candidate: Good morning, I'm the nurse.\n[2] interlocutor: My chest hurts \"a lot\".\nSince today.")
    }

    @Test("what is not a turn is skipped; a text that is not JSON gives no turns")
    func skipsWhatIsNotATurn() {
        let (turns, text) = RoomRegistry.transcript(#"[{"seq":3,"role":"examiner","text":"x"},{"role":"candidate","text":"no seq"},7,{"seq":4,"role":"candidate","text":"ok"}]"#)
        #expect(turns == [TranscriptTurn(seq: 4, role: .candidate, speakerID: "", text: "ok")])
        #expect(text == "[4] candidate: ok")
        #expect(RoomRegistry.transcript("[{").turns.isEmpty)
        #expect(RoomRegistry.transcript("").text == "")
    }
}
