// A small Phoenix Channels client (vsn 1.0.0, JSON objects) for Praxis' realtime endpoint.
// See protocol/realtime.md and protocol/room.md. No dependencies; the WebSocket constructor and
// the timers can be injected, so the unit tests (Tests/web) drive it without a network.

/** Encodes one Phoenix message as vsn 1.0.0 JSON. */
export function encode({ topic, event, payload = {}, ref = null, join_ref = null }) {
  return JSON.stringify({ topic, event, payload, ref, join_ref });
}

/** Decodes one vsn 1.0.0 message; refs that are numbers become strings. Null when malformed. */
export function decode(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (!message || typeof message !== "object" || Array.isArray(message)) return null;
  if (typeof message.topic !== "string" || typeof message.event !== "string") return null;
  const ref = (value) => (value === undefined || value === null ? null : String(value));
  return {
    topic: message.topic,
    event: message.event,
    payload: message.payload ?? {},
    ref: ref(message.ref),
    join_ref: ref(message.join_ref),
  };
}

/** Delays between reconnect attempts: quick at first, then at most 5 s. */
export function reconnectDelay(tries) {
  return [250, 500, 1000, 2000][tries - 1] ?? 5000;
}

/** The error a refused push or join rejects with (`reason` is the server's). */
export class PushError extends Error {
  constructor(reason, response = {}) {
    super(reason);
    this.reason = reason;
    this.response = response;
  }
}

/**
 * One WebSocket to the realtime endpoint, shared by its channels. Sends a heartbeat every
 * `heartbeatMs`; a heartbeat not answered by the next one closes the socket, which then
 * reconnects (with `reconnectDelay`) and rejoins every channel that was joined.
 */
export class Socket {
  constructor(url, options = {}) {
    this.url = url;
    this.params = options.params ?? {};
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.heartbeatMs = options.heartbeatMs ?? 25000;
    this.timers = options.timers ?? { setTimeout: globalThis.setTimeout.bind(globalThis), clearTimeout: globalThis.clearTimeout.bind(globalThis) };
    this.reconnectDelay = options.reconnectDelay ?? reconnectDelay;
    this.channels = [];
    this.ref = 0;
    this.ws = null;
    this.tries = 0;
    this.wanted = false;
    this.pendingHeartbeat = null;
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
    this.listeners = { open: [], close: [], message: [] };
  }

  /** A new message ref ("1", "2", …). */
  makeRef() {
    this.ref += 1;
    return String(this.ref);
  }

  /** `open`, `close` or `message` callbacks. */
  on(kind, callback) {
    this.listeners[kind].push(callback);
  }

  get isConnected() {
    return this.ws !== null && this.ws.readyState === 1;
  }

  endpointURL() {
    const query = new URLSearchParams({ ...this.params, vsn: "1.0.0" });
    return `${this.url}?${query}`;
  }

  connect() {
    this.wanted = true;
    if (this.ws) return;
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = new this.WebSocket(this.endpointURL());
    this.ws = ws;
    ws.onopen = () => this.opened(ws);
    ws.onmessage = (event) => this.received(event.data);
    ws.onclose = (event) => this.closed(ws, event);
    ws.onerror = () => {};
  }

  /** Closes for good (no reconnect). */
  disconnect() {
    this.wanted = false;
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    if (ws) {
      this.closed(ws, { code: 1000, reason: "closed by the client" });
      ws.onclose = null;
      ws.close(1000);
    }
  }

  /** Drops the connection as a network failure would (the page's reconnect test hook). */
  drop() {
    const ws = this.ws;
    if (ws) {
      this.closed(ws, { code: 1006, reason: "dropped" });
      ws.onclose = null;
      ws.close(4000);
    }
  }

  opened(ws) {
    if (ws !== this.ws) return;
    this.tries = 0;
    this.scheduleHeartbeat();
    for (const callback of this.listeners.open) callback();
    for (const channel of this.channels) channel.socketOpened();
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.timers.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.pendingHeartbeat = null;
    for (const channel of this.channels) channel.socketClosed();
    for (const callback of this.listeners.close) callback(event);
    if (this.wanted) {
      this.tries += 1;
      this.reconnectTimer = this.timers.setTimeout(() => {
        this.reconnectTimer = null;
        if (this.wanted) this.connect();
      }, this.reconnectDelay(this.tries));
    }
  }

  scheduleHeartbeat() {
    this.timers.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = this.timers.setTimeout(() => this.heartbeat(), this.heartbeatMs);
  }

  heartbeat() {
    this.heartbeatTimer = null;
    if (!this.isConnected) return;
    if (this.pendingHeartbeat !== null) {
      // The last one was never answered: the connection is dead even if the socket says not.
      this.drop();
      return;
    }
    this.pendingHeartbeat = this.makeRef();
    this.send({ topic: "phoenix", event: "heartbeat", payload: {}, ref: this.pendingHeartbeat });
    this.scheduleHeartbeat();
  }

  /** Sends a message when connected; false when it could not be sent. */
  send(message) {
    if (!this.isConnected) return false;
    this.ws.send(encode(message));
    return true;
  }

  received(text) {
    const message = decode(text);
    if (!message) return;
    if (message.topic === "phoenix" && message.event === "phx_reply" && message.ref === this.pendingHeartbeat) {
      this.pendingHeartbeat = null;
      return;
    }
    for (const callback of this.listeners.message) callback(message);
    for (const channel of this.channels) {
      if (channel.topic === message.topic) channel.received(message);
    }
  }

  /**
   * A channel on `topic`. `joinPayload` is a function called for every (re)join, so a rejoin
   * sends the current token and resume offset.
   */
  channel(topic, joinPayload = () => ({})) {
    const channel = new Channel(this, topic, joinPayload);
    this.channels.push(channel);
    return channel;
  }

  remove(channel) {
    this.channels = this.channels.filter((c) => c !== channel);
  }
}

/**
 * A Phoenix channel. States: closed → joining → joined; a dropped socket makes a joined channel
 * `errored`, and it rejoins when the socket reopens. Pushes made while not joined wait for the
 * join; pushes in flight when the socket drops are rejected with reason `disconnected` (room
 * commands carry client ids, so the caller may send them again).
 */
export class Channel {
  constructor(socket, topic, joinPayload) {
    this.socket = socket;
    this.topic = topic;
    this.joinPayload = joinPayload;
    this.state = "closed";
    this.joinRef = null;
    this.bindings = [];
    this.waiting = [];
    this.inFlight = new Map();
    this.joinWaiters = null;
    this.joinListeners = [];
    this.errorListeners = [];
    this.closeListeners = [];
  }

  /** `callback(payload, message)` for every server message with this event. */
  on(event, callback) {
    this.bindings.push({ event, callback });
  }

  /** `callback(payload)` for room/broadcast events called `event` ("*" for all). */
  onBroadcast(event, callback) {
    this.on("broadcast", (payload) => {
      if (event === "*" || payload.event === event) callback(payload.payload ?? {}, payload.event);
    });
  }

  /** Called with the ok response of every join, rejoins included. */
  onJoin(callback) {
    this.joinListeners.push(callback);
  }

  /** Called with the reason when a (re)join is refused. */
  onError(callback) {
    this.errorListeners.push(callback);
  }

  /** Called when the server closes the channel. */
  onClose(callback) {
    this.closeListeners.push(callback);
  }

  /** Joins; resolves with the ok response, rejects with a PushError. */
  join() {
    this.wanted = true;
    const promise = new Promise((resolve, reject) => {
      this.joinWaiters = { resolve, reject };
    });
    if (this.socket.isConnected) this.sendJoin();
    else this.socket.connect();
    return promise;
  }

  sendJoin() {
    this.state = "joining";
    this.joinRef = this.socket.makeRef();
    this.socket.send({
      topic: this.topic, event: "phx_join", payload: this.joinPayload(), ref: this.joinRef, join_ref: this.joinRef,
    });
  }

  socketOpened() {
    if (this.wanted && this.state !== "joined") this.sendJoin();
  }

  socketClosed() {
    if (this.state === "joined" || this.state === "joining") this.state = "errored";
    for (const [, push] of this.inFlight) push.reject(new PushError("disconnected"));
    this.inFlight.clear();
  }

  /** Sends `event` with `payload`; resolves with the ok response, rejects with a PushError. */
  push(event, payload = {}) {
    return new Promise((resolve, reject) => {
      const push = { event, payload, resolve, reject };
      if (this.state === "joined" && this.socket.isConnected) this.sendPush(push);
      else this.waiting.push(push);
    });
  }

  sendPush(push) {
    const ref = this.socket.makeRef();
    this.inFlight.set(ref, push);
    this.socket.send({ topic: this.topic, event: push.event, payload: push.payload, ref, join_ref: this.joinRef });
  }

  /** Leaves the channel (no rejoin). */
  leave() {
    this.wanted = false;
    if (this.state === "joined" && this.socket.isConnected) {
      this.socket.send({ topic: this.topic, event: "phx_leave", payload: {}, ref: this.socket.makeRef(), join_ref: this.joinRef });
    }
    this.state = "closed";
    for (const push of this.waiting) push.reject(new PushError("left"));
    this.waiting = [];
    this.socket.remove(this);
  }

  received(message) {
    if (message.event === "phx_reply" && message.ref === this.joinRef && this.state === "joining") {
      this.joinReplied(message.payload);
      return;
    }
    if (message.join_ref !== null && message.join_ref !== this.joinRef) return; // an earlier membership
    if (message.event === "phx_reply") {
      const push = this.inFlight.get(message.ref);
      if (!push) return;
      this.inFlight.delete(message.ref);
      const { status, response = {} } = message.payload;
      if (status === "ok") push.resolve(response);
      else push.reject(new PushError(response.reason ?? "refused", response));
      return;
    }
    if (message.event === "phx_close") {
      this.state = "closed";
      this.wanted = false;
      for (const callback of this.closeListeners) callback(message.payload);
      return;
    }
    if (message.event === "phx_error") {
      this.state = "errored";
      return;
    }
    for (const binding of this.bindings) {
      if (binding.event === message.event) binding.callback(message.payload, message);
    }
  }

  joinReplied({ status, response = {} }) {
    const waiters = this.joinWaiters;
    this.joinWaiters = null;
    if (status !== "ok") {
      this.state = "closed";
      this.wanted = false;
      const error = new PushError(response.reason ?? "join refused", response);
      for (const callback of this.errorListeners) callback(error.reason);
      waiters?.reject(error);
      return;
    }
    this.state = "joined";
    for (const callback of this.joinListeners) callback(response);
    waiters?.resolve(response);
    const waiting = this.waiting;
    this.waiting = [];
    for (const push of waiting) this.sendPush(push);
  }
}
