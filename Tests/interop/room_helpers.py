"""Helpers for the practice-room interop tests (protocol/room.md).

Two kinds of room client:

- `RoomPeer`: a raw Phoenix Channels client (realtime_helpers.Phoenix) joined to
  `realtime:room:<id>`. It keeps every message, so a test can assert exact replies, offsets and
  events, join with `config.praxis.resume.offset` (realtime-py cannot send it: its join payload
  replaces `config` wholesale), fire bursts of commands without waiting, and drop its socket.
- `RoomChannel`: the unmodified realtime-py channel API (`on_broadcast`, `push(...).receive(...)`)
  on an `AsyncRealtimeClient` — plain or the one inside supabase-py's async client — whose socket is
  wrapped by `record_frames` so that every frame the library received is kept, as the user's
  device received it (realtime-py parses ok replies into `ReplyPostgresChanges`, which drops the
  `seq`/`offset`/`repeated` fields of a room reply and the join snapshot, so those are read from the
  recorded frames by the push's ref).

Waits are bounded and event driven (an asyncio.Event set by the reader / the callbacks); nothing
sleeps and hopes.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from realtime import AsyncRealtimeClient
from realtime.types import RealtimeAcknowledgementStatus as Ack

from helpers import Account, db_rows, make_room, user_with_profile
from realtime_helpers import Phoenix, realtime_url

WAIT = 10.0
ROOM_EVENTS = ("presence", "ready", "timing", "case_chosen", "phase", "turn", "round_ended", "stage",
               "assessment", "left", "no_show")
PHASES = ("waiting", "preparation", "roleplay", "ended")

OET_CLINICAL = (
    "Relationship Building",
    "Understanding and Incorporating the Patient's Perspective",
    "Providing Structure",
    "Information Gathering",
    "Information Giving",
)
OET_LINGUISTIC = (
    "Intelligibility",
    "Fluency",
    "Appropriateness of Language",
    "Resources of Grammar and Expression",
)


# ---------------------------------------------------------------- time


def parse_ts(value: str) -> datetime:
    """A server timestamp (`2026-11-23T20:03:00.000000Z`) as an aware datetime."""
    assert isinstance(value, str), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def seconds_between(a: str | datetime, b: str | datetime) -> float:
    """b - a in seconds."""
    a = parse_ts(a) if isinstance(a, str) else a
    b = parse_ts(b) if isinstance(b, str) else b
    return (b - a).total_seconds()


def seconds_until(moment: str | datetime) -> float:
    moment = parse_ts(moment) if isinstance(moment, str) else moment
    return (moment - now_utc()).total_seconds()


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- accounts, rooms, cases


def take_seat(guest: Account, room: dict) -> dict:
    """The guest takes the free seat through the room's link, as the app does."""
    rows = guest.client.table("practice_rooms").update({"guest_id": guest.id}) \
        .eq("room_url", room["room_url"]).execute().data
    assert len(rows) == 1 and rows[0]["guest_id"] == guest.id, rows
    return rows[0]


@dataclass
class Seated:
    host: Account
    guest: Account
    room: dict

    @property
    def id(self) -> str:
        return self.room["id"]


def seated_room(server, prefix: str = "room", **fields: Any) -> Seated:
    """Two fresh users with profiles; the first hosts a room, the second takes its guest seat."""
    host = user_with_profile(server, f"{prefix}host")
    guest = user_with_profile(server, f"{prefix}guest")
    room = make_room(host, **fields)
    room = take_seat(guest, room)
    return Seated(host, guest, room)


@dataclass(frozen=True)
class Case:
    id: str
    case_name: str
    domain: str
    target_profession: str
    difficulty_level: str
    candidate_brief: str
    actor_brief: str

    def public(self) -> dict:
        """The case as room events and replies show it."""
        return {"id": self.id, "case_name": self.case_name, "domain": self.domain,
                "target_profession": self.target_profession, "difficulty_level": self.difficulty_level}

    def brief(self, role: str) -> str:
        return self.candidate_brief if role == "candidate" else self.actor_brief


def published_cases(server) -> list[Case]:
    """Every published case, with both brief texts, read straight from the database (read-only)."""
    rows = db_rows(
        server,
        "SELECT id, case_name, domain, target_profession, difficulty_level, candidate_brief, actor_brief "
        "FROM case_briefs WHERE status = 'published' ORDER BY case_name_internal")
    return [Case(*row) for row in rows]


def case_by_id(server, case_id: str) -> Case:
    rows = db_rows(
        server,
        "SELECT id, case_name, domain, target_profession, difficulty_level, candidate_brief, actor_brief "
        "FROM case_briefs WHERE id = ?", (case_id,))
    assert rows, f"no case {case_id}"
    return Case(*rows[0])


def client_id(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- event-driven waiting


async def wait_in(items: list, arrived: asyncio.Event, predicate: Callable[[Any], bool], timeout: float,
                  start: int = 0, what: str = "an item", closed: Callable[[], bool] = lambda: False,
                  describe: Callable[[], str] = lambda: "") -> tuple[int, Any]:
    """The first item at index ≥ start matching `predicate`, waiting (event driven) up to `timeout` s."""
    deadline = time.monotonic() + timeout
    index = start
    while True:
        while index < len(items):
            if predicate(items[index]):
                return index, items[index]
            index += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0 or closed():
            raise AssertionError(f"no {what} within {timeout:.1f} s (closed: {closed()}); received:\n{describe()}")
        arrived.clear()
        try:
            await asyncio.wait_for(arrived.wait(), remaining)
        except TimeoutError:
            pass


# ---------------------------------------------------------------- the raw room peer


def room_join_payload(token: str | None, resume_offset: int | None = None, extra_config: dict | None = None) -> dict:
    """A join payload as realtime-py/supabase-js send it, plus the Praxis resume extension."""
    config: dict[str, Any] = {
        "broadcast": {"self": False, "ack": False},
        "presence": {"key": "", "enabled": False},
        "postgres_changes": [],
        "private": False,
    }
    if resume_offset is not None:
        config["praxis"] = {"resume": {"offset": resume_offset}}
    if extra_config:
        config.update(extra_config)
    payload: dict[str, Any] = {"config": config}
    if token is not None:
        payload["access_token"] = token
    return payload


@dataclass
class RoomEvent:
    name: str
    payload: dict
    index: int  # position in the peer's log


class RoomPeer:
    """One user's raw connection to a room channel."""

    def __init__(self, server, account: Account | None, room_id: str, phoenix: Phoenix):
        self.server = server
        self.account = account
        self.room_id = room_id
        self.phoenix = phoenix
        self.join_ref: str | None = None
        self.join_reply: dict | None = None
        self.snapshot: dict | None = None
        self.join_index = 0

    # ------------------------------------------------------------ connecting

    @property
    def topic(self) -> str:
        return f"realtime:room:{self.room_id}"

    @property
    def user_id(self) -> str:
        assert self.account is not None
        return self.account.id

    @classmethod
    async def connect(cls, server, account: Account | None, room_id: str, vsn: str = "1.0.0") -> "RoomPeer":
        return cls(server, account, room_id, await Phoenix.connect(server, vsn=vsn))

    @classmethod
    async def open(cls, server, account: Account | None, room_id: str, resume_offset: int | None = None,
                   vsn: str = "1.0.0", token: str | None = None) -> "RoomPeer":
        """Connects and joins; asserts the join is ok."""
        peer = await cls.connect(server, account, room_id, vsn)
        try:
            reply = await peer.join(resume_offset, token)
        except BaseException:
            await peer.close()
            raise
        if reply["payload"].get("status") != "ok":
            await peer.close()
            raise AssertionError(f"room join refused: {reply!r}")
        return peer

    async def join(self, resume_offset: int | None = None, token: str | None = None) -> dict:
        """Sends phx_join (with the account's token unless told) and returns the whole reply message."""
        if token is None and self.account is not None:
            token = self.account.access_token
        ref = self.phoenix.next_ref()
        self.join_index = len(self.phoenix.log)
        await self.phoenix.send(self.topic, "phx_join", room_join_payload(token, resume_offset), ref=ref, join_ref=ref)
        reply = await self.phoenix.reply(ref, self.topic)
        self.join_reply = reply
        if reply["payload"].get("status") == "ok":
            self.join_ref = ref
            self.snapshot = reply["payload"]["response"]
        return reply

    async def close(self) -> None:
        await self.phoenix.close()

    async def drop(self) -> None:
        """Loses the connection without a leave or a close frame (a dead network)."""
        transport = getattr(self.phoenix.ws, "transport", None)
        if transport is not None:
            transport.abort()
        await self.phoenix.close()

    # ------------------------------------------------------------ commands

    async def send(self, event: str, payload: dict) -> str:
        """Sends a push on the room topic without waiting; returns its ref."""
        ref = self.phoenix.next_ref()
        await self.phoenix.send(self.topic, event, payload, ref=ref, join_ref=self.join_ref)
        return ref

    def reply_for(self, ref: str) -> dict | None:
        for message in self.phoenix.log:
            if message.get("event") == "phx_reply" and message.get("ref") == ref and message.get("topic") == self.topic:
                return message["payload"]
        return None

    async def reply(self, ref: str, timeout: float = WAIT) -> dict:
        """The reply payload `{status, response}` to the push with this ref."""
        _, message = await self.wait(
            lambda m: m.get("event") == "phx_reply" and m.get("ref") == ref and m.get("topic") == self.topic,
            timeout, what=f"phx_reply to ref {ref}")
        return message["payload"]

    async def command(self, event: str, payload: dict, timeout: float = WAIT) -> dict:
        ref = await self.send(event, payload)
        return await self.reply(ref, timeout)

    async def ok(self, event: str, payload: dict, timeout: float = WAIT) -> dict:
        """Sends a command, asserts an ok reply of the documented shape, returns its response."""
        reply = await self.command(event, payload, timeout)
        assert reply.get("status") == "ok", f"{event} {payload!r} refused: {reply!r}"
        response = reply["response"]
        assert is_int(response.get("offset")), f"{event}: ok reply without an integer offset: {reply!r}"
        assert response.get("repeated") in (True, False), f"{event}: ok reply without repeated: {reply!r}"
        return response

    async def refused(self, event: str, payload: dict, reason: str | None = None, timeout: float = WAIT) -> str:
        """Sends a command, asserts an error reply `{reason}`, returns the reason."""
        reply = await self.command(event, payload, timeout)
        assert reply.get("status") == "error", f"{event} {payload!r} should be refused: {reply!r}"
        got = reply.get("response", {}).get("reason")
        assert isinstance(got, str) and got, f"{event}: error reply without a reason: {reply!r}"
        if reason is not None:
            assert got == reason, f"{event} {payload!r}: reason {got!r}, expected {reason!r}"
        return got

    async def heartbeat(self) -> None:
        reply = await self.phoenix.heartbeat()
        assert reply["payload"]["status"] == "ok", reply

    # ------------------------------------------------------------ what arrived

    def events(self, name: str | None = None, start: int = 0) -> list[RoomEvent]:
        """Room events (broadcasts on the room topic) in arrival order, `brief` excluded."""
        found = []
        for index in range(start, len(self.phoenix.log)):
            message = self.phoenix.log[index]
            if message.get("topic") != self.topic or message.get("event") != "broadcast":
                continue
            body = message.get("payload") or {}
            event = body.get("event")
            if event == "brief" or (name is not None and event != name):
                continue
            found.append(RoomEvent(event, body.get("payload"), index))
        return found

    def payloads(self, name: str, start: int = 0) -> list[dict]:
        return [event.payload for event in self.events(name, start)]

    def briefs(self) -> list[dict]:
        """`brief` messages: broadcasts with event `brief` on the room topic."""
        return [m["payload"]["payload"] for m in self.phoenix.log
                if m.get("topic") == self.topic and m.get("event") == "broadcast"
                and (m.get("payload") or {}).get("event") == "brief"]

    def offsets(self, start: int = 0) -> list[int]:
        return [event.payload.get("offset") for event in self.events(start=start)]

    def last_offset(self) -> int:
        """The last offset this peer saw: the snapshot's or a later event's."""
        seen = [self.snapshot["offset"]] if self.snapshot else []
        seen += [o for o in self.offsets(self.join_index) if is_int(o)]
        return max(seen)

    async def wait(self, predicate: Callable[[dict], bool], timeout: float = WAIT, start: int = 0,
                   what: str = "a message") -> tuple[int, dict]:
        return await wait_in(self.phoenix.log, self.phoenix._arrived, predicate, timeout, start, what,
                             closed=self.phoenix.closed.is_set, describe=self.phoenix.describe)

    async def wait_event(self, name: str, predicate: Callable[[dict], bool] = lambda p: True,
                         timeout: float = WAIT, start: int | None = None) -> dict:
        """The first room event `name` (at log index ≥ start, default: since the join) matching."""
        start = self.join_index if start is None else start

        def match(message: dict) -> bool:
            if message.get("topic") != self.topic or message.get("event") != "broadcast":
                return False
            body = message.get("payload") or {}
            return body.get("event") == name and predicate(body.get("payload") or {})

        _, message = await self.wait(match, timeout, start, what=f"room event {name}")
        return message["payload"]["payload"]

    async def wait_brief(self, timeout: float = WAIT) -> dict:
        _, message = await self.wait(
            lambda m: m.get("topic") == self.topic and m.get("event") == "broadcast"
            and (m.get("payload") or {}).get("event") == "brief", timeout, 0, what="a brief message")
        return message["payload"]["payload"]

    def texts(self) -> list[str]:
        """Every string in every message this connection received."""
        return [text for message in self.phoenix.raw for text in strings_in(message)]


async def snapshot_of(server, account: Account, room_id: str) -> dict:
    """The room snapshot a fresh join by `account` answers with (the connection is closed after).
    Only use while the same user has another connection in the room (so presence does not move)."""
    peer = await RoomPeer.open(server, account, room_id)
    try:
        return peer.snapshot
    finally:
        await peer.close()


def comparable(snapshot: dict) -> dict:
    """A snapshot without the fields that move with the clock or the caller's connection."""
    copy = json.loads(json.dumps(snapshot))
    copy.get("room", {}).pop("server_time", None)
    return copy


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def strictly_increasing(values: list) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


# ---------------------------------------------------------------- realtime-py with a frame recorder


class RecordingConnection:
    """Wraps a websockets ClientConnection: every frame iterated (received) or sent is kept."""

    def __init__(self, ws, received: list, sent: list, arrived: asyncio.Event):
        self._ws = ws
        self._received = received
        self._sent = sent
        self._arrived = arrived

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        async for frame in self._ws:
            self._received.append(frame)
            self._arrived.set()
            yield frame

    async def send(self, message, *args, **kwargs):
        self._sent.append(message)
        return await self._ws.send(message, *args, **kwargs)

    async def recv(self, *args, **kwargs):
        frame = await self._ws.recv(*args, **kwargs)
        self._received.append(frame)
        self._arrived.set()
        return frame


@dataclass
class Frames:
    received: list = field(default_factory=list)
    sent: list = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def decoded(self) -> list[Any]:
        return [json.loads(frame) for frame in self.received]

    def texts(self) -> list[str]:
        return [text for message in self.decoded() for text in strings_in(message)] + list(self.received)


def record_frames(client: AsyncRealtimeClient) -> Frames:
    """Makes `client` (an AsyncRealtimeClient, also the one inside a supabase async client) keep every
    frame its socket receives and sends. Call before the client connects."""
    frames = Frames()
    original = client._on_connect

    async def on_connect() -> None:
        ws = client._ws_connection
        if ws is not None and not isinstance(ws, RecordingConnection):
            client._ws_connection = RecordingConnection(ws, frames.received, frames.sent, frames.arrived)
        await original()

    client._on_connect = on_connect  # instance attribute: connect() calls self._on_connect()
    return frames


async def recording_realtime_client(server, token: str) -> tuple[AsyncRealtimeClient, Frames]:
    client = AsyncRealtimeClient(realtime_url(server), server.anon_key, auto_reconnect=False, max_retries=1,
                                 timeout=int(WAIT))
    frames = record_frames(client)
    await client.set_auth(token)
    await asyncio.wait_for(client.connect(), WAIT)
    return client, frames


class EventLog:
    """Filled by realtime-py callbacks; waits are event driven."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict]] = []
        self.arrived = asyncio.Event()

    def callback(self, name: str) -> Callable[[dict], None]:
        def on_broadcast(message: dict) -> None:
            self.items.append((message["event"], message["payload"]))
            self.arrived.set()
        return on_broadcast

    def of(self, name: str) -> list[dict]:
        return [payload for event, payload in self.items if event == name]

    async def wait(self, name: str, predicate: Callable[[dict], bool] = lambda p: True,
                   timeout: float = WAIT, start: int = 0) -> dict:
        _, item = await wait_in(self.items, self.arrived, lambda it: it[0] == name and predicate(it[1]), timeout,
                                start, what=f"room event {name}",
                                describe=lambda: "\n".join(json.dumps(it)[:300] for it in self.items[-30:]))
        return item[1]


class RoomChannel:
    """A room channel through realtime-py's own API."""

    def __init__(self, channel, frames: Frames, room_id: str):
        """`channel`: `client.channel(f"room:{room_id}")` of realtime-py or supabase-py (not yet subscribed)."""
        self.frames = frames
        self.room_id = room_id
        self.channel = channel
        self.log = EventLog()
        self.everything = EventLog()
        self.callback_payloads: list[Any] = []
        for name in ROOM_EVENTS + ("brief",):
            self.channel.on_broadcast(name, self.log.callback(name))
        self.channel.on_broadcast("*", self.everything.callback("*"))
        self.snapshot: dict | None = None
        self.states: list[tuple[Any, Any]] = []

    @property
    def topic(self) -> str:
        return f"realtime:room:{self.room_id}"

    async def subscribe(self) -> dict:
        """Subscribes through realtime-py; returns the join reply's full response (from the frames)."""
        await asyncio.wait_for(self.channel.subscribe(lambda state, error: self.states.append((state, error))),
                               WAIT + 2)
        assert self.states and getattr(self.states[0][0], "value", None) == "SUBSCRIBED", self.states
        reply = self.raw_reply(self.channel.join_push.ref)
        assert reply is not None and reply["status"] == "ok", reply
        self.snapshot = reply["response"]
        return self.snapshot

    def raw_reply(self, ref: str | None) -> dict | None:
        for message in self.frames.decoded():
            if isinstance(message, dict) and message.get("event") == "phx_reply" and message.get("ref") == ref \
                    and message.get("topic") == self.topic:
                return message["payload"]
        return None

    async def command(self, event: str, payload: dict, timeout: float = WAIT) -> tuple[str, dict]:
        """`channel.push(event, payload)` with `.receive("ok" / "error" / "timeout", cb)`; returns
        (status, the full response from the reply frame)."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future = loop.create_future()

        def settle(status: str) -> Callable[..., None]:
            def callback(*args: Any) -> None:
                self.callback_payloads.append((event, status, args))
                if not outcome.done():
                    outcome.set_result(status)
            return callback

        push = await self.channel.push(event, payload)
        push.receive(Ack.Ok, settle("ok")).receive(Ack.Error, settle("error")) \
            .receive(Ack.Timeout, settle("timeout"))
        status = await asyncio.wait_for(outcome, timeout + 2)
        assert status != "timeout", f"{event}: no reply within realtime-py's push timeout"
        reply = self.raw_reply(push.ref)
        assert reply is not None and reply["status"] == status, (status, reply)
        return status, reply["response"]

    async def ok(self, event: str, payload: dict) -> dict:
        status, response = await self.command(event, payload)
        assert status == "ok", f"{event} {payload!r} refused: {response!r}"
        assert is_int(response.get("offset")) and response.get("repeated") in (True, False), response
        return response

    async def refused(self, event: str, payload: dict) -> str:
        status, response = await self.command(event, payload)
        assert status == "error", f"{event} {payload!r} should be refused: {response!r}"
        assert isinstance(response.get("reason"), str) and response["reason"], response
        return response["reason"]

    def texts(self) -> list[str]:
        texts = self.frames.texts()
        for item in self.log.items + self.everything.items:
            texts += strings_in(item)
        for item in self.callback_payloads:
            texts += strings_in(repr(item))
        return texts


# ---------------------------------------------------------------- leak checks


def strings_in(value: Any) -> list[str]:
    """Every string (keys included) inside a decoded JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *strings_in(v)]]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings_in(v)]
    return []


def fragments(text: str, size: int = 40) -> list[str]:
    """The whole text and consecutive slices of it, so a partial copy is caught too."""
    text = text.strip()
    pieces = [text[i:i + size] for i in range(0, max(len(text) - size, 0) + 1, size // 2)]
    return [text] + [p for p in pieces if p.strip()]


def assert_never_seen(texts: list[str], secret: str, label: str, allowed: list[str] = ()) -> None:
    """No whole or partial copy (40-character slices) of `secret` in any of `texts`. Slices that also
    occur in an allowed text (the user's own brief, the case name, turns) are not evidence."""
    corpus = "\x00".join(texts)
    allowed_corpus = "\x00".join(allowed)
    for piece in fragments(secret):
        if piece in allowed_corpus:
            continue
        if piece in corpus:
            where = corpus.index(piece)
            raise AssertionError(f"{label} leaked: {piece!r} appears in …{corpus[max(0, where - 120):where + 160]!r}…")


def assert_seen(texts: list[str], text: str, label: str) -> None:
    assert any(text in t for t in texts), f"{label} was never received"


# ---------------------------------------------------------------- a fake OpenAI-compatible assessor


class FakeAssessor:
    """A chat-completions endpoint on 127.0.0.1 (any POST path). What it answers is chosen per request
    by a marker in the request body (`[[assess:<mode>]]`, which the tests put into a candidate turn);
    without a known marker it answers 500."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.modes: dict[str, Callable[[dict], tuple[int, bytes, float]]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                record = {"path": self.path, "headers": dict(self.headers), "body": parsed,
                          "raw": body.decode("utf-8", "replace"), "at": time.monotonic()}
                with fake._lock:
                    fake.requests.append(record)
                    handler = None
                    for mode, answer in fake.modes.items():
                        if f"[[assess:{mode}]]" in record["raw"]:
                            handler = answer
                status, payload, delay = (handler(record) if handler
                                          else (500, b'{"error": {"message": "no mode"}}', 0.0))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/chat/completions"

    def requests_for(self, mode: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if f"[[assess:{mode}]]" in r["raw"]]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def chat_completion(content: str, model: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }).encode()


def model_assessment(evidence: dict[str, list[str]], scores: dict[str, int]) -> dict:
    """A complete assessment in the documented shape, as a model would write it."""
    criteria = []
    for name in OET_CLINICAL:
        criteria.append({"name": name, "kind": "clinical", "max": 3, "score": scores[name],
                         "evidence": evidence.get(name, []), "note": f"model note on {name}"})
    for name in OET_LINGUISTIC:
        criteria.append({"name": name, "kind": "linguistic", "max": 6, "score": None, "evidence": [],
                         "note": "not judged: needs the audio"})
    return {
        "criteria": criteria,
        "score_raw": sum(scores.values()),
        "score_max": 15,
        "summary": "MODEL SUMMARY: a warm, structured consultation.",
        "strengths": ["MODEL STRENGTH: introduced themselves clearly"],
        "areas_for_improvement": ["MODEL AREA: check understanding more often"],
    }
