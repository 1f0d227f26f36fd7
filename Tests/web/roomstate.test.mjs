// The room model the page renders (assets/roomstate.js): snapshot, events in offset order, each
// turn once, pending turns, resume.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RoomState } from "../../Sources/PraxisWeb/Resources/web/assets/roomstate.js";

const HOST = "host-id";
const GUEST = "guest-id";

function snapshot(overrides = {}) {
  return {
    room: {
      id: "r", host_id: HOST, guest_id: GUEST, type: "Clinical", stage: 1, round: 1, phase: "roleplay",
      deadline: "2026-11-23T20:05:00Z", server_time: "2026-11-23T20:00:00Z", timing: { preparation_seconds: 180, roleplay_seconds: 300 },
      case: null, ready: [], present: [HOST, GUEST], away: [], round_ids: { 1: null, 2: null },
    },
    you: HOST, role: "candidate", brief: { round: 1, role: "candidate", text: "Candidate brief" },
    transcript: [{ seq: 1, round: 1, speaker_id: HOST, role: "candidate", text: "Hello", client_turn_id: "t-1", offset: 9 }],
    offset: 10, recovered: false, ...overrides,
  };
}

const turn = (seq, offset, speaker = GUEST, text = `turn ${seq}`) =>
  ({ offset, at: "x", seq, round: 1, speaker_id: speaker, role: speaker === HOST ? "candidate" : "interlocutor", text, client_turn_id: `t-${seq}` });

test("events at or below the offset are applied once; turns come out in seq order", () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  assert.equal(state.apply("turn", turn(3, 12)), true);
  assert.equal(state.apply("turn", turn(2, 11)), false); // older offset: already covered
  assert.equal(state.apply("turn", turn(3, 12)), false);
  assert.deepEqual(state.transcript(1).map((t) => t.seq), [1, 3]);
  assert.equal(state.resumeOffset, 12);
});

test("a resume (recovered) keeps the turns; the replay after it adds only the missed ones", () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.apply("turn", turn(2, 11));
  state.applySnapshot(snapshot({ recovered: true, offset: 11, transcript: [turn(1, 9, HOST, "Hello"), turn(2, 11)] }));
  state.apply("turn", turn(2, 11)); // replayed again: ignored
  state.apply("turn", turn(3, 12));
  assert.deepEqual(state.transcript().map((t) => t.seq), [1, 2, 3]);
});

test("after a resume the replayed events (past our offset) are applied, in order", () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.applySnapshot(snapshot({ recovered: true, offset: 13, transcript: [turn(1, 9, HOST, "Hello"), turn(2, 11)] }));
  assert.equal(state.resumeOffset, 10);
  assert.equal(state.apply("turn", turn(2, 11)), true);
  assert.equal(state.apply("ready", { offset: 12, user_id: GUEST, round: 1 }), true);
  assert.equal(state.apply("turn", turn(3, 13)), true);
  assert.equal(state.apply("turn", turn(3, 13)), false);
  assert.deepEqual(state.transcript().map((t) => t.seq), [1, 2, 3]);
});

test("a failed resume (recovered false) starts again from the snapshot", () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.apply("turn", turn(2, 11));
  state.applySnapshot(snapshot({ recovered: false, offset: 20, transcript: [turn(1, 9, HOST, "Hello"), turn(2, 11), turn(3, 15)] }));
  assert.equal(state.resumeOffset, 20);
  assert.deepEqual(state.transcript().map((t) => t.seq), [1, 2, 3]);
});

test("my turn is pending until acknowledged or seen in the feed", () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.addPending("t-9", "pending text");
  assert.equal(state.pending.size, 1);
  state.apply("turn", { ...turn(4, 13, HOST, "pending text"), client_turn_id: "t-9" });
  assert.equal(state.pending.size, 0);
  state.addPending("t-10", "x");
  state.acknowledged("t-10");
  assert.equal(state.pending.size, 0);
});

test("round 2 swaps the roles and clears ready, case and brief; stage 3 ends it", () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.apply("phase", { offset: 11, round: 1, phase: "ended", deadline: null });
  assert.equal(state.brief, null);
  state.apply("round_ended", { offset: 12, round: 1, round_id: "round-1", reason: "ended_by_peer" });
  state.apply("phase", { offset: 13, round: 2, phase: "waiting", deadline: null });
  assert.equal(state.room.round, 2);
  assert.equal(state.role, "interlocutor");
  state.apply("ready", { offset: 14, user_id: GUEST, round: 2 });
  assert.deepEqual(state.room.ready, [GUEST]);
  state.apply("brief", { round: 2, role: "interlocutor", text: "Actor brief" });
  assert.equal(state.brief.text, "Actor brief");
  state.apply("stage", { offset: 15, stage: 3 });
  assert.equal(state.room.phase, "ended");
  assert.equal(state.role, null);
  assert.equal(state.room.round_ids["1"], "round-1");
});

test("the other peer's presence: joined, away with until, left", () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  assert.deepEqual(state.otherPresence(), { status: "joined" });
  state.apply("presence", { offset: 11, user_id: GUEST, status: "away", present: [HOST], away: [{ user_id: GUEST, until: "2026-11-23T20:01:00Z" }] });
  assert.deepEqual(state.otherPresence(), { status: "away", until: "2026-11-23T20:01:00Z" });
  state.apply("presence", { offset: 12, user_id: GUEST, status: "left", present: [HOST], away: [] });
  assert.deepEqual(state.otherPresence(), { status: "left" });
});
