/// A room's offsets and the latest durable events it keeps in memory (for snapshots and
/// resumes without a read): which offset the next event gets, what a join must read from
/// the journal first, and what it then gets from memory. A plain value; the shell does
/// the reads and the sending.
package struct RoomLog: Sendable, Equatable {
    /// An event as sent: its offset, name and payload (offset and at included).
    package struct Entry: Sendable, Equatable {
        package var offset: Int64
        package var name: String
        package var payloadJSON: String

        package init(offset: Int64, name: String, payloadJSON: String) {
            self.offset = offset
            self.name = name
            self.payloadJSON = payloadJSON
        }
    }

    /// What a join reads from the journal first: events below `before` (where memory begins).
    package struct Read: Sendable, Equatable {
        package var before: Int64
        /// The current round's turns after this offset (nil: not needed).
        package var turnsAfter: Int64?
        /// A resume's missed events after this offset (nil: not needed).
        package var missedAfter: Int64?
    }

    /// The latest durable events, oldest first (`keep` to twice that).
    package private(set) var recent: [Entry]
    /// The offset the next journaled event gets.
    package private(set) var nextOffset: Int64
    /// The offset of the latest durable event: what snapshots are as of.
    package private(set) var publishedOffset: Int64
    /// The offset of the latest durable `round_ended` or `round_cancelled`: the current
    /// round's transcript is the `turn` events after it.
    package private(set) var transcriptFrom: Int64
    /// How many events memory keeps at least.
    package let keep: Int
    /// Most events a resume replays; one further back gets a snapshot only.
    package let replayLimit: Int

    package init(recent: [Entry], latestOffset: Int64, transcriptFrom: Int64, keep: Int, replayLimit: Int) {
        self.recent = recent
        self.nextOffset = latestOffset + 1
        self.publishedOffset = latestOffset
        self.transcriptFrom = transcriptFrom
        self.keep = keep
        self.replayLimit = replayLimit
    }

    /// The oldest offset memory holds (the next one when it holds none).
    package var oldestKept: Int64 { recent.first?.offset ?? (publishedOffset + 1) }

    /// The offset of an event about to be journaled.
    package mutating func reserve() -> Int64 {
        defer { nextOffset += 1 }
        return nextOffset
    }

    /// Events became durable, in offset order; `transcriptEnd` is the offset of the last
    /// one that ended the round's transcript, if any.
    package mutating func publish(_ entries: [Entry], transcriptEnd: Int64?) {
        for entry in entries {
            publishedOffset = entry.offset
            recent.append(entry)
        }
        if let transcriptEnd { transcriptFrom = transcriptEnd }
        if recent.count > keep * 2 { recent.removeFirst(recent.count - keep) }
    }

    /// What a join resuming after `resume` (nil: none) must read first, or nil when memory
    /// has all it needs: the round's turns older than memory (when the round has turns),
    /// and a resume's missed events older than memory (when there are at most
    /// `replayLimit` of them).
    package func read(resume: Int64?, roundHasTurns: Bool) -> Read? {
        let oldest = oldestKept
        let turnsBefore = roundHasTurns && transcriptFrom + 1 < oldest
        var missedAfter: Int64?
        if let resume, resume <= publishedOffset, resume < oldest - 1, publishedOffset - resume <= Int64(replayLimit) {
            missedAfter = resume
        }
        guard turnsBefore || missedAfter != nil else { return nil }
        return Read(before: oldest, turnsAfter: turnsBefore ? transcriptFrom : nil, missedAfter: missedAfter)
    }

    /// Whether memory was trimmed past what `read` covers while it ran (read again).
    package func outdates(_ read: Read) -> Bool {
        guard let first = recent.first?.offset else { return false }
        return first > read.before
    }

    /// The current round's transcript: the turns read (below memory), then memory's.
    package func transcript(read: Read?, turns: [Entry]?) -> [Entry] {
        let memoryAfter = (read?.before ?? 0) - 1
        return (turns ?? []).filter { $0.offset > transcriptFrom }
            + recent.filter { $0.name == "turn" && $0.offset > max(transcriptFrom, memoryAfter) }
    }

    /// What a resume after `resume` replays, or nil (a snapshot only: no resume, too far
    /// back, or ahead of the room).
    package func replay(after resume: Int64?, read: Read?, missed: [Entry]?) -> [Entry]? {
        guard let resume, resume <= publishedOffset else { return nil }
        if resume >= oldestKept - 1 { return recent.filter { $0.offset > resume } }
        guard let missed else { return nil }
        let memoryAfter = (read?.before ?? 0) - 1
        return missed.filter { $0.offset > resume } + recent.filter { $0.offset > max(resume, memoryAfter) }
    }
}
