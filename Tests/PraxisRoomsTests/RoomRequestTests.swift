import PraxisDomain
import Testing

@testable import PraxisRooms

@Suite("RoomRequest")
struct RoomRequestTests {
    @Test("a push is decoded once into a typed command with its client id and fingerprint")
    func decodes() throws {
        let request = try RoomRequest.decode(
            event: "set_timing", payload: ["client_id": .string("c-1"), "preparation_seconds": .number(60), "roleplay_seconds": .number(90)]
        ).get()
        #expect(request.command == .success(.setTiming(RoomTiming(preparationSeconds: 60, roleplaySeconds: 90))))
        #expect(request.clientID == "c-1")
        #expect(request.fingerprint == "set_timing " + JSONValue.object(["preparation_seconds": .number(60), "roleplay_seconds": .number(90)]).jsonString)
        let turn = try RoomRequest.decode(event: "turn", payload: ["client_turn_id": .string("t-1"), "text": .string("Hello")]).get()
        #expect(turn.command == .success(.turn(text: "Hello")))
        #expect(turn.clientID == "t-1")
        let random = try RoomRequest.decode(event: "choose_case", payload: ["client_id": .string("c"), "random": .object(["domain": .string("Clinical")])]).get()
        #expect(random.command == .success(.chooseCase(.random(targetProfession: nil, domain: "Clinical", difficultyLevel: nil))))
        #expect(random.isChooseCase)
    }

    @Test("the envelope is refused at once; a bad body only after the client id's check")
    func refusals() throws {
        #expect(RoomRequest.decode(event: "dance", payload: [:]) == .failure(.invalid(
            "unknown room command dance (commands: ready, set_timing, choose_case, start_round, start_roleplay, turn, end_round, leave)"
        )))
        #expect(RoomRequest.decode(event: "ready", payload: [:]) == .failure(.invalid("client_id is required (1 to 128 characters)")))
        #expect(RoomRequest.decode(event: "ready", payload: ["client_id": .string(String(repeating: "x", count: 129))])
            == .failure(.invalid("client_id is required (1 to 128 characters)")))
        #expect(RoomRequest.decode(event: "turn", payload: ["client_turn_id": .string("t")]) == .failure(.invalid("a turn needs text (a string)")))
        #expect(RoomRequest.decode(event: "turn", payload: ["text": .string("x")]) == .failure(.invalid("client_turn_id is required (1 to 128 characters)")))
        #expect(RoomRequest.decode(event: "ready", payload: ["client_id": .string("a\u{0}b")]) == .failure(.invalid(StoredText.refusal)))
        let timing = try RoomRequest.decode(
            event: "set_timing", payload: ["client_id": .string("c"), "preparation_seconds": .number(60.5), "roleplay_seconds": .number(90)]
        ).get()
        #expect(timing.command == .failure(.invalid("preparation_seconds and roleplay_seconds must be whole seconds")))
        let missing = try RoomRequest.decode(event: "set_timing", payload: ["client_id": .string("c")]).get()
        #expect(missing.command == .failure(.invalid("set_timing needs preparation_seconds and roleplay_seconds (numbers)")))
        let noCase = try RoomRequest.decode(event: "choose_case", payload: ["client_id": .string("c")]).get()
        #expect(noCase.command == .failure(.invalid("choose_case needs case_id (a string) or random (an object of filters)")))
    }
}
