// Test doubles for the realtime client: a WebSocket that records what is sent, and manual timers.

export class FakeTimers {
  constructor() {
    this.now = 0;
    this.next = 1;
    this.pending = new Map();
  }

  setTimeout = (callback, ms) => {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  };

  clearTimeout = (id) => {
    this.pending.delete(id);
  };

  /** Moves the clock on by `ms`, running every timer that comes due, in time order. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = end;
  }
}

export function fakeWebSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close(code) {
      this.closedWith = code;
      this.readyState = 3;
    }
    // Test side:
    open() {
      this.readyState = 1;
      this.onopen?.();
    }
    serverSends(message) {
      this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
    }
    serverCloses(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code });
    }
    last(event) {
      return [...this.sent].reverse().find((m) => m.event === event);
    }
  }
  return { FakeWebSocket, sockets };
}
