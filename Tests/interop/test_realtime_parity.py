"""Realtime at parity with Supabase Realtime as 2026 clients use it (issue 16).

- REST broadcast with unmodified realtime-py 2.34.1 (`channel.http_send`) and the batch form over
  httpx: delivery to socket subscribers, the topic rules for private channels, Supabase's errors.
- The limits with Supabase's reasons (channels, joins, messages and presence per second, payload size).
- vsn 2.0.0 binary broadcasts (`user_broadcast_push` in, `user_broadcast` out) over raw frames.

"Nothing was delivered" is asserted without sleeping: after the refused message an allowed one is
sent on the same path, and the subscriber must see only that one (delivery is in order).
"""
from __future__ import annotations

import asyncio
import json
import struct
import time

import httpx
import pytest
import websockets
from realtime import RealtimeHTTPError

from conftest import start_server
from helpers import user_with_profile
from realtime_helpers import MAX_WAIT, Phoenix, Sink, close_all, join_payload, realtime_client, subscribe, websocket_url

pytestmark = pytest.mark.timeout(90)

API = "/realtime/v1/api/broadcast"


def options(private: bool = False, self_: bool = False, ack: bool = False) -> dict:
    return {"config": {"broadcast": {"self": self_, "ack": ack}, "presence": {"key": "", "enabled": False}, "private": private}}


def headers(server, token: str | None = None, content_type: str = "application/json") -> dict[str, str]:
    value = {"apikey": server.anon_key, "Content-Type": content_type}
    if token:
        value["Authorization"] = f"Bearer {token}"
    return value


def seen(sink: Sink) -> list[tuple[str, object]]:
    return [(item["event"], item["payload"]) for item in sink.items]


async def post(*args, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(timeout=MAX_WAIT) as client:
        return await client.post(*args, **kwargs)


# ====================================================================== REST broadcast


async def test_http_send_to_a_public_topic_reaches_socket_subscribers(server):
    listener = await realtime_client(server)
    sender = await realtime_client(server)
    try:
        sink = Sink()
        await subscribe(listener.channel("news", options()).on_broadcast("*", sink))
        # realtime-py posts /realtime/v1/api/broadcast/news/events/headline and expects 202.
        await sender.channel("news", options()).http_send("headline", {"text": "hello", "n": [1, 2.5, None]})
        await sink.wait_count(1)
        assert seen(sink) == [("headline", {"text": "hello", "n": [1, 2.5, None]})]
    finally:
        await close_all(listener, sender)


async def test_http_send_to_a_private_topic_is_accepted_only_for_an_allowed_sender(server):
    owner = user_with_profile(server, "owner")
    stranger = user_with_profile(server, "stranger")
    topic = f"user:{owner.id}"
    listener = await realtime_client(server, owner.access_token)
    try:
        sink = Sink()
        await subscribe(listener.channel(topic, options(private=True)).on_broadcast("*", sink))

        for token in (stranger.access_token, None):  # another user; the anon key alone
            refused = await realtime_client(server, token)
            try:
                with pytest.raises(RealtimeHTTPError) as error:
                    await refused.channel(topic, options(private=True)).http_send("secret", {"from": "intruder"})
                assert error.value.status == 403 and error.value.message == "Unauthorized", (error.value.status, error.value.message)
            finally:
                await close_all(refused)
        # The same stranger on the public channel of that topic: user:<id> is that user's in either case.
        public = await realtime_client(server, stranger.access_token)
        try:
            with pytest.raises(RealtimeHTTPError) as error:
                await public.channel(topic, options()).http_send("secret", {"from": "intruder"})
            assert error.value.status == 403
        finally:
            await close_all(public)

        allowed = await realtime_client(server, owner.access_token)
        try:
            await allowed.channel(topic, options(private=True)).http_send("note", {"from": "owner"})
        finally:
            await close_all(allowed)
        service = await realtime_client(server, server.service_key, key=server.service_key)
        try:
            await service.channel(topic, options(private=True)).http_send("note", {"from": "service"})
        finally:
            await close_all(service)
        await sink.wait_count(2)
        assert seen(sink) == [("note", {"from": "owner"}), ("note", {"from": "service"})], \
            "the refused attempts delivered nothing"
    finally:
        await close_all(listener)


async def test_a_private_message_never_reaches_the_public_channel_of_its_topic(server):
    owner = user_with_profile(server, "owner")
    listener = await realtime_client(server, owner.access_token)
    try:
        public, private = Sink(), Sink()
        await subscribe(listener.channel("board", options()).on_broadcast("*", public))
        other = await realtime_client(server, owner.access_token)
        try:
            await subscribe(other.channel("board", options(private=True)).on_broadcast("*", private))
            # A third client sends (realtime-py keeps one channel per topic on a client).
            first, second = await realtime_client(server, owner.access_token), await realtime_client(server, owner.access_token)
            await first.channel("board", options(private=True)).http_send("p", {"n": 1})
            await second.channel("board", options()).http_send("q", {"n": 2})
            await public.wait_count(1)
            await private.wait_count(1)
            assert seen(public) == [("q", {"n": 2})] and seen(private) == [("p", {"n": 1})]
            await close_all(first, second)
        finally:
            await close_all(other)
    finally:
        await close_all(listener)


async def test_batch_broadcast_is_all_or_nothing_under_the_topic_rules(server):
    owner = user_with_profile(server, "owner")
    stranger = user_with_profile(server, "stranger")
    listener = await realtime_client(server, owner.access_token)
    try:
        mine, lobby = Sink(), Sink()
        await subscribe(listener.channel(f"user:{owner.id}", options(private=True)).on_broadcast("*", mine))
        await subscribe(listener.channel("lobby", options()).on_broadcast("*", lobby))
        batch = {"messages": [
            {"topic": "lobby", "event": "hi", "payload": {"n": 1}},
            {"topic": f"user:{owner.id}", "event": "steal", "payload": {"n": 2}, "private": True},
        ]}
        refused = await post(server.url + API, headers=headers(server, stranger.access_token), json=batch)
        assert refused.status_code == 403, refused.text
        body = refused.json()
        assert body["message"] == "Unauthorized" and "another user's channel" in body["details"], body

        accepted = await post(server.url + API, headers=headers(server, owner.access_token), json={"messages": [
            {"topic": "lobby", "event": "hi", "payload": {"n": 3}},
            {"topic": f"user:{owner.id}", "event": "mine", "payload": {"n": 4}, "private": True},
        ]})
        assert accepted.status_code == 202 and accepted.content == b"", accepted.text
        await lobby.wait_count(1)
        await mine.wait_count(1)
        assert seen(lobby) == [("hi", {"n": 3})] and seen(mine) == [("mine", {"n": 4})], \
            "nothing of the refused batch arrived, not even its public message"
    finally:
        await close_all(listener)


@pytest.mark.parametrize("case", ["no apikey", "bad bearer", "bad body", "no messages", "payload not an object",
                                  "bad path", "bad media type", "room topic", "binary topic over 255 bytes"])
async def test_rest_broadcast_errors_are_json_4xx(server, case):
    url, kwargs, status = {
        "no apikey": (API, {"headers": {"Content-Type": "application/json"}, "json": {"messages": []}}, 401),
        "bad bearer": (API + "/t/events/e", {"headers": headers(server, "x.y.z"), "json": {}}, 401),
        "bad body": (API, {"headers": headers(server), "content": b"{nope"}, 422),
        "no messages": (API, {"headers": headers(server), "json": {"messages": []}}, 422),
        "payload not an object": (API, {"headers": headers(server), "json": {"messages": [
            {"topic": "t", "event": "e", "payload": [1]}]}}, 422),
        "bad path": (API + "/t/e", {"headers": headers(server), "json": {}}, 422),
        "bad media type": (API + "/t/events/e", {"headers": headers(server, content_type="text/plain"), "content": b"x"}, 415),
        "room topic": (API + "/room:7f0c0000-0000-4000-8000-000000000000/events/e",
                       {"headers": headers(server), "json": {}}, 403),
        # realtime:<topic> must fit the one-byte size of a user_broadcast frame.
        "binary topic over 255 bytes": (API + "/" + "t" * 247 + "/events/e",
                                        {"headers": headers(server, content_type="application/octet-stream"), "content": b"x"}, 422),
    }[case]
    response = await post(server.url + url, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body


async def test_payload_and_rate_limits_answer_413_and_429_with_supabase_messages(tmp_path):
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-max-payload-bytes", "64",
                       "--realtime-api-broadcasts-per-second", "1")
    try:
        big = await post(srv.url + API + "/t/events/e", headers=headers(srv), json={"blob": "x" * 100})
        assert big.status_code == 413 and big.json()["message"] == "Payload size exceeds tenant limit", big.text
        batch = await post(srv.url + API, headers=headers(srv), json={"messages": [
            {"topic": "t", "event": "e", "payload": {}}, {"topic": "t", "event": "e", "payload": {}}]})
        assert batch.status_code == 429, batch.text
        assert batch.json()["message"] == "Too many messages to broadcast, please reduce the batch size"
        # One per second: of ten requests sent one after another, at most one more than the
        # whole seconds they took is accepted (however slow the machine), the rest get 429.
        started = time.monotonic()
        answers = [await post(srv.url + API + "/t/events/e", headers=headers(srv), json={}) for _ in range(10)]
        elapsed = time.monotonic() - started
        accepted = [a for a in answers if a.status_code == 202]
        refused = [a for a in answers if a.status_code != 202]
        assert answers[0].status_code == 202, answers[0].text
        assert 1 <= len(accepted) <= 1 + int(elapsed) + 1, (len(accepted), elapsed)
        assert refused or elapsed >= 9, "some of ten back-to-back requests are over 1/s"
        for answer in refused:
            assert answer.status_code == 429 and answer.json()["message"] == "You have exceeded your rate limit", answer.text
            assert answer.headers.get("retry-after") == "1"
    finally:
        srv.stop()


# ====================================================================== limits on the socket


async def test_channels_per_connection_limit_has_supabases_reason(tmp_path):
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-max-channels-per-connection", "2")
    client = await Phoenix.connect(srv)
    try:
        await client.join_ok("one", join_payload())
        await client.join_ok("two", join_payload())
        _, reply = await client.join("three", join_payload())
        assert reply["payload"] == {"status": "error", "response": {"reason": "ChannelRateLimitReached: Too many channels"}}
        _, again = await client.join("two", join_payload())  # rejoining a joined topic is no new channel
        assert again["payload"]["status"] == "ok", again
    finally:
        await close_all(client)
        srv.stop()


async def test_joins_per_second_limit_has_supabases_reason(tmp_path):
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-max-joins-per-second", "2")
    client = await Phoenix.connect(srv)
    try:
        refs = []
        for name in ("a", "b", "c"):  # sent back to back, well within one second
            ref = client.next_ref()
            refs.append(ref)
            await client.send(f"realtime:{name}", "phx_join", join_payload(), ref=ref, join_ref=ref)
        replies = [await client.reply(ref) for ref in refs]
        assert [r["payload"]["status"] for r in replies] == ["ok", "ok", "error"], replies
        assert replies[2]["payload"]["response"] == {"reason": "ClientJoinRateLimitReached: Too many joins per second"}
    finally:
        await close_all(client)
        srv.stop()


@pytest.mark.parametrize("kind", ["broadcast", "presence"])
async def test_message_rates_close_the_channel_with_a_system_error(tmp_path, kind):
    flag = "--realtime-max-messages-per-second" if kind == "broadcast" else "--realtime-max-presence-per-second"
    srv = start_server(tmp_path / "praxis.sqlite", flag, "2", "--ws-max-messages-per-second", "1000")
    client = await Phoenix.connect(srv)
    try:
        join_ref, _ = await client.join_ok("busy", join_payload())
        body = ({"type": "broadcast", "event": "e", "payload": {}} if kind == "broadcast"
                else {"type": "presence", "event": "track", "payload": {"n": 1}})
        for _ in range(3):
            await client.send("realtime:busy", kind, body, ref=client.next_ref(), join_ref=join_ref)
        _, system = await client.wait_for(lambda m: m["event"] == "system" and m["payload"].get("status") == "error",
                                          what="the system error")
        reason = "Too many messages per second" if kind == "broadcast" else "Too many presence messages per second"
        assert system["payload"] == {"status": "error", "extension": "system", "channel": "busy", "message": reason}
        _, close = await client.wait_for(lambda m: m["event"] == "phx_close", what="phx_close")
        assert close["topic"] == "realtime:busy" and close["join_ref"] == join_ref
        assert (await client.heartbeat())["payload"]["status"] == "ok", "the connection stays open"
    finally:
        await close_all(client)
        srv.stop()


async def test_the_server_wide_message_rate_closes_the_channel_that_goes_over_it(tmp_path):
    """--realtime-max-server-messages-per-second 2 (Supabase's per-tenant rate): two connections
    each well under their own rate; the pushes of both count against one bucket, and the
    channel that goes over it gets the system error and phx_close."""
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-max-server-messages-per-second", "2",
                       "--ws-max-messages-per-second", "1000")
    first = await Phoenix.connect(srv)
    second = await Phoenix.connect(srv)
    try:
        first_ref, _ = await first.join_ok("shared", join_payload())
        second_ref, _ = await second.join_ok("shared", join_payload())
        body = {"type": "broadcast", "event": "e", "payload": {}}
        for _ in range(2):
            await first.send("realtime:shared", "broadcast", body, ref=first.next_ref(), join_ref=first_ref)
        # However slowly these arrive, 22 pushes take far less than the 10 s they would need.
        for _ in range(20):
            await second.send("realtime:shared", "broadcast", body, ref=second.next_ref(), join_ref=second_ref)
        _, system = await second.wait_for(lambda m: m["event"] == "system" and m["payload"].get("status") == "error",
                                          what="the system error")
        assert system["payload"] == {"status": "error", "extension": "system", "channel": "shared",
                                     "message": "Too many messages per second"}
        _, close = await second.wait_for(lambda m: m["event"] == "phx_close", what="phx_close")
        assert close["topic"] == "realtime:shared" and close["join_ref"] == second_ref
        assert (await second.heartbeat())["payload"]["status"] == "ok", "the connection stays open"
    finally:
        await close_all(first, second)
        srv.stop()


async def test_an_oversized_socket_broadcast_is_refused_and_delivered_to_nobody(tmp_path):
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-max-payload-bytes", "200")
    sender = await Phoenix.connect(srv)
    receiver = await Phoenix.connect(srv)
    try:
        join_ref, _ = await sender.join_ok("big", join_payload())
        await receiver.join_ok("big", join_payload())
        ref = await sender.push("realtime:big", "broadcast", {"type": "broadcast", "event": "e", "payload": {"x": "y" * 300}},
                                join_ref=join_ref)
        refused = await sender.reply(ref)
        assert refused["payload"] == {"status": "error",
                                      "response": {"reason": "payload_size_exceeded: Payload size exceeds tenant limit"}}
        await sender.push("realtime:big", "broadcast", {"type": "broadcast", "event": "small", "payload": {}}, join_ref=join_ref)
        await receiver.wait_for(lambda m: m["event"] == "broadcast", what="the small broadcast")
        assert [m["payload"]["event"] for m in receiver.on("big", "broadcast")] == ["small"]
    finally:
        await close_all(sender, receiver)
        srv.stop()


# ====================================================================== vsn 2.0.0 binary broadcast


def user_broadcast_push(join_ref: str, ref: str, topic: str, event: str, payload: bytes, json_payload: bool = False,
                        metadata: bytes = b"") -> bytes:
    """Kind 3 as supabase-js's V2 serializer writes it."""
    fields = [join_ref.encode(), ref.encode(), topic.encode(), event.encode(), metadata]
    return bytes([3, *[len(f) for f in fields], 1 if json_payload else 0]) + b"".join(fields) + payload


def parse_user_broadcast(frame: bytes) -> dict:
    """Kind 4: 4, topic size, event size, metadata size, encoding, then the fields and the payload."""
    kind, topic_size, event_size, meta_size, encoding = struct.unpack("5B", frame[:5])
    assert kind == 4, frame
    at = 5
    topic = frame[at:at + topic_size].decode(); at += topic_size
    event = frame[at:at + event_size].decode(); at += event_size
    at += meta_size
    return {"topic": topic, "event": event, "json": encoding == 1, "payload": frame[at:]}


class Raw:
    """A raw connection that keeps text messages (decoded) and binary frames apart."""

    def __init__(self, ws, vsn: str):
        self.ws, self.vsn = ws, vsn
        self.text: list = []
        self.binary: list[bytes] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, server, vsn: str) -> "Raw":
        return cls(await websockets.connect(websocket_url(server, vsn=vsn), open_timeout=MAX_WAIT, max_size=None), vsn)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                (self.binary if isinstance(frame, bytes) else self.text).append(
                    frame if isinstance(frame, bytes) else json.loads(frame))
                self.arrived.set()
        finally:
            self.arrived.set()

    async def until(self, predicate, what: str):
        deadline = asyncio.get_running_loop().time() + MAX_WAIT
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"no {what}: text={self.text[-10:]} binary={self.binary[-5:]}"
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except TimeoutError:
                pass

    def messages(self) -> list[dict]:
        if self.vsn == "2.0.0":
            return [{"join_ref": m[0], "ref": m[1], "topic": m[2], "event": m[3], "payload": m[4]} for m in self.text]
        return self.text

    async def push(self, topic: str, event: str, payload: dict, ref: str, join_ref: str | None = None) -> dict:
        if self.vsn == "2.0.0":
            await self.ws.send(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            await self.ws.send(json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}))
        await self.until(lambda: any(m["ref"] == ref and m["event"] == "phx_reply" for m in self.messages()), f"reply {ref}")
        return next(m for m in self.messages() if m["ref"] == ref and m["event"] == "phx_reply")

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def test_binary_user_broadcasts_reach_v2_members_only(server):
    sender, v2, v1 = (await Raw.connect(server, "2.0.0"), await Raw.connect(server, "2.0.0"), await Raw.connect(server, "1.0.0"))
    try:
        for index, client in enumerate((sender, v2, v1)):
            ack = index == 0
            reply = await client.push("realtime:bin", "phx_join", join_payload(ack=ack), ref="1", join_ref="1")
            assert reply["payload"]["status"] == "ok", reply
        blob = bytes(range(256)) + b"\x00\xff"
        await sender.ws.send(user_broadcast_push("1", "2", "realtime:bin", "frame", blob))
        await sender.until(lambda: any(m["ref"] == "2" for m in sender.messages()), "the ack")
        await v2.until(lambda: v2.binary, "the binary broadcast")
        assert parse_user_broadcast(v2.binary[0]) == {"topic": "realtime:bin", "event": "frame", "json": False, "payload": blob}
        # A JSON user_broadcast_push reaches everyone as a text broadcast.
        await sender.ws.send(user_broadcast_push("1", "3", "realtime:bin", "note", b'{"n":1}', json_payload=True))
        await v1.until(lambda: any(m["event"] == "broadcast" for m in v1.messages()), "the JSON broadcast")
        await v2.until(lambda: any(m["event"] == "broadcast" for m in v2.messages()), "the JSON broadcast (v2)")
        assert [m["payload"] for m in v1.messages() if m["event"] == "broadcast"] == [
            {"event": "note", "payload": {"n": 1}, "type": "broadcast"}]
        assert v1.binary == [], "a v1 client never receives binary payloads"
        assert sender.binary == [], "self is false: the sender gets nothing back"
        # REST octet-stream: the same kind 4 frame for v2, nothing for v1.
        response = await post(server.url + API + "/bin/events/raw", headers=headers(server, content_type="application/octet-stream"),
                              content=b"\x01\x02")
        assert response.status_code == 202, response.text
        await v2.until(lambda: len(v2.binary) == 2, "the REST binary broadcast")
        assert parse_user_broadcast(v2.binary[1])["payload"] == b"\x01\x02"
        await post(server.url + API + "/bin/events/after", headers=headers(server), json={"k": 1})
        await v1.until(lambda: len([m for m in v1.messages() if m["event"] == "broadcast"]) == 2, "the later JSON broadcast")
        assert v1.binary == []
    finally:
        for client in (sender, v2, v1):
            await client.close()


@pytest.mark.parametrize("frame, reason", [
    (b"", "empty binary frame"),
    (bytes([0, 1, 1, 1]), "binary frames of kind 0 are not supported (only 3, user_broadcast_push)"),
    (bytes([3, 0, 0, 4]), "user_broadcast_push header is 7 bytes, the frame has 4"),
    (bytes([3, 1, 1, 200, 1, 0, 0]) + b"12t", "user_broadcast_push field sizes (1, 1, 200, 1, 0) run past the frame (10 bytes)"),
    (bytes([3, 255, 255, 255, 255, 255, 0]), "user_broadcast_push field sizes (255, 255, 255, 255, 255) run past the frame (7 bytes)"),
    (bytes([3, 0, 0, 1, 1, 0, 9]) + b"te", "payload encoding must be 0 (binary) or 1 (JSON), not 9"),
])
async def test_malformed_binary_frames_get_an_error_and_the_connection_lives(server, frame, reason):
    client = await Raw.connect(server, "2.0.0")
    try:
        await client.ws.send(frame)
        await client.until(lambda: client.messages(), "the phx_error")
        assert client.messages()[0] == {"join_ref": None, "ref": None, "topic": "phoenix", "event": "phx_error",
                                        "payload": {"reason": f"malformed binary message: {reason}"}}
        assert (await client.push("phoenix", "heartbeat", {}, ref="9"))["payload"]["status"] == "ok"
    finally:
        await client.close()


async def test_a_binary_push_needs_a_joined_topic_and_v1_cannot_send_binary(server):
    v2 = await Raw.connect(server, "2.0.0")
    v1 = await Raw.connect(server, "1.0.0")
    try:
        await v2.ws.send(user_broadcast_push("1", "5", "realtime:nowhere", "e", b"x"))
        await v2.until(lambda: v2.messages(), "the reply")
        assert v2.messages()[0]["payload"] == {"status": "error", "response": {"reason": "unmatched topic"}}
        assert v2.messages()[0]["ref"] == "5"
        await v1.ws.send(user_broadcast_push("1", "5", "realtime:nowhere", "e", b"x"))
        await v1.until(lambda: v1.messages(), "the phx_error")
        assert v1.messages()[0]["payload"] == {"reason": "binary messages are not supported"}
    finally:
        await v2.close()
        await v1.close()


# ====================================================================== readiness, payload forms


@pytest.mark.parametrize("flag", [True, "true"])
async def test_replication_ready_is_announced_at_once_when_asked(server, flag):
    client = await Phoenix.connect(server)
    try:
        payload = join_payload()
        payload["config"]["broadcast"]["replication_ready"] = flag
        ref, reply = await client.join("ready", payload)
        assert reply["payload"]["status"] == "ok", reply
        _, system = await client.wait_for(lambda m: m["event"] == "system", what="the replication ready message")
        assert system["payload"] == {"status": "ok", "extension": "system", "channel": "ready",
                                     "message": "Replication connection established"}
        _, state = await client.wait_for(lambda m: m["event"] == "presence_state", what="presence_state")
        assert client.log.index(system) < client.log.index(state)
        await client.join_ok("plain", join_payload())  # not asked: no such message
        assert (await client.heartbeat())["payload"]["status"] == "ok"
        assert [m for m in client.on("plain", "system")] == []
    finally:
        await close_all(client)


async def test_http_send_payloads_that_are_not_objects_arrive_wrapped_as_supabase_does(server):
    listener = await realtime_client(server)
    sender = await realtime_client(server)
    try:
        sink = Sink()
        await subscribe(listener.channel("values", options()).on_broadcast("*", sink))
        channel = sender.channel("values", options())
        for value in ("text", 42, [1, {"a": None}], {"ü": "✓"}):
            await channel.http_send("v", value)
        await sink.wait_count(4)
        assert [payload for _, payload in seen(sink)] == [{"_json": "text"}, {"_json": 42}, {"_json": [1, {"a": None}]}, {"ü": "✓"}]
    finally:
        await close_all(listener, sender)


# ====================================================================== broadcast replay


def replay_join(token: str, since: int = 0, limit: int | None = None) -> dict:
    payload = join_payload(access_token=token, private=True)
    payload["config"]["broadcast"]["replay"] = {"since": since, **({"limit": limit} if limit is not None else {})}
    return payload


def replayed(client: Phoenix, name: str) -> list[dict]:
    return [m["payload"] for m in client.on(name, "broadcast")]


async def test_replay_after_a_disconnect_returns_exactly_the_missed_broadcasts_and_survives_a_restart(tmp_path):
    db = tmp_path / "praxis.sqlite"
    srv = start_server(db)
    owner = user_with_profile(srv, "owner")
    name = f"user:{owner.id}"
    url = srv.url + API + f"/user%3A{owner.id}/events/"
    try:
        # Sent while nobody listens: over REST (private) and from a socket channel.
        for n in (1, 2):
            response = await post(url + "note?private=true", headers=headers(srv, owner.access_token), json={"n": n})
            assert response.status_code == 202, response.text
        talker = await Phoenix.connect(srv)
        join_ref, _ = await talker.join_ok(name, join_payload(access_token=owner.access_token, private=True))
        await talker.push(f"realtime:{name}", "broadcast", {"type": "broadcast", "event": "note", "payload": {"n": 3}}, join_ref=join_ref)
        await talker.heartbeat()

        listener = await Phoenix.connect(srv)
        _, reply = await listener.join(name, replay_join(owner.access_token, limit=2))
        assert reply["payload"]["status"] == "ok", reply
        await listener.wait_for(lambda m: len(listener.on(name, "broadcast")) >= 2, what="two replayed broadcasts")
        first = replayed(listener, name)
        assert [(p["event"], p["payload"], p["meta"]["replayed"]) for p in first] == [("note", {"n": 2}, True), ("note", {"n": 3}, True)]
        assert int(first[0]["meta"]["id"]) < int(first[1]["meta"]["id"])
        # Live after the join: no meta, and nothing replayed twice.
        await post(url + "live?private=true", headers=headers(srv, owner.access_token), json={"n": 4})
        await listener.wait_for(lambda m: len(listener.on(name, "broadcast")) >= 3, what="the live broadcast")
        assert replayed(listener, name)[2] == {"event": "live", "payload": {"n": 4}, "type": "broadcast"}
        await close_all(listener)

        # Missed while disconnected: exactly these two come back (limit 2), in order.
        for n in (5, 6):
            await post(url + "missed?private=true", headers=headers(srv, owner.access_token), json={"n": n})
        again = await Phoenix.connect(srv)
        await again.join(name, replay_join(owner.access_token, limit=2))
        await again.wait_for(lambda m: len(again.on(name, "broadcast")) >= 2, what="the missed broadcasts")
        await again.heartbeat()
        assert [p["payload"] for p in replayed(again, name)] == [{"n": 5}, {"n": 6}]
        await close_all(again, talker)
    finally:
        srv.stop()

    # The log is durable: after a restart the same replay comes back (the default limit, 25: all six).
    srv = start_server(db)
    try:
        client = await Phoenix.connect(srv)
        try:
            await client.join(name, replay_join(owner.access_token))
            await client.wait_for(lambda m: len(client.on(name, "broadcast")) >= 6, what="six replayed broadcasts")
            assert [p["payload"]["n"] for p in replayed(client, name)] == [1, 2, 3, 4, 5, 6]
            # `since` in the future: nothing (seen through a later live message).
            late = await Phoenix.connect(srv)
            await late.join(name, replay_join(owner.access_token, since=int(time.time() * 1000) + 3_600_000))
            await post(srv.url + API + f"/user%3A{owner.id}/events/after?private=true", headers=headers(srv, owner.access_token), json={})
            await late.wait_for(lambda m: m["event"] == "broadcast", what="the live broadcast")
            assert [p["event"] for p in replayed(late, name)] == ["after"]
            await close_all(late)
        finally:
            await close_all(client)
    finally:
        srv.stop()


@pytest.mark.parametrize("replay, private, reason", [
    ({"since": 0}, False, "UnableToReplayMessages: Replay is not allowed for public channels"),
    ({"since": "yesterday"}, True, "UnableToReplayMessages: Replay params are not valid"),
    ({"limit": 5}, True, "UnableToReplayMessages: Replay params are not valid"),
    ({"since": 0, "limit": 2.5}, True, "UnableToReplayMessages: Replay params are not valid"),
    ("all", True, "UnableToReplayMessages: Replay params are not valid"),
])
async def test_replay_refusals_have_supabases_reasons(server, replay, private, reason):
    owner = user_with_profile(server, "owner")
    client = await Phoenix.connect(server)
    try:
        payload = join_payload(access_token=owner.access_token, private=private)
        payload["config"]["broadcast"]["replay"] = replay
        _, reply = await client.join(f"user:{owner.id}", payload)
        assert reply["payload"] == {"status": "error", "response": {"reason": reason}}
    finally:
        await close_all(client)


async def test_the_broadcast_log_keeps_only_the_newest(tmp_path):
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-broadcast-log-size", "2")
    try:
        owner = user_with_profile(srv, "owner")
        name = f"user:{owner.id}"
        for n in (1, 2, 3):
            response = await post(srv.url + API + f"/user%3A{owner.id}/events/e?private=true",
                                  headers=headers(srv, owner.access_token), json={"n": n})
            assert response.status_code == 202
        client = await Phoenix.connect(srv)
        try:
            await client.join(name, replay_join(owner.access_token))
            await client.wait_for(lambda m: len(client.on(name, "broadcast")) >= 2, what="the replay")
            await client.heartbeat()
            assert [p["payload"]["n"] for p in replayed(client, name)] == [2, 3]
        finally:
            await close_all(client)
    finally:
        srv.stop()


# ====================================================================== postgres_changes size


async def test_a_change_larger_than_the_record_limit_keeps_its_short_values_and_says_413(tmp_path):
    """--realtime-max-change-record-bytes 600: a room whose long room_url takes its record past
    the limit arrives (unmodified realtime-py) with only the values that encode in under 64
    bytes and errors ["Error 413: Payload Too Large"], as Supabase sends it; a room under the
    limit arrives whole with errors null."""
    from realtime import RealtimePostgresChangesListenEvent as Listen

    from helpers import make_room

    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-max-change-record-bytes", "600")
    try:
        host = user_with_profile(srv, "host")
        client = await realtime_client(srv, host.access_token)
        try:
            sink = Sink()
            await subscribe(client.channel("big-rows").on_postgres_changes(
                Listen.Insert, sink, table="practice_rooms", filter=f"host_id=eq.{host.id}"))
            big = make_room(host, room_url="long-" + "x" * 700)
            small = make_room(host)
            items = await sink.wait_count(2)
            first, second = (item["data"] for item in items)
            assert first["errors"] == ["Error 413: Payload Too Large"], first
            assert first["record"]["id"] == big["id"] and first["record"]["host_id"] == host.id, first
            assert "room_url" not in first["record"], "a value of 64 bytes or more is left out"
            assert set(first["record"]) == {k for k, v in big.items() if len(json.dumps(v)) < 64}, first["record"]
            assert [c["name"] for c in first["columns"]] == [c["name"] for c in second["columns"]], \
                "columns still lists every column"
            assert second["errors"] is None and second["record"] == small, second
        finally:
            await close_all(client)
    finally:
        srv.stop()
