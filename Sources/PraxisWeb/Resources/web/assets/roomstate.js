// A practice room as the page knows it: the join snapshot, then the room's events applied in
// offset order, each once (a replay after a resume may repeat what was already seen). Pure: no
// DOM, no network, so it is unit-tested in Tests/web.

export class RoomState {
  constructor() {
    this.room = null;
    this.you = null;
    this.role = null;
    this.brief = null;
    this.offset = 0;
    this.turns = new Map(); // seq → turn (each shown once)
    this.pending = new Map(); // client_turn_id → {client_turn_id, text, round}
    this.assessments = new Map(); // round → assessment event
    this.rounds = [];
    this.lastLeft = null;
  }

  /** Applies a join reply. `recovered` false (or a first join) means: start from this snapshot. */
  applySnapshot(reply) {
    const fresh = !reply.recovered || this.room === null;
    this.room = { ...reply.room };
    this.you = reply.you;
    this.role = reply.role;
    this.brief = reply.brief ?? null;
    if (fresh) this.turns = new Map();
    for (const turn of reply.transcript ?? []) this.addTurn(turn);
    // Resumed: the missed events follow the reply, from our offset on; otherwise start here.
    if (fresh) this.offset = reply.offset;
  }

  /** The offset to resume from on the next join. */
  get resumeOffset() {
    return this.offset;
  }

  addTurn(turn) {
    if (!this.turns.has(turn.seq)) this.turns.set(turn.seq, turn);
    if (turn.speaker_id === this.you) this.pending.delete(turn.client_turn_id);
  }

  /** Turns in seq order (of `round`, or all). */
  transcript(round = null) {
    return [...this.turns.values()].filter((t) => round === null || t.round === round).sort((a, b) => a.seq - b.seq);
  }

  /** Applies one room event; false when it was already applied (offset not newer). */
  apply(event, payload) {
    if (typeof payload.offset === "number") {
      if (payload.offset <= this.offset) return false;
      this.offset = payload.offset;
    }
    const room = this.room;
    // A guest who took the seat after this page joined shows up by their first event.
    if (payload.user_id && !room.guest_id && payload.user_id !== room.host_id && event !== "no_show") room.guest_id = payload.user_id;
    switch (event) {
      case "presence":
        room.present = payload.present ?? room.present;
        room.away = payload.away ?? room.away;
        break;
      case "ready":
        if (payload.round === room.round && !room.ready.includes(payload.user_id)) room.ready = [...room.ready, payload.user_id];
        break;
      case "timing":
        room.timing = { preparation_seconds: payload.preparation_seconds, roleplay_seconds: payload.roleplay_seconds };
        break;
      case "case_chosen":
        if (payload.round === room.round) room.case = payload.case;
        break;
      case "phase":
        if (payload.phase === "waiting" && payload.round !== room.round) {
          room.round = payload.round;
          room.ready = [];
          room.case = null;
          this.brief = null;
          this.role = this.roleIn(payload.round);
        }
        if (payload.phase === "ended") this.brief = null;
        room.phase = payload.phase;
        room.deadline = payload.deadline ?? null;
        break;
      case "turn":
        this.addTurn(payload);
        break;
      case "round_ended":
        room.round_ids = { ...room.round_ids, [String(payload.round)]: payload.round_id };
        this.rounds.push(payload);
        break;
      case "stage":
        room.stage = payload.stage;
        if (payload.stage === 3) {
          room.phase = "ended";
          room.deadline = null;
          this.role = null;
          this.brief = null;
        }
        break;
      case "brief":
        this.brief = payload;
        break;
      case "assessment":
        this.assessments.set(payload.round, payload);
        break;
      case "left":
        this.lastLeft = payload;
        room.ready = room.ready.filter((id) => id !== payload.user_id);
        break;
      default:
        break;
    }
    return true;
  }

  /** This user's role in `round`: the host is the candidate of round 1, the guest of round 2. */
  roleIn(round) {
    if (!this.room || !this.you) return null;
    const host = this.room.host_id === this.you;
    return (round === 1) === host ? "candidate" : "interlocutor";
  }

  /** Adds a turn typed here, shown as pending until the server acknowledges it. */
  addPending(clientTurnId, text) {
    this.pending.set(clientTurnId, { client_turn_id: clientTurnId, text, round: this.room?.round });
  }

  /** The acknowledgement of a turn typed here (its reply `seq`). */
  acknowledged(clientTurnId) {
    this.pending.delete(clientTurnId);
  }

  /** The other peer's id, or null when the seat is free. */
  get otherId() {
    if (!this.room) return null;
    return this.room.host_id === this.you ? this.room.guest_id : this.room.host_id;
  }

  /** `joined`, `away` (with `until`), or `left` for the other peer. */
  otherPresence() {
    const other = this.otherId;
    if (!other) return { status: "none" };
    if (this.room.present?.includes(other)) return { status: "joined" };
    const away = this.room.away?.find((a) => a.user_id === other);
    if (away) return { status: "away", until: away.until };
    return { status: "left" };
  }
}
