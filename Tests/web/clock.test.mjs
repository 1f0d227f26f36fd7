// The server-time offset behind the room countdown (assets/clock.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ServerClock, parseTimestamp, formatSeconds } from "../../Sources/PraxisWeb/Resources/web/assets/clock.js";

test("parses the server's microsecond UTC timestamps and ISO offsets", () => {
  assert.equal(parseTimestamp("2026-11-23T20:03:00.123456Z"), Date.UTC(2026, 10, 23, 20, 3, 0, 123));
  assert.equal(parseTimestamp("2026-11-23T20:03:00Z"), Date.UTC(2026, 10, 23, 20, 3, 0));
  assert.equal(parseTimestamp("2026-11-23T21:03:00.5+01:00"), Date.UTC(2026, 10, 23, 20, 3, 0, 500));
  assert.ok(Number.isNaN(parseTimestamp("yesterday")));
  assert.ok(Number.isNaN(parseTimestamp(null)));
});

test("a browser clock 10 minutes fast still counts down the server's deadline", () => {
  const server = Date.UTC(2026, 10, 23, 20, 0, 0);
  let local = server + 10 * 60 * 1000; // wrong browser clock
  const clock = new ServerClock(() => local);
  clock.update("2026-11-23T20:00:00.000000Z", local - 200, local); // reply took 200 ms
  // The server read its clock about halfway through the round trip.
  assert.equal(clock.offsetMs, -(10 * 60 * 1000) + 100);
  assert.equal(clock.secondsLeft("2026-11-23T20:03:00.000000Z"), 180);
  local += 60_000;
  assert.equal(clock.secondsLeft("2026-11-23T20:03:00.000000Z"), 120);
  local += 10 * 60_000;
  assert.equal(clock.secondsLeft("2026-11-23T20:03:00.000000Z"), 0);
  assert.equal(clock.secondsLeft(null), null);
});

test("a browser clock that is slow works the same", () => {
  let local = Date.UTC(2020, 0, 1);
  const clock = new ServerClock(() => local);
  clock.update("2026-11-23T20:00:00Z", undefined, local);
  assert.equal(clock.secondsLeft("2026-11-23T20:05:00Z"), 300);
  local += 1500;
  assert.equal(clock.secondsLeft("2026-11-23T20:05:00Z"), 299); // 298.5 s rounds up
});

test("a missing or malformed server_time leaves the offset alone", () => {
  const clock = new ServerClock(() => 1000);
  clock.update("2026-11-23T20:00:00Z", undefined, 1000);
  const offset = clock.offsetMs;
  clock.update(undefined);
  clock.update("garbage");
  assert.equal(clock.offsetMs, offset);
});

test("formats seconds as m:ss and h:mm:ss", () => {
  assert.deepEqual([0, 9, 65, 300, 3725, -4].map(formatSeconds), ["0:00", "0:09", "1:05", "5:00", "1:02:05", "0:00"]);
});
