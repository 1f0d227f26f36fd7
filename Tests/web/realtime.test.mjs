// Unit tests of the page's Phoenix client (Sources/PraxisWeb/Resources/web/assets/realtime.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { encode, decode, Socket, reconnectDelay } from "../../Sources/PraxisWeb/Resources/web/assets/realtime.js";
import { FakeTimers, fakeWebSocketClass } from "./fakes.mjs";

function setup(options = {}) {
  const timers = new FakeTimers();
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const socket = new Socket("ws://127.0.0.1:1/realtime/v1/websocket", {
    params: { apikey: "anon-key" }, WebSocket: FakeWebSocket, timers, heartbeatMs: 1000, ...options,
  });
  return { timers, sockets, socket };
}

function reply(to, response = {}, status = "ok") {
  return { topic: to.topic, event: "phx_reply", payload: { status, response }, ref: to.ref, join_ref: to.join_ref };
}

test("encodes vsn 1.0.0 objects and decodes them, numbers as string refs", () => {
  const text = encode({ topic: "realtime:board", event: "phx_join", payload: { a: 1 }, ref: "3", join_ref: "3" });
  assert.deepEqual(JSON.parse(text), { topic: "realtime:board", event: "phx_join", payload: { a: 1 }, ref: "3", join_ref: "3" });
  assert.deepEqual(JSON.parse(encode({ topic: "phoenix", event: "heartbeat" })), { topic: "phoenix", event: "heartbeat", payload: {}, ref: null, join_ref: null });
  assert.deepEqual(decode('{"topic":"t","event":"e","ref":7,"join_ref":null}'), { topic: "t", event: "e", payload: {}, ref: "7", join_ref: null });
  assert.equal(decode("not json"), null);
  assert.equal(decode('["1","1","t","e",{}]'), null);
  assert.equal(decode('{"topic":1,"event":"e"}'), null);
});

test("connects with the apikey and vsn 1.0.0 in the query", () => {
  const { socket, sockets } = setup();
  socket.connect();
  const url = new URL(sockets[0].url);
  assert.equal(url.pathname, "/realtime/v1/websocket");
  assert.equal(url.searchParams.get("apikey"), "anon-key");
  assert.equal(url.searchParams.get("vsn"), "1.0.0");
});

test("refs increase and every push has its own; join_ref names the join", async () => {
  const { socket, sockets } = setup();
  const channel = socket.channel("realtime:room:1", () => ({ access_token: "tok" }));
  const joined = channel.join();
  sockets[0].open();
  const join = sockets[0].last("phx_join");
  assert.equal(join.ref, join.join_ref);
  assert.deepEqual(join.payload, { access_token: "tok" });
  sockets[0].serverSends(reply(join, { room: {} }));
  await joined;
  const a = channel.push("ready", { client_id: "c-1" });
  const b = channel.push("turn", { client_turn_id: "t-1", text: "hi" });
  const [pa, pb] = sockets[0].sent.slice(-2);
  assert.ok(Number(pb.ref) > Number(pa.ref) && Number(pa.ref) > Number(join.ref));
  assert.equal(pa.join_ref, join.ref);
  // Replies are matched by ref, in any order.
  sockets[0].serverSends(reply(pb, { seq: 1, offset: 5 }));
  sockets[0].serverSends(reply(pa, { reason: "not allowed in phase roleplay" }, "error"));
  assert.deepEqual(await b, { seq: 1, offset: 5 });
  await assert.rejects(a, (error) => error.reason === "not allowed in phase roleplay");
});

test("pushes made before the join are sent after it", async () => {
  const { socket, sockets } = setup();
  const channel = socket.channel("realtime:room:1");
  channel.join();
  const pushed = channel.push("ready", { client_id: "c-1" });
  sockets[0].open();
  assert.equal(sockets[0].last("ready"), undefined);
  sockets[0].serverSends(reply(sockets[0].last("phx_join")));
  const ready = sockets[0].last("ready");
  assert.deepEqual(ready.payload, { client_id: "c-1" });
  sockets[0].serverSends(reply(ready, { offset: 2 }));
  assert.deepEqual(await pushed, { offset: 2 });
});

test("a refused join rejects with the server's reason", async () => {
  const { socket, sockets } = setup();
  const channel = socket.channel("realtime:room:1");
  const joined = channel.join();
  sockets[0].open();
  sockets[0].serverSends(reply(sockets[0].last("phx_join"), { reason: "only the room's host and guest may join this room" }, "error"));
  await assert.rejects(joined, (error) => error.reason === "only the room's host and guest may join this room");
  assert.equal(channel.state, "closed");
});

test("heartbeats every interval; an unanswered one drops the socket, which reconnects", () => {
  const { socket, sockets, timers } = setup();
  socket.connect();
  sockets[0].open();
  timers.advance(1000);
  const beat = sockets[0].last("heartbeat");
  assert.equal(beat.topic, "phoenix");
  sockets[0].serverSends(reply(beat));
  timers.advance(1000);
  const second = sockets[0].last("heartbeat");
  assert.notEqual(second.ref, beat.ref);
  assert.equal(sockets[0].closedWith, null);
  // No reply to the second: the third tick closes the socket instead of sending another.
  timers.advance(1000);
  assert.equal(sockets[0].sent.filter((m) => m.event === "heartbeat").length, 2);
  assert.notEqual(sockets[0].closedWith, null);
  assert.equal(sockets.length, 1);
  timers.advance(reconnectDelay(1));
  assert.equal(sockets.length, 2);
});

test("heartbeat replies are not passed to channels", async () => {
  const { socket, sockets, timers } = setup();
  const seen = [];
  socket.on("message", (m) => seen.push(m.event));
  socket.connect();
  sockets[0].open();
  timers.advance(1000);
  sockets[0].serverSends(reply(sockets[0].last("heartbeat")));
  assert.deepEqual(seen, []);
});

test("reconnect delays grow and stop at 5 s", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 9].map(reconnectDelay), [250, 500, 1000, 2000, 5000, 5000]);
});

test("after a drop the channel rejoins with the payload computed again (resume offset)", async () => {
  const { socket, sockets, timers } = setup();
  let offset = null;
  const channel = socket.channel("realtime:room:1", () => (offset === null ? { access_token: "a" } : { access_token: "a", config: { praxis: { resume: { offset } } } }));
  const joins = [];
  channel.onJoin((response) => joins.push(response));
  channel.onBroadcast("turn", (payload) => {
    offset = payload.offset;
  });
  channel.join();
  sockets[0].open();
  sockets[0].serverSends(reply(sockets[0].last("phx_join"), { offset: 3, recovered: false }));
  sockets[0].serverSends({ topic: "realtime:room:1", event: "broadcast", ref: null, join_ref: null, payload: { type: "broadcast", event: "turn", payload: { offset: 4, seq: 1 } } });
  assert.equal(offset, 4);
  // An in-flight push is rejected as disconnected when the socket drops.
  const inFlight = channel.push("turn", { client_turn_id: "t-2", text: "x" });
  sockets[0].serverCloses(1006);
  await assert.rejects(inFlight, (error) => error.reason === "disconnected");
  assert.equal(channel.state, "errored");
  timers.advance(250);
  assert.equal(sockets.length, 2);
  sockets[1].open();
  const rejoin = sockets[1].last("phx_join");
  assert.deepEqual(rejoin.payload, { access_token: "a", config: { praxis: { resume: { offset: 4 } } } });
  sockets[1].serverSends(reply(rejoin, { offset: 6, recovered: true }));
  assert.equal(joins.length, 2);
  assert.equal(channel.state, "joined");
});

test("messages of an earlier membership (old join_ref) are ignored", async () => {
  const { socket, sockets, timers } = setup();
  const channel = socket.channel("realtime:x");
  const got = [];
  channel.on("phx_close", () => got.push("close"));
  channel.onClose(() => got.push("closed"));
  channel.join();
  sockets[0].open();
  const first = sockets[0].last("phx_join");
  sockets[0].serverSends(reply(first));
  sockets[0].serverCloses();
  timers.advance(250);
  sockets[1].open();
  const second = sockets[1].last("phx_join");
  sockets[1].serverSends(reply(second));
  sockets[1].serverSends({ topic: "realtime:x", event: "phx_close", payload: {}, ref: null, join_ref: first.join_ref });
  assert.equal(channel.state, "joined");
  sockets[1].serverSends({ topic: "realtime:x", event: "phx_close", payload: {}, ref: null, join_ref: second.join_ref });
  assert.equal(channel.state, "closed");
  assert.deepEqual(got, ["closed"]);
});

test("disconnect closes for good: no reconnect", () => {
  const { socket, sockets, timers } = setup();
  socket.connect();
  sockets[0].open();
  socket.disconnect();
  timers.advance(60000);
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].closedWith, 1000);
});
