// The server's clock as seen from the browser: countdowns use the server's `deadline` and
// `server_time`, so they are right even when the browser's clock is not.

/** Milliseconds since 1970 of a server timestamp (`2026-11-23T20:03:00.123456Z`); NaN if not one. */
export function parseTimestamp(text) {
  if (typeof text !== "string") return NaN;
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!match) return NaN;
  const millis = (match[2] ?? "").padEnd(3, "0").slice(0, 3);
  return Date.parse(`${match[1]}.${millis}${match[3]}`);
}

/** Tracks the offset between the server's clock and this one (`now` injectable for tests). */
export class ServerClock {
  constructor(now = () => Date.now()) {
    this.localNow = now;
    this.offsetMs = 0;
  }

  /**
   * Takes a `server_time` from a reply to a request sent at `sentAt` and received at
   * `receivedAt` (local ms): the server read its clock about halfway between.
   */
  update(serverTime, sentAt, receivedAt = this.localNow()) {
    const server = parseTimestamp(serverTime);
    if (Number.isNaN(server)) return;
    const local = sentAt === undefined ? receivedAt : (sentAt + receivedAt) / 2;
    this.offsetMs = server - local;
  }

  /** The server's time now, in ms. */
  now() {
    return this.localNow() + this.offsetMs;
  }

  /** Whole seconds left until `deadline` (a server timestamp), never below 0; null without one. */
  secondsLeft(deadline) {
    const end = parseTimestamp(deadline);
    if (Number.isNaN(end)) return null;
    return Math.max(0, Math.ceil((end - this.now()) / 1000));
  }
}

/** `m:ss` (or `h:mm:ss`) for a number of seconds. */
export function formatSeconds(total) {
  const seconds = Math.max(0, Math.floor(total));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
