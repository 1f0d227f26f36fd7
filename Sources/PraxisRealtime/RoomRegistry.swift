import Foundation
import Logging
import NIOCore
import PraxisAssessment
import PraxisDomain
import PraxisStore
import Synchronization

/// The loaded rooms, by id. A room is loaded on its first join (or when its timers or a
/// no-show check need it), owned by one event loop, and leaves again when idle. Also runs
/// the assessments of finished rounds and the no-show sweep.
final class RoomRegistry: Sendable {
    /// The database as the rooms read it (the journal writes).
    let store: any RoomStore
    let journal: any RoomJournaling
    let configuration: RoomConfiguration
    let assessor: any Assessor
    let logger: Logger
    private let group: any EventLoopGroup
    private let rooms = Mutex<[String: LiveRoom]>([:])
    private let loading = Mutex<[String: Task<LiveRoom?, any Error>]>([:])
    private let sweep = Mutex<RepeatedTask?>(nil)
    private let memberIDs = Atomic<Int>(0)

    /// Rooms over an opened database: its room reads and its room journal.
    convenience init(store: OpenedStore, configuration: RoomConfiguration, assessor: any Assessor, group: any EventLoopGroup, logger: Logger) {
        self.init(
            store: store.rooms,
            journal: store.makeRoomJournal(maxBatch: configuration.maxJournalBatch, maxPending: configuration.maxJournalPending),
            configuration: configuration, assessor: assessor, group: group, logger: logger
        )
    }

    /// Rooms over any store and journal behind the boundary (tests use doubles).
    init(
        store: any RoomStore, journal: any RoomJournaling, configuration: RoomConfiguration, assessor: any Assessor, group: any EventLoopGroup,
        logger: Logger
    ) {
        self.store = store
        self.journal = journal
        self.configuration = configuration
        self.assessor = assessor
        self.group = group
        self.logger = logger
    }

    /// Brings back rooms that were mid-round (their timers run again), assesses rounds
    /// left unassessed, and starts the no-show sweep.
    func start() {
        Task {
            do {
                for id in try await store.roomsMidRound() { _ = try await room(id, on: nil) }
                for round in try await store.unassessedRounds() {
                    assess(roomID: round.roomID, roundID: round.roundID, round: round.round, caseID: round.caseID, transcriptJSON: round.transcriptJSON)
                }
            } catch {
                logger.error("rooms could not be recovered", metadata: ["error": "\(error)"])
            }
        }
        let interval = TimeAmount.milliseconds(Int64(configuration.sweepIntervalSeconds * 1000))
        let task = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: interval) { [weak self] _ in
            guard let self else { return }
            Task { await self.sweepNoShows() }
        }
        sweep.withLock { $0 = task }
    }

    func stop() {
        sweep.withLock { $0?.cancel() }
    }

    /// The loaded room `id`, loading it (once, however many ask) on `loop` or any loop.
    func room(_ id: String, on loop: (any EventLoop)?) async throws -> LiveRoom? {
        if let room = rooms.withLock({ $0[id] }) { return room }
        let task = loading.withLock { loading -> Task<LiveRoom?, any Error> in
            if let task = loading[id] { return task }
            let task = Task<LiveRoom?, any Error> { [self] in
                defer { _ = self.loading.withLock { $0.removeValue(forKey: id) } }
                if let room = self.rooms.withLock({ $0[id] }) { return room }
                guard let loaded = try await self.store.loadRoom(
                    id: id, eventLimit: self.configuration.recentEvents, commandLimit: self.configuration.rememberedCommands
                ) else { return nil }
                let room = LiveRoom(loaded: loaded, loop: loop ?? self.group.next(), registry: self, configuration: self.configuration)
                self.rooms.withLock { $0[id] = room }
                room.loop.execute { room.start() }
                return room
            }
            loading[id] = task
            return task
        }
        return try await task.value
    }

    /// Forgets `room` (idle or failed); the next join loads it again from the store.
    func evict(_ room: LiveRoom) {
        rooms.withLock { rooms in
            if rooms[room.id] === room { rooms[room.id] = nil }
        }
    }

    /// Committed changes, in commit order (from the change feed): a loaded room follows its
    /// row's seat and learns that its row was deleted, whichever path changed it.
    func changed(_ records: [ChangeRecord]) {
        for change in records where change.table == "practice_rooms" {
            guard case .text(let id)? = (change.record ?? change.oldRecord)?["id"],
                let room = rooms.withLock({ $0[id] })
            else { continue }
            switch change.kind {
            case .delete:
                room.loop.execute { room.roomDeleted() }
            case .insert, .update:
                let guest: String? = if case .text(let seated)? = change.record?["guest_id"] { seated } else { nil }
                let offset = change.offset
                room.loop.execute { room.followSeat(guest, asOf: offset) }
            }
        }
    }

    /// A new room member id (unique in this process).
    func nextMemberID() -> Int {
        memberIDs.add(1, ordering: .relaxed).newValue
    }

    // MARK: Assessment

    /// Assesses a finished round off the loops; the room stores it and tells its members.
    /// Assesses a completed round, its transcript read from the store (as written with the
    /// round) unless given, and journals the assessment through the room.
    func assess(roomID: String, roundID: String, round: Int, caseID: String?, transcriptJSON: String? = nil) {
        let store = self.store
        let assessor = self.assessor
        let logger = self.logger
        Task { [weak self] in
            let json: String
            if let transcriptJSON {
                json = transcriptJSON
            } else {
                do {
                    guard let stored = try await store.roundTranscript(roundID: roundID) else { return }
                    json = stored
                } catch {
                    logger.error("a round's transcript could not be read for its assessment", metadata: ["round": "\(roundID)", "error": "\(error)"])
                    return
                }
            }
            // Decoding the transcript and writing the report's text are CPU work: on the niced
            // assessment thread, not the concurrency pool the event loops share the cores with
            // (a round-end burst would otherwise delay the round ends' own replies).
            let (transcript, transcriptText) = await HeuristicRoundAssessor.shared.run { Self.transcript(json) }
            let brief = try? await caseID.asyncFlatMap { try await store.caseBrief(id: $0) }
            let assessment = await assessor.assess(AssessmentInput(
                turns: transcript, caseName: brief?.caseName, candidateBrief: brief?.candidateBrief, profession: brief?.targetProfession
            ))
            let report = FeedbackReportRecord(
                transcriptText: transcriptText, summary: assessment.summary, scoreRaw: assessment.scoreRaw,
                strengths: JSONValue.array(assessment.strengths.map(JSONValue.string)).jsonString,
                areasForImprovement: JSONValue.array(assessment.areasForImprovement.map(JSONValue.string)).jsonString
            )
            // Stored by the room's journal with its event: group-committed with the turns.
            let record = RoomAssessmentRecord(roundID: roundID, assessmentJSON: assessment.json.jsonString, report: report)
            do {
                guard let self, let room = try await self.room(roomID, on: nil) else { return }
                room.loop.execute {
                    room.storeAssessment(
                        record, round: round, assessor: assessment.assessor, scoreRaw: assessment.scoreRaw, scoreMax: assessment.scoreMax
                    )
                }
            } catch {
                logger.error("assessment could not be stored", metadata: ["round": "\(roundID)", "error": "\(error)"])
            }
        }
    }

    /// A stored transcript's turns (a JSON array of turn payloads; what is not a turn is
    /// skipped) and the report's text of them, one `[seq] role: text` line per turn.
    static func transcript(_ json: String) -> (turns: [TranscriptTurn], text: String) {
        let turns = ((try? JSONValue.parse(json))?.array ?? []).compactMap(transcriptTurn)
        return (turns, turns.map { "[\($0.seq)] \($0.role.rawValue): \($0.text)" }.joined(separator: "\n"))
    }

    static func transcriptTurn(_ json: JSONValue) -> TranscriptTurn? {
        guard case .object(let turn) = json, case .number(let seq)? = turn["seq"], let roleName = turn["role"]?.string,
            let role = RoomRole(rawValue: roleName), let text = turn["text"]?.string
        else { return nil }
        return TranscriptTurn(seq: Int(seq), role: role, speakerID: turn["speaker_id"]?.string ?? "", text: text)
    }

    // MARK: No-shows

    /// Loads rooms due for their no-show check; each checks itself when loaded.
    private func sweepNoShows() async {
        let now = Date()
        let from = Timestamp.format(now.addingTimeInterval(-86_400))
        let to = Timestamp.format(now.addingTimeInterval(-configuration.graceSeconds))
        do {
            for id in try await store.roomsDueForNoShowCheck(from: from, to: to) {
                // A room loaded before its check was due has no timer for it yet.
                guard let room = try await room(id, on: nil) else { continue }
                room.loop.execute { room.checkTimers() }
            }
        } catch {
            logger.warning("no-show sweep failed", metadata: ["error": "\(error)"])
        }
    }
}

extension Optional {
    fileprivate func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

extension JSONValue {
    var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
