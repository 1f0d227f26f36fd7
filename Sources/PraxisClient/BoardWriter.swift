import NIOCore
import NIOHTTP1
import Synchronization

/// Makes the room changes through the data API from one event loop: a 1 ms tick sends
/// what is due (INSERT of a new public room, then a PATCH of a room whose INSERT was
/// answered, alternately) at the configured rate, at most `maxInFlight` requests in flight
/// over a few pipelined keep-alive connections. Stops sending after `duration` seconds (or
/// `total` changes); the future completes when every request was answered (or after the
/// drain timeout).
final class BoardWriter: @unchecked Sendable {
    private let connections: [BenchHTTPConnection]
    private let book: BoardRoomBook
    private let hostID: String
    private let headers: [(String, String)]
    private let configuration: BenchConfiguration
    private let errors: BenchRecorder
    /// The writer's counts (requests, inserts, updates, write failures) and its request latencies.
    let recorder: BenchRecorder
    private let loop: any EventLoop

    private let inFlightCount = Atomic<Int>(0)
    private let unansweredCount = Atomic<Int>(0)
    private let secondsBits = Atomic<UInt64>(0)

    // Only on `loop`.
    private var start: UInt64 = 0
    private var issued = 0
    private var inFlight = 0
    private var nextRoom = 0
    private var readyToPatch = CircularBuffer<Int>()
    private var patchNext = false
    private var stoppedAt: UInt64?
    private var finished = false
    private var lastAnswer: UInt64 = 0

    /// A writer of `configuration`'s changes over `connections`, its errors kept by `errors`.
    init(_ configuration: BenchConfiguration, connections: [BenchHTTPConnection], book: BoardRoomBook, hostID: String, errors: BenchRecorder) {
        self.connections = connections
        self.book = book
        self.hostID = hostID
        self.headers = BenchSetup.serviceHeaders(configuration.serviceKey)
        self.configuration = configuration
        self.errors = errors
        self.loop = connections[0].eventLoop
        recorder = BenchRecorder([connections[0].eventLoop])
    }

    /// Changes the data API confirmed.
    var changes: Int { recorder[.insert] + recorder[.update] }
    var inFlightNow: Int { inFlightCount.load(ordering: .relaxed) }
    var unanswered: Int { unansweredCount.load(ordering: .relaxed) }
    /// From the start to the last answer.
    var seconds: Double { Double(bitPattern: secondsBits.load(ordering: .relaxed)) }

    func run(start: UInt64) -> EventLoopFuture<Void> {
        let done = loop.makePromise(of: Void.self)
        loop.execute {
            self.start = start
            self.lastAnswer = start
            self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
                self.tick(task: task, done: done)
            }
        }
        return done.futureResult
    }

    private func tick(task: RepeatedTask, done: EventLoopPromise<Void>) {
        let now = MonotonicClock.now()
        let elapsed = Double(now &- start) / 1e9
        let (total, answerTimeout) = (configuration.total, configuration.drainTimeout)
        if stoppedAt == nil, !finished {
            if elapsed >= configuration.duration || issued >= total {
                stoppedAt = now
            } else {
                let due = min(total, Int(elapsed * Double(configuration.rate)) + 1)
                var written = [Bool](repeating: false, count: connections.count)
                while issued < due, inFlight < configuration.maxInFlight {
                    guard let index = issue() else {
                        errors.error("every data-API connection of the writer has closed")
                        stoppedAt = now
                        break
                    }
                    written[index] = true
                }
                for (index, wrote) in written.enumerated() where wrote { connections[index].flush() }
                inFlightCount.store(inFlight, ordering: .relaxed)
                if issued >= total { stoppedAt = now }
            }
        }
        guard let stoppedAt, !finished else { return }
        if inFlight == 0 || Double(now &- stoppedAt) / 1e9 > answerTimeout {
            if inFlight > 0 {
                unansweredCount.store(inFlight, ordering: .relaxed)
                errors.error("\(inFlight) data-API requests unanswered \(Int(answerTimeout)) s after the writing ended")
            }
            finished = true
            secondsBits.store((Double(lastAnswer &- start) / 1e9).bitPattern, ordering: .relaxed)
            task.cancel()
            done.succeed()
        }
    }

    /// Writes the next change's request (not flushed) on the open connection with the
    /// fewest requests in flight; returns its index, nil when none is open.
    private func issue() -> Int? {
        let open = connections.indices.lazy.filter { self.connections[$0].isOpen }
        guard let chosen = open.min(by: { connections[$0].inFlight < connections[$1].inFlight }) else { return nil }
        let connection = connections[chosen]
        let sent = MonotonicClock.now()
        let patch = patchNext ? readyToPatch.popFirst() : nil
        let room = patch ?? nextRoom
        let (method, uri, body): (HTTPMethod, String, String)
        if let patch {
            book.recordUpdate(patch, sent: sent)
            (method, uri) = (.PATCH, "/rest/v1/practice_rooms?id=eq.\(book.id(patch))")
            body = patch % 2 == 0 ? #"{"datetime_utc":"2031-02-01T10:30:00Z"}"# : #"{"type":"Communication"}"#
        } else {
            nextRoom += 1
            (method, uri) = (.POST, "/rest/v1/practice_rooms")
            body = #"{"id":"\#(book.id(room))","host_id":"\#(hostID)","datetime_utc":"2031-01-01T09:00:00Z","type":"Clinical","#
                + #""room_url":"\#(book.roomURL(room, sent: sent))","private":false}"#
        }
        patchNext = patch == nil
        let isUpdate = patch != nil
        let future = connection.write(method: method, uri: uri, headers: headers, body: connection.channel.allocator.buffer(string: body), flush: false)
        issued += 1
        inFlight += 1
        recorder.count(.request)
        future.whenComplete { result in self.answered(result, isUpdate: isUpdate, room: room, sent: sent) }
        return chosen
    }

    private func answered(_ result: Result<BenchHTTPResponse, any Error>, isUpdate: Bool, room: Int, sent: UInt64) {
        inFlight -= 1
        inFlightCount.store(inFlight, ordering: .relaxed)
        guard !finished else { return }
        let now = MonotonicClock.now()
        recorder.record(nil, latency: now &- sent, loop: 0)
        switch result {
        case .success(let response):
            if isUpdate {
                // return=minimal: 204, with the rows affected in Content-Range (`*/1`).
                let range = response.headers.first(name: "Content-Range")
                guard response.status == 204 || response.status == 200, range == nil || range == "*/1" else {
                    return failed("PATCH of room \(book.id(room)): \(response.summary) (Content-Range \(range ?? "none"))")
                }
                recorder.count(.update)
            } else {
                guard response.status == 201 else { return failed("INSERT of room \(book.id(room)): \(response.summary)") }
                recorder.count(.insert)
                readyToPatch.append(room)
            }
            lastAnswer = now
        case .failure(let error):
            failed("\(isUpdate ? "PATCH" : "INSERT") of room \(book.id(room)): \(error)")
        }
    }

    private func failed(_ text: String) {
        recorder.count(.writeFailure)
        errors.error(text)
    }
}
