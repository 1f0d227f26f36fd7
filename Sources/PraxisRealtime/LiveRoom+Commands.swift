import Foundation
import NIOCore
import PraxisDomain
import PraxisRooms
import PraxisStore

/// Commands: decoded once, handed to the engine, its actions performed.
extension LiveRoom {
    // MARK: Commands

    /// Handles a command from a member; answers exactly once. The push is decoded once, here
    /// (`RoomRequest`); the engine says what to journal and how to answer.
    func command(_ name: String, payload: [String: JSONValue], memberID: Int, reply: ReplyTarget) {
        if deleted { return send(reply: reply, status: "error", response: Self.reason("the room was deleted")) }
        guard !evicted, let member = members[memberID] else {
            return send(reply: reply, status: "error", response: Self.reason("you are not in this room: join the room topic again"))
        }
        if let registry, registry.journal.isFull {
            return send(reply: reply, status: "error", response: Self.reason("the server is busy saving: try again in a moment (nothing was changed)"))
        }
        switch RoomRequest.decode(event: name, payload: payload) {
        case .failure(let error):
            send(reply: reply, status: "error", response: Self.reason(error.reason))
        case .success(let request):
            let context = CommandContext(request: request, userID: member.userID, reply: reply)
            perform(engine.handle(request, from: member.userID, now: Self.now()), for: context)
            scheduleTimers()
        }
    }

    /// The command an action answers: what it asked, who sent it, where the reply goes.
    struct CommandContext {
        let request: RoomRequest
        let userID: String
        let reply: ReplyTarget
    }

    /// Performs the engine's actions, in order. The ones that answer a command (`commit`,
    /// `refuse`, `answer`, `waitForOriginal`, `lookUpCase`) come only from a command, with
    /// its `context`.
    func perform(_ actions: [RoomAction], for context: CommandContext? = nil) {
        for action in actions {
            switch action {
            case .journal(let events, let saveState):
                commit(events, saveState: saveState, completion: nil)
            case .timer(let change):
                run(change)
            case .closeChannels(let userID, let reason):
                closeChannels(of: userID, reason: reason)
            default:
                guard let context else { continue }
                answer(action, for: context)
            }
        }
    }

    /// Performs an action that answers the command of `context`.
    private func answer(_ action: RoomAction, for context: CommandContext) {
        let reply = context.reply
        switch action {
        case .commit(let applied):
            commitCommand(applied, reply: reply)
        case .refuse(let reason):
            send(reply: reply, status: "error", response: Self.reason(reason))
        case .answer(let response):
            send(reply: reply, status: "ok", response: response)
        case .waitForOriginal(let key):
            waiters[key, default: []].append(reply)
        case .lookUpCase(let choice, let excluding):
            lookUpCase(choice, excluding: excluding, request: context.request, userID: context.userID, reply: reply)
        case .journal, .timer, .closeChannels:
            perform([action])
        }
    }

    /// Journals an applied command; answers once it is durable.
    func commitCommand(_ applied: RoomCommit, reply: ReplyTarget) {
        var response = applied.reply
        // The reply's offset: the command's last event, or the room's latest when it made none.
        response["offset"] = .number(Double(log.nextOffset - 1 + Int64(applied.events.count)))
        let answer = JSONValue.object(response)
        let record = applied.key.map {
            RoomCommandRecord(userID: $0.userID, clientID: $0.clientID, fingerprint: applied.fingerprint, replyJSON: answer.jsonString)
        }
        commit(applied.events, saveState: applied.saveState, command: record, briefs: applied.briefs, failureReply: reply) { [self] _ in
            self.send(reply: reply, status: "ok", response: answer)
            if let key = applied.key { self.answered(key, response: answer) }
            if let leaving = applied.closesChannelsOf {
                self.closeChannels(of: leaving, reason: nil)
                self.perform(self.engine.closed(leaving))
            }
        }
    }

    /// `choose_case`: looks the case up (off the loop), then hands it to the engine.
    func lookUpCase(_ choice: RoomCommand.CaseChoice, excluding: String?, request: RoomRequest, userID: String, reply: ReplyTarget) {
        let store = registry?.store
        let roomType = type
        let lookup: @Sendable () async throws -> CaseBrief?
        let isRandom: Bool
        switch choice {
        case .id(let caseID):
            lookup = { try await store?.caseBrief(id: caseID) }
            isRandom = false
        case .random(let profession, let domain, let difficulty):
            lookup = { try await store?.randomCase(profession: profession, domain: domain ?? roomType, difficulty: difficulty, excluding: excluding) }
            isRandom = true
        }
        let room = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        Task {
            let found: Result<CaseBrief?, any Error>
            do { found = .success(try await lookup()) } catch { found = .failure(error) }
            loop.execute { room.value.caseLookedUp(found, isRandom: isRandom, request: request, userID: userID, reply: reply) }
        }
    }

    /// Back on the loop with the case `choose_case` asked for.
    func caseLookedUp(_ found: Result<CaseBrief?, any Error>, isRandom: Bool, request: RoomRequest, userID: String, reply: ReplyTarget) {
        switch found {
        case .failure(let error):
            send(reply: reply, status: "error", response: Self.reason("the case could not be read: \(error)"))
        case .success(nil):
            send(reply: reply, status: "error", response: Self.reason(
                isRandom ? "no published case matches those filters" : "no published case has that case_id"
            ))
        case .success(let brief?):
            guard !evicted else {
                return send(reply: reply, status: "error", response: Self.reason("the room was reloaded: join the room topic again"))
            }
            let actions = engine.caseFound(brief.summary, briefs: brief.briefs, for: request, from: userID, now: Self.now())
            perform(actions, for: CommandContext(request: request, userID: userID, reply: reply))
            scheduleTimers()
        }
    }

    /// A remembered command's answer is durable: repeats that waited for it get it too.
    func answered(_ key: ClientKey, response: JSONValue) {
        engine.answered(key, reply: response)
        let waiting = waiters.removeValue(forKey: key) ?? []
        guard case .object(var repeated) = response else { return }
        repeated["repeated"] = .bool(true)
        for waiter in waiting { send(reply: waiter, status: "ok", response: .object(repeated)) }
    }
}
