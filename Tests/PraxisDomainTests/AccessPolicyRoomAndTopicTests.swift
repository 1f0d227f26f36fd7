import Testing

@testable import PraxisDomain

/// The seat rule of `practice_rooms` and the topic rules of realtime channels: pure rules,
/// every actor against every room situation.
@Suite("AccessPolicy: seats and topics")
struct AccessPolicyRoomAndTopicTests {
    static let host = "host-1"
    static let guest = "guest-b"
    static let newcomer = "user-c"

    /// A room row in a situation: stage, whether round 1 has a stored round, the guest.
    static func room(stage: Int = 1, firstRound: Bool = false, guest: String? = AccessPolicyRoomAndTopicTests.guest) -> Row {
        [
            "id": .text("room-1"), "host_id": .text(host), "guest_id": guest.map(Value.text) ?? .null, "stage": .integer(Int64(stage)),
            "first_round_id": firstRound ? .text("round-1") : .null, "private": .integer(1), "type": .text("Clinical"),
        ]
    }

    static func update(_ old: Row, guest: String?, by caller: Caller, live: Bool) -> AccessDenied? {
        var new = old
        new["guest_id"] = guest.map(Value.text) ?? .null
        let changed: Set<String> = (old["guest_id"] ?? .null) == (new["guest_id"] ?? .null) ? [] : ["guest_id"]
        do throws(AccessDenied) {
            try AccessPolicy.checkUpdate("practice_rooms", old: old, new: new, changed: changed, room: RoomFacts(roundLive: live), by: caller)
            return nil
        } catch {
            return error
        }
    }

    /// Situations before round 1 starts: the seat may be given back and taken.
    @Test func beforeRoundOneTheSeatMoves() {
        let live = false
        let seated = Self.room()
        #expect(Self.update(seated, guest: nil, by: .user(id: Self.guest, isAdmin: false), live: live) == nil, "the guest gives it back")
        #expect(Self.update(seated, guest: nil, by: .user(id: Self.host, isAdmin: false), live: live) == nil, "the host frees it")
        let free = Self.room(guest: nil)
        #expect(Self.update(free, guest: Self.newcomer, by: .user(id: Self.newcomer, isAdmin: false), live: live) == nil, "C takes a free seat")
        #expect(Self.update(free, guest: Self.newcomer, by: .user(id: Self.guest, isAdmin: false), live: live) != nil, "nobody seats someone else")
        #expect(Self.update(free, guest: Self.newcomer, by: .user(id: Self.host, isAdmin: false), live: live) != nil, "the host cannot seat anyone")
        #expect(Self.update(seated, guest: Self.newcomer, by: .user(id: Self.newcomer, isAdmin: false), live: live) != nil, "a taken seat is not free")
        #expect(Self.update(seated, guest: nil, by: .anonymous, live: live) != nil)
    }

    /// Once round 1 has started (being played, ended into stage 2, or a stored first round),
    /// nobody but the service role moves the seat, in either direction.
    @Test(arguments: [
        (1, false, true),   // round 1 being played
        (2, true, false),   // between the rounds
        (2, true, true),    // round 2 being played
        (1, true, false),   // a first round stored, stage not yet moved
    ])
    func onceRoundOneStartedTheSeatIsFixed(stage: Int, firstRound: Bool, live: Bool) {
        let seated = Self.room(stage: stage, firstRound: firstRound)
        let free = Self.room(stage: stage, firstRound: firstRound, guest: nil)
        for caller in [Caller.user(id: Self.guest, isAdmin: false), .user(id: Self.host, isAdmin: false), .user(id: "admin", isAdmin: true)] {
            let denied = Self.update(seated, guest: nil, by: caller, live: live)
            #expect(denied != nil, "\(caller) must not free a fixed seat")
            #expect(denied?.inUse == false)
        }
        #expect(Self.update(free, guest: Self.newcomer, by: .user(id: Self.newcomer, isAdmin: false), live: live) != nil, "C cannot take it either")
        #expect(Self.update(seated, guest: Self.newcomer, by: .service, live: live) == nil, "the service role may (the room engine follows)")
        #expect(AccessPolicy.seatIsFixed(seated, facts: RoomFacts(roundLive: live)))
    }

    @Test func otherHostEditsStayAllowedMidRound() {
        var new = Self.room()
        new["type"] = .text("Communication")
        #expect(throws: Never.self) {
            try AccessPolicy.checkUpdate(
                "practice_rooms", old: Self.room(), new: new, changed: ["type"], room: RoomFacts(roundLive: true), by: .user(id: Self.host, isAdmin: false)
            )
        }
    }

    @Test func aRoomWithALiveRoundCannotBeDeletedButByTheService() {
        let row = Self.room()
        #expect(throws: AccessDenied.inUse("the room has a round in progress: end the round (or wait for it to end) before deleting the room")) {
            try AccessPolicy.checkDelete("practice_rooms", old: row, room: RoomFacts(roundLive: true), by: .user(id: Self.host, isAdmin: false))
        }
        #expect(throws: Never.self) {
            try AccessPolicy.checkDelete("practice_rooms", old: row, room: RoomFacts(roundLive: false), by: .user(id: Self.host, isAdmin: false))
            try AccessPolicy.checkDelete("practice_rooms", old: row, room: RoomFacts(roundLive: true), by: .service)
        }
    }

    // MARK: Topics

    static func topic(_ name: String, isPrivate: Bool, _ caller: Caller, room: (host: String, guest: String?)? = nil) -> Bool {
        (try? AccessPolicy.checkTopic(name, isPrivate: isPrivate, by: caller, room: room)) != nil
    }

    @Test func roomTopicsAdmitTheStoredHostAndGuestOnly() {
        let seats = (host: Self.host, guest: Optional(Self.newcomer))
        #expect(Self.topic("room:r", isPrivate: true, .user(id: Self.host, isAdmin: false), room: seats))
        #expect(Self.topic("room:r", isPrivate: true, .user(id: Self.newcomer, isAdmin: false), room: seats), "C, seated now, joins")
        #expect(!Self.topic("room:r", isPrivate: true, .user(id: Self.guest, isAdmin: false), room: seats), "B gave the seat back")
        #expect(!Self.topic("room:r", isPrivate: true, .user(id: Self.guest, isAdmin: false), room: (Self.host, nil)))
        #expect(!Self.topic("room:r", isPrivate: true, .user(id: Self.host, isAdmin: false), room: nil), "no such room")
        #expect(!Self.topic("room:r", isPrivate: false, .user(id: "admin", isAdmin: true), room: seats), "admins are not members")
        #expect(!Self.topic("room:r", isPrivate: true, .anonymous, room: seats))
        #expect(Self.topic("room:r", isPrivate: true, .service, room: nil))
    }

    @Test(arguments: [false, true])
    func userTopicsAdmitThatUserOnly(isPrivate: Bool) {
        #expect(Self.topic("user:u1", isPrivate: isPrivate, .user(id: "u1", isAdmin: false)))
        #expect(!Self.topic("user:u1", isPrivate: isPrivate, .user(id: "u2", isAdmin: false)))
        #expect(!Self.topic("user:u1", isPrivate: isPrivate, .user(id: "u2", isAdmin: true)))
        #expect(!Self.topic("user:u1", isPrivate: isPrivate, .anonymous))
        #expect(!Self.topic("user:", isPrivate: isPrivate, .user(id: "u1", isAdmin: false)))
        #expect(Self.topic("user:u1", isPrivate: isPrivate, .service))
    }

    @Test func theBoardIsPublicAndItsPrivateJoinNeedsAUser() {
        for name in ["board", "board:clinical"] {
            #expect(Self.topic(name, isPrivate: false, .anonymous))
            #expect(!Self.topic(name, isPrivate: true, .anonymous))
            #expect(Self.topic(name, isPrivate: true, .user(id: "u1", isAdmin: false)))
        }
        #expect(Self.topic("boardroom", isPrivate: false, .anonymous), "a public name of its own")
        #expect(!Self.topic("boardroom", isPrivate: true, .user(id: "u1", isAdmin: false)), "not the board: no private rule")
    }

    @Test func otherNamesArePublicOnly() {
        #expect(Self.topic("chat", isPrivate: false, .anonymous))
        #expect(Self.topic("chat", isPrivate: false, .user(id: "u1", isAdmin: false)))
        #expect(!Self.topic("chat", isPrivate: true, .user(id: "u1", isAdmin: false)))
        #expect(!Self.topic("chat", isPrivate: true, .user(id: "admin", isAdmin: true)))
        #expect(Self.topic("chat", isPrivate: true, .service))
    }

    @Test func topicNamesParse() {
        #expect(AccessPolicy.Topic("room:abc") == .room(id: "abc"))
        #expect(AccessPolicy.Topic("user:abc") == .user(id: "abc"))
        #expect(AccessPolicy.Topic("board") == .board)
        #expect(AccessPolicy.Topic("board:x") == .board)
        #expect(AccessPolicy.Topic("rooms") == .other("rooms"))
    }
}
