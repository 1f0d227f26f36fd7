"""Issue 11, items 4 and 10, and the topic rules: an ended session ends on the realtime side at
once, one token verifier for HTTP and realtime, and private broadcast/presence topics are for
whom the rules say (protocol/realtime.md, protocol/access-rules.md).

A signed-in user watches their private room's rows (postgres_changes) and sits in the room's
channel; then their session ends — `sign_out` in each scope with unmodified supabase-py, refresh
token reuse, the user deleted by the service role — and the test asserts what that device sees:
the Supabase-style `system` error then `phx_close` on every affected channel, no more private
rows, room commands answered with an error.
"""
from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
from realtime import RealtimePostgresChangesListenEvent as Listen
from realtime import RealtimeSubscribeStates

from conftest import start_server
from helpers import (
    b64url,
    jwt_claims,
    jwt_secret,
    make_room,
    raw_refresh,
    rest_headers,
    service_client,
    sign_in,
    user_token,
    user_with_profile,
)
from realtime_helpers import Phoenix, Sink, binding, close_all, join_payload, realtime_client, run, subscribe
from room_helpers import RoomPeer, take_seat

FAST_HASH = ("--password-hash-cost", "10")
SIGNED_OUT = "session has ended"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("security-sessions") / "sessions.sqlite", "--room-grace", "300", *FAST_HASH)
    yield srv
    srv.stop()


class Watcher:
    """One device of a user: a raw socket with a postgres_changes channel on practice_rooms (`mine`) and
    the channel of the user's private room."""

    def __init__(self, phoenix: Phoenix, room: RoomPeer, token: str):
        self.phoenix = phoenix
        self.room = room
        self.token = token

    @classmethod
    async def open(cls, server, account, token: str, room_id: str) -> "Watcher":
        phoenix = await Phoenix.connect(server)
        await phoenix.join_ok("mine", join_payload(binding(), access_token=token))
        room = RoomPeer(server, account, room_id, phoenix)
        reply = await room.join(token=token)
        assert reply["payload"]["status"] == "ok", reply
        return cls(phoenix, room, token)

    async def closed(self, start: int) -> None:
        """Both channels end as Supabase ends them: `system` {status: error} then `phx_close`."""
        for topic in ("realtime:mine", self.room.topic):
            index, system = await self.phoenix.wait_for(
                lambda m, t=topic: m["topic"] == t and m["event"] == "system" and m["payload"].get("status") == "error",
                start=start, what=f"the system error on {topic}")
            assert SIGNED_OUT in system["payload"]["message"] and system["payload"]["extension"] == "system", system
            await self.phoenix.wait_for(lambda m, t=topic: m["topic"] == t and m["event"] == "phx_close",
                                        start=index + 1, what=f"phx_close on {topic}")

    def still_open(self, start: int) -> bool:
        return not any(m["topic"] in ("realtime:mine", self.room.topic) and m["event"] in ("phx_close", "system")
                       for m in self.phoenix.log[start:])


_MINUTES = iter(range(1, 100_000))


def fresh_time() -> str:
    """A scheduled time no earlier update used: every fenced update really changes the row."""
    minute = next(_MINUTES)
    return f"2031-01-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00.000000Z"


async def fenced_update(server, fence: Phoenix, room_id: str, fields: dict | None = None) -> dict:
    """Changes the room as the service role and waits until a service-role watcher got the change: any
    other channel that was to get it has had it by then (one feed, commit order)."""
    fields = fields or {"datetime_utc": fresh_time()}
    start = len(fence.log)
    await run(lambda: service_client(server).table("practice_rooms").update(fields).eq("id", room_id).execute())
    await fence.wait_change("fence", lambda d: (d.get("record") or {}).get("id") == room_id
                            and all(d["record"].get(k) == v for k, v in fields.items()), start=start)
    return fields


async def host_with_private_room(server, prefix: str):
    host = user_with_profile(server, prefix)
    room = await run(make_room, host, private=True)
    fence = await Phoenix.connect(server)
    await fence.join_ok("fence", join_payload(binding(), access_token=server.service_key))
    return host, room, fence


async def assert_ended(server, watcher: Watcher, fence: Phoenix, room_id: str, start: int) -> None:
    await watcher.closed(start)
    seen = len(watcher.phoenix.changes("mine"))
    await fenced_update(server, fence, room_id)
    assert len(watcher.phoenix.changes("mine")) == seen, "a private row reached a channel of an ended session"
    reply = await watcher.room.command("ready", {"client_id": f"after-{start}"})
    assert reply["status"] == "error", reply
    # Joining again with the old token is refused too.
    _, again = await watcher.phoenix.join("mine", join_payload(binding(), access_token=watcher.token))
    assert again["payload"]["status"] == "error" and SIGNED_OUT in again["payload"]["response"]["reason"], again


# ====================================================================== item 4: sign-out in each scope


@pytest.mark.parametrize("scope", ["global", "local", "others"])
async def test_sign_out_closes_the_channels_of_the_sessions_it_ends(server, scope):
    host, room, fence = await host_with_private_room(server, f"out{scope}")
    second = await run(sign_in, server, host.email, host.password)  # another device, another session
    first_device = await Watcher.open(server, host, host.access_token, room["id"])
    second_device = await Watcher.open(server, host, second.access_token, room["id"])
    try:
        marks = (len(first_device.phoenix.log), len(second_device.phoenix.log))
        await run(host.client.auth.sign_out, {"scope": scope})  # the first device signs out
        ended, kept = {
            "global": ([first_device, second_device], []),
            "local": ([first_device], [second_device]),
            "others": ([second_device], [first_device]),
        }[scope]
        for device in ended:
            await assert_ended(server, device, fence, room["id"], marks[0 if device is first_device else 1])
        for device in kept:
            start = marks[0 if device is first_device else 1]
            fields = await fenced_update(server, fence, room["id"])
            await device.phoenix.wait_change("mine", lambda d: d["record"]["id"] == room["id"]
                                             and d["record"]["datetime_utc"] == fields["datetime_utc"], start=start)
            assert device.still_open(start), device.phoenix.describe()
            # Its room commands are still taken (and judged by the room: it has no guest yet).
            reply = await device.room.command("ready", {"client_id": "kept"})
            assert reply["status"] == "error" and "no guest" in reply["response"]["reason"], reply
    finally:
        await close_all(first_device.phoenix, second_device.phoenix, fence)


async def test_realtime_py_channel_closes_at_once_on_global_sign_out(server):
    host, room, fence = await host_with_private_room(server, "pyout")
    client = await realtime_client(server, host.access_token)
    rows = Sink()
    try:
        channel = client.channel("mine-py").on_postgres_changes(Listen.All, rows, table="practice_rooms")
        states = await subscribe(channel)
        await fenced_update(server, fence, room["id"])
        await rows.wait(lambda items: any(item["data"]["record"]["id"] == room["id"] for item in items))
        await run(host.client.auth.sign_out, {"scope": "global"})
        await states.wait(lambda items: RealtimeSubscribeStates.CLOSED in items, what="CLOSED after sign-out")
        items = states.items
        assert RealtimeSubscribeStates.CHANNEL_ERROR in items and items[-1] == RealtimeSubscribeStates.CLOSED, items
        error = states.errors[items.index(RealtimeSubscribeStates.CHANNEL_ERROR)]
        assert SIGNED_OUT in str(error), error
        seen = len(rows.items)
        await fenced_update(server, fence, room["id"])
        assert len(rows.items) == seen
    finally:
        await close_all(client, fence)


# ====================================================================== item 4: refresh reuse, deletion


async def test_refresh_token_reuse_ends_the_session_and_its_channels(server):
    host, room, fence = await host_with_private_room(server, "reuse")
    device = await Watcher.open(server, host, host.access_token, room["id"])
    try:
        start = len(device.phoenix.log)
        assert raw_refresh(server, host.refresh_token).status_code == 200
        reused = raw_refresh(server, host.refresh_token)  # a stolen copy used again
        assert reused.status_code == 400 and reused.json()["error_code"] == "refresh_token_already_used"
        await assert_ended(server, device, fence, room["id"], start)
    finally:
        await close_all(device.phoenix, fence)


async def test_a_deleted_user_loses_their_channels_and_their_seat_commands(server):
    host, room, fence = await host_with_private_room(server, "deleted")
    guest = user_with_profile(server, "deletedguest")
    await run(take_seat, guest, room)
    device = await Watcher.open(server, guest, guest.access_token, room["id"])
    host_peer = await RoomPeer.open(server, host, room["id"])
    try:
        start = len(device.phoenix.log)
        await run(lambda: service_client(server).table("users").update({"status": "deleted"}).eq("id", guest.id).execute())
        await assert_ended(server, device, fence, room["id"], start)
        # The HTTP side agrees.
        response = httpx.get(f"{server.url}/rest/v1/practice_rooms", headers=rest_headers(server, guest.access_token))
        assert response.status_code == 401
    finally:
        await close_all(device.phoenix, host_peer.phoenix, fence)


# ====================================================================== item 10: one verifier


def hs256_signed(header: dict, claims: dict, secret: str) -> str:
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


async def refused_everywhere(server, token: str, at_upgrade: bool = True) -> None:
    """HTTP answers 401, a realtime join with it is refused, and as the socket's `apikey` it opens no
    socket (`at_upgrade`: refused by the verifier alone) or every join on that socket is refused (a
    well-formed token whose session the store does not know)."""
    response = httpx.get(f"{server.url}/rest/v1/practice_rooms", headers=rest_headers(server, token))
    assert response.status_code == 401, response.text
    response = httpx.get(f"{server.url}/auth/v1/user", headers=rest_headers(server, token))
    assert response.status_code == 401, response.text
    phoenix = await Phoenix.connect(server)
    try:
        _, reply = await phoenix.join("tokens", join_payload(binding(), access_token=token))
        assert reply["payload"]["status"] == "error", reply
    finally:
        await phoenix.close()
    if at_upgrade:
        with pytest.raises(Exception):
            await Phoenix.connect(server, key=token)
        return
    phoenix = await Phoenix.connect(server, key=token)
    try:
        _, reply = await phoenix.join("tokens", join_payload(binding()))
        assert reply["payload"]["status"] == "error" and "session has ended" in reply["payload"]["response"]["reason"], reply
    finally:
        await phoenix.close()


async def test_a_token_whose_header_says_hs512_is_refused_by_http_and_realtime(server):
    account = user_with_profile(server, "hs512")
    claims = jwt_claims(account.access_token)
    assert claims.get("session_id"), claims
    secret = jwt_secret(server)
    # The same claims under the honest header pass both: only the header makes the difference.
    honest = hs256_signed({"alg": "HS256", "typ": "JWT"}, claims, secret)
    assert httpx.get(f"{server.url}/rest/v1/practice_rooms", headers=rest_headers(server, honest)).status_code == 200
    for header in ({"alg": "HS512", "typ": "JWT"}, {"alg": "none", "typ": "JWT"}, {"alg": "hs256", "typ": "JWT"},
                   {"typ": "JWT"}):
        await refused_everywhere(server, hs256_signed(header, claims, secret))


async def test_a_user_token_without_a_session_is_refused_by_http_and_realtime(server):
    account = user_with_profile(server, "nosession")
    with_session = user_token(server, account.id, account.email, 600)
    assert httpx.get(f"{server.url}/rest/v1/practice_rooms", headers=rest_headers(server, with_session)).status_code == 200
    await refused_everywhere(server, user_token(server, account.id, account.email, 600, session_id=None))
    await refused_everywhere(server, user_token(server, account.id, account.email, 600, session_id="not-a-session"),
                             at_upgrade=False)


# ====================================================================== topic rules


async def test_private_topics_follow_the_topic_rules(server):
    alice = user_with_profile(server, "alice")
    bob = user_with_profile(server, "bob")
    phoenix = await Phoenix.connect(server)
    try:
        def private(token, **options):
            return join_payload(access_token=token, private=True, **options)

        # user:<id> is that user's own, public or private.
        for is_private in (True, False):
            payload = join_payload(access_token=bob.access_token, private=is_private)
            _, reply = await phoenix.join(f"user:{alice.id}", payload)
            assert reply["payload"]["status"] == "error" and "another user's channel" in reply["payload"]["response"]["reason"]
        await phoenix.join_ok(f"user:{alice.id}", private(alice.access_token))
        # Other private names are admitted by no rule; the board's private join needs a user.
        _, reply = await phoenix.join("secret-chat", private(alice.access_token))
        assert reply["payload"]["status"] == "error" and "no rule admits" in reply["payload"]["response"]["reason"]
        _, reply = await phoenix.join("board", private(server.anon_key))
        assert reply["payload"]["status"] == "error"
        await phoenix.join_ok("board", private(bob.access_token))
        await phoenix.join_ok("public-chat", join_payload(access_token=server.anon_key))
        # A room's channel is its host's and guest's: a stranger is refused.
        room = await run(make_room, alice, private=True)
        _, reply = await phoenix.join(f"room:{room['id']}", join_payload(access_token=bob.access_token, private=True))
        assert reply["payload"]["status"] == "error" and "host and guest" in reply["payload"]["response"]["reason"]
    finally:
        await phoenix.close()


async def test_an_access_token_refresh_that_loses_access_closes_the_channel(server):
    alice = user_with_profile(server, "refresher")
    bob = user_with_profile(server, "intruder")
    phoenix = await Phoenix.connect(server)
    try:
        topic = f"user:{alice.id}"
        join_ref, _ = await phoenix.join_ok(topic, join_payload(access_token=alice.access_token, private=True))
        start = len(phoenix.log)
        # The socket's next token is another user's: the channel is not theirs, so it closes.
        await phoenix.send(f"realtime:{topic}", "access_token", {"access_token": bob.access_token},
                           ref=phoenix.next_ref(), join_ref=join_ref)
        index, system = await phoenix.wait_for(
            lambda m: m["topic"] == f"realtime:{topic}" and m["event"] == "system", start=start, what="system error")
        assert system["payload"]["status"] == "error" and "another user's channel" in system["payload"]["message"]
        await phoenix.wait_for(lambda m: m["topic"] == f"realtime:{topic}" and m["event"] == "phx_close",
                               start=index + 1, what="phx_close")
    finally:
        await phoenix.close()
