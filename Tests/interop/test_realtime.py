"""Realtime channels (Phoenix Channels / Supabase Realtime as realtime-py 2.34 speaks it).

Driven by the unmodified PyPI clients — realtime-py's `AsyncRealtimeClient`, supabase-py's async
client — and, for the details those clients hide (exact join replies, `system` messages, vsn 2.0.0
arrays, the Praxis `praxis` join extension), by the raw Phoenix client of realtime_helpers.py.

Every test starts its own server. Writes go through the data API (supabase-py `table()` calls, off
the event loop) so the feed is fed by the same path an app uses. Waits are bounded (≤ 10 s each);
only `test_heartbeating_connection_stays_open_for_two_minutes` sleeps, by design.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import websockets
from realtime import RealtimePostgresChangesListenEvent as Listen
from realtime import RealtimeSubscribeStates
from supabase import AsyncClientOptions, acreate_client

from conftest import start_server
from helpers import (
    PASSWORD,
    UUID_V4,
    api_error,
    db_count,
    db_row,
    future,
    jwt_hs256,
    jwt_secret,
    make_profile,
    make_room,
    new_client,
    refused_or_empty,
    room_fields,
    service_client,
    sign_in,
    sign_up,
    unique_email,
    user_token,
    user_with_profile,
)
from realtime_helpers import (
    ISO_TIMESTAMP,
    MAX_WAIT,
    SUBSCRIBED_TO_POSTGRES,
    Phoenix,
    Sink,
    binding,
    close_all,
    is_subscribed_message,
    join_payload,
    realtime_client,
    run,
    subscribe,
    websocket_url,
)

pytestmark = pytest.mark.timeout(90)

# The API's column order for practice_rooms (schema.md); change records list columns in this order.
ROOM_COLUMNS = [
    "id", "host_id", "guest_id", "datetime_utc", "first_round_id", "second_round_id", "type", "room_url",
    "stage", "private", "created_at", "updated_at",
]


# ---------------------------------------------------------------- shared checks


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_change(payload: dict, table: str, kind: str, ids: list[int] | None = None) -> dict:
    """A postgres_changes payload of the documented shape; returns its `data`."""
    assert set(payload) >= {"ids", "data"}, payload
    assert isinstance(payload["ids"], list) and payload["ids"] and all(is_int(i) for i in payload["ids"]), payload
    if ids is not None:
        assert sorted(payload["ids"]) == sorted(ids), payload
    data = payload["data"]
    assert data["schema"] == "public" and data["table"] == table and data["type"] == kind, data
    assert data.get("errors", "missing") is None, data
    assert isinstance(data["commit_timestamp"], str) and ISO_TIMESTAMP.match(data["commit_timestamp"]), data
    assert is_int(data["offset"]), data
    assert isinstance(data["epoch"], str) and data["epoch"], data
    assert isinstance(data["columns"], list) and data["columns"], data
    for column in data["columns"]:
        assert isinstance(column, dict) and isinstance(column.get("name"), str) and column["name"], column
        assert isinstance(column.get("type"), str) and column["type"], column
    if kind == "INSERT":
        assert isinstance(data.get("record"), dict) and data["record"], data
        assert not data.get("old_record"), data
        row = data["record"]
    elif kind == "UPDATE":
        assert isinstance(data.get("record"), dict) and data["record"], data
        assert isinstance(data.get("old_record"), dict) and data["old_record"], data
        row = data["record"]
    else:
        assert isinstance(data.get("old_record"), dict) and data["old_record"], data
        assert not data.get("record"), data
        row = data["old_record"]
    assert [column["name"] for column in data["columns"]] == list(row), (data["columns"], row)
    return data


def row_id(data: dict) -> str:
    row = data.get("record") or data.get("old_record") or {}
    return row.get("id") or row.get("user_id")


def kind(data: dict) -> str:
    """The change's type as a plain string (realtime-py hands it over as an enum)."""
    value = data["type"]
    return getattr(value, "value", value)


def summary(payloads: list[dict]) -> list[tuple[str, str, str]]:
    """(table, type, row id) of each change, in order."""
    return [(p["data"]["table"], kind(p["data"]), row_id(p["data"])) for p in payloads]


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


def channel_options(self_: bool = False, ack: bool = False, key: str = "", presence: bool = False) -> dict:
    """realtime-py channel params."""
    return {"config": {"broadcast": {"self": self_, "ack": ack}, "presence": {"key": key, "enabled": presence},
                       "private": False}}


def expired_user_token(server, account) -> str:
    return user_token(server, account.id, account.email, -60)


def update_room(account, room_id: str, change: dict) -> dict:
    rows = account.client.table("practice_rooms").update(change).eq("id", room_id).execute().data
    assert len(rows) == 1, rows
    return rows[0]


def delete_room(account, room_id: str) -> dict:
    rows = account.client.table("practice_rooms").delete().eq("id", room_id).execute().data
    assert len(rows) == 1, rows
    return rows[0]


def take_seat(guest, room: dict) -> dict:
    rows = guest.client.table("practice_rooms").update({"guest_id": guest.id}) \
        .eq("room_url", room["room_url"]).execute().data
    assert len(rows) == 1 and rows[0]["guest_id"] == guest.id, rows
    return rows[0]


async def assert_refused(url: str) -> None:
    """The upgrade is refused with 401, or the socket is closed without serving anything."""
    try:
        ws = await websockets.connect(url, open_timeout=MAX_WAIT, close_timeout=2)
    except websockets.exceptions.InvalidStatus as error:
        assert error.response.status_code == 401, f"expected 401, got {error.response.status_code}"
        return
    except (websockets.exceptions.InvalidHandshake, websockets.exceptions.ConnectionClosed, OSError):
        return  # closed during the handshake
    try:
        try:
            await ws.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "1"}))
        except websockets.exceptions.ConnectionClosed:
            return
        deadline = time.monotonic() + MAX_WAIT
        for _ in range(100):
            remaining = deadline - time.monotonic()
            assert remaining > 0, "a connection with a bad apikey stayed open"
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
            except websockets.exceptions.ConnectionClosed:
                return
            except TimeoutError:
                raise AssertionError("a connection with a bad apikey stayed open") from None
            assert not (message.get("event") == "phx_reply" and message.get("payload", {}).get("status") == "ok"), \
                f"a connection with a bad apikey was served: {message!r}"
        raise AssertionError("a connection with a bad apikey kept talking")
    finally:
        await ws.close()


# ====================================================================== connection


@pytest.mark.parametrize("path", ["/realtime/v1/websocket", "/socket/websocket"])
@pytest.mark.parametrize("key", ["anon", "service"])
async def test_heartbeat_is_answered(server, path, key):
    apikey = server.anon_key if key == "anon" else server.service_key
    async with websockets.connect(websocket_url(server, apikey, path), open_timeout=MAX_WAIT) as ws:
        for ref in ("1", "2"):
            await ws.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": ref}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), MAX_WAIT))
            assert {k: reply.get(k) for k in ("topic", "event", "payload", "ref")} == {
                "topic": "phoenix", "event": "phx_reply", "payload": {"status": "ok", "response": {}}, "ref": ref,
            }, reply
            assert reply.get("join_ref") is None, reply


@pytest.mark.parametrize("case", ["missing", "garbage", "other-secret", "expired", "bad-signature"])
async def test_bad_or_missing_apikey_is_refused(server, case):
    now = int(time.time())
    anon_claims = {"iss": "praxis", "role": "anon", "iat": now, "exp": now + 3600}
    key = {
        "missing": "",
        "garbage": "not-a-key",
        "other-secret": jwt_hs256(anon_claims, "another-secret-another-secret-xx"),
        "expired": jwt_hs256({**anon_claims, "iat": now - 7200, "exp": now - 3600}, jwt_secret(server)),
        "bad-signature": server.anon_key.rsplit(".", 1)[0] + ".AAAA",
    }[case]
    for path in ("/realtime/v1/websocket", "/socket/websocket"):
        await assert_refused(websocket_url(server, key, path))
    # The right key still works.
    client = await Phoenix.connect(server)
    try:
        assert (await client.heartbeat())["payload"] == {"status": "ok", "response": {}}
    finally:
        await client.close()


async def test_vsn_2_speaks_arrays(server):
    host = user_with_profile(server, "host")
    client = await Phoenix.connect(server, vsn="2.0.0")
    try:
        await client.send("phoenix", "heartbeat", {}, ref="1")
        _, reply = await client.wait_for(lambda m: m["ref"] == "1", what="the heartbeat reply")
        assert client.raw[0] == [None, "1", "phoenix", "phx_reply", {"status": "ok", "response": {}}]

        payload = join_payload(binding(), access_token=server.anon_key, broadcast_self=True)
        await client.send("realtime:arrays", "phx_join", payload, ref="2", join_ref="2")
        index, reply = await client.wait_for(lambda m: m["ref"] == "2", what="the join reply")
        raw_reply = client.raw[index]
        assert isinstance(raw_reply, list) and raw_reply[:4] == ["2", "2", "realtime:arrays", "phx_reply"], raw_reply
        assert raw_reply[4]["status"] == "ok", raw_reply
        bindings = raw_reply[4]["response"]["postgres_changes"]
        assert len(bindings) == 1 and is_int(bindings[0]["id"]), bindings
        index, _ = await client.subscribed("arrays")
        assert client.raw[index][1:4] == [None, "realtime:arrays", "system"], client.raw[index]

        await client.send("realtime:arrays", "broadcast", {"type": "broadcast", "event": "hello", "payload": {"n": 1}},
                          ref="3", join_ref="2")
        index, _ = await client.wait_for(lambda m: m["event"] == "broadcast", what="own broadcast (self: true)")
        raw_broadcast = client.raw[index]
        assert isinstance(raw_broadcast, list) and raw_broadcast[1:4] == [None, "realtime:arrays", "broadcast"]
        assert raw_broadcast[4]["event"] == "hello" and raw_broadcast[4]["payload"] == {"n": 1}, raw_broadcast

        room = await run(make_room, host)
        change = await client.wait_change("arrays", lambda d: d["type"] == "INSERT")
        data = check_change(change, "practice_rooms", "INSERT", [bindings[0]["id"]])
        assert data["record"] == room
        assert all(isinstance(item, list) for item in client.raw), "every server message is an array in vsn 2.0.0"
    finally:
        await client.close()


async def test_silent_connection_is_closed_after_the_heartbeat_timeout(tmp_path):
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-heartbeat-timeout", "3")
    silent = talker = None
    try:
        # `websockets` answers the transport's pings by itself; the connection sends no message.
        silent = await websockets.connect(websocket_url(srv), open_timeout=MAX_WAIT, close_timeout=2)
        talker = await Phoenix.connect(srv)
        started = time.monotonic()

        async def heartbeats() -> None:
            for _ in range(8):
                reply = await talker.heartbeat()
                assert reply["payload"]["status"] == "ok"
                await asyncio.sleep(1)  # pacing the heartbeats, not waiting for state

        beating = asyncio.create_task(heartbeats())

        async def until_closed() -> None:
            try:
                for _ in range(1000):
                    await silent.recv()
            except websockets.exceptions.ConnectionClosed:
                return
            raise AssertionError("too many messages on a silent connection")

        await asyncio.wait_for(until_closed(), MAX_WAIT)
        elapsed = time.monotonic() - started
        assert elapsed >= 2.0, f"closed after {elapsed:.1f} s, before the 3 s heartbeat timeout"
        await asyncio.wait_for(beating, 15)
        # Eight seconds later the heart-beating connection is still served.
        assert not talker.closed.is_set(), talker.close_error
        assert (await talker.heartbeat())["payload"]["status"] == "ok"
    finally:
        if silent is not None:
            await silent.close()
        if talker is not None:
            await talker.close()
        srv.stop()


@pytest.mark.timeout(240)
async def test_heartbeating_connection_stays_open_for_two_minutes(tmp_path):
    # A 30 s heartbeat timeout: without realtime-py's heartbeats (every 15 s at the least) the
    # connection would be closed well within the two minutes.
    srv = start_server(tmp_path / "praxis.sqlite", "--realtime-heartbeat-timeout", "30")
    client = None
    try:
        client = await realtime_client(srv, hb_interval=5)
        connection = client._ws_connection
        channel = client.channel("keepalive", channel_options(self_=True))
        ticks = Sink()
        channel.on_broadcast("tick", ticks)
        states = await subscribe(channel)
        started = time.monotonic()
        for _ in range(40):
            if time.monotonic() - started >= 125:
                break
            await asyncio.sleep(5)
            assert client.is_connected and client._ws_connection is connection, "the connection was lost"
            assert connection.close_code is None, f"closed with {connection.close_code} {connection.close_reason}"
        assert time.monotonic() - started >= 125
        assert states.items == [RealtimeSubscribeStates.SUBSCRIBED], states.items
        assert channel.is_joined
        await channel.send_broadcast("tick", {"n": 1})
        items = await ticks.wait_count(1)
        assert items[0]["payload"] == {"n": 1}
    finally:
        if client is not None:
            await close_all(client)
        srv.stop()


# ====================================================================== joining


@pytest.mark.parametrize("path", ["/realtime/v1/websocket", "/socket/websocket"])
async def test_join_reply_echoes_the_bindings_and_then_the_feed_is_live(server, path):
    host = user_with_profile(server, "host")
    client = await Phoenix.connect(server, path=path)
    try:
        bindings = [
            binding("practice_rooms", "INSERT", f"host_id=eq.{host.id}"),
            binding("practice_rounds", "*"),
            binding("profiles", "UPDATE"),
            binding("practice_rooms", "DELETE", "type=in.(Clinical,Communication)"),
        ]
        ref, reply = await client.join("echo", join_payload(*bindings, access_token=host.access_token))
        assert reply["topic"] == "realtime:echo" and reply["event"] == "phx_reply", reply
        assert reply["payload"]["status"] == "ok", reply
        echoed = reply["payload"]["response"]["postgres_changes"]
        assert len(echoed) == len(bindings), echoed
        for sent, got in zip(bindings, echoed):
            assert is_int(got["id"]), got
            assert (got["event"], got["schema"], got["table"]) == (sent["event"], sent["schema"], sent["table"]), got
            assert got.get("filter") == sent.get("filter"), got
        assert len({got["id"] for got in echoed}) == len(echoed), f"different bindings need different ids: {echoed}"

        index, system = await client.subscribed("echo")
        assert system["payload"] == {"status": "ok", "extension": "postgres_changes", "channel": "echo",
                                     "message": SUBSCRIBED_TO_POSTGRES}, system
        assert system.get("ref") is None, system
        assert index > client.log.index(reply), "the system message follows the join reply"

        room = await run(make_room, host)
        change = await client.wait_change("echo", lambda d: d["type"] == "INSERT")
        data = check_change(change, "practice_rooms", "INSERT", [echoed[0]["id"]])
        assert data["record"] == room
    finally:
        await client.close()


async def test_realtime_py_subscribes_with_matching_bindings(server):
    host = user_with_profile(server, "host")
    client = await realtime_client(server, host.access_token)
    try:
        inserted, any_round = Sink(), Sink()
        system = Sink()
        channel = client.channel("py-board") \
            .on_postgres_changes(Listen.Insert, inserted, table="practice_rooms", filter=f"host_id=eq.{host.id}") \
            .on_postgres_changes(Listen.All, any_round, table="practice_rounds")
        channel.on_system(system)
        states = await subscribe(channel)
        assert states.items == [RealtimeSubscribeStates.SUBSCRIBED]
        assert all(callback.id is not None for callback in channel.postgres_changes_callbacks)
        assert system.items[0].model_dump() == {"status": "ok", "extension": "postgres_changes", "channel": "py-board",
                                   "message": SUBSCRIBED_TO_POSTGRES}
        room = await run(make_room, host)
        items = await inserted.wait_count(1)
        assert items[0]["data"]["type"] == "INSERT" and items[0]["data"]["record"] == room
        assert items[0]["ids"] == [channel.postgres_changes_callbacks[0].id]
        assert any_round.items == []
    finally:
        await close_all(client)


JOIN_ERRORS = [
    "garbage-token", "expired-token", "token-signed-elsewhere", "unknown-table", "unpublished-table",
    "unknown-column", "unknown-operator", "malformed-filter", "filter-without-column", "private-with-anon-key",
]


@pytest.mark.parametrize("case", JOIN_ERRORS)
async def test_join_errors_are_error_replies(server, case):
    host = user_with_profile(server, "host")
    now = int(time.time())
    elsewhere = jwt_hs256({"iss": "praxis", "role": "authenticated", "sub": host.id, "aud": "authenticated",
                           "email": host.email, "iat": now, "exp": now + 3600}, "another-secret-another-secret-xx")
    token = {"garbage-token": "garbage", "expired-token": expired_user_token(server, host),
             "token-signed-elsewhere": elsewhere}.get(case, host.access_token)
    bindings = {
        "unknown-table": [binding("nope")],
        "unpublished-table": [binding("users")],
        "unknown-column": [binding(filter="nope=eq.1")],
        "unknown-operator": [binding(filter="host_id=foo.1")],
        "malformed-filter": [binding(filter="host_id")],
        "filter-without-column": [binding(filter="=eq.1")],
    }.get(case, [binding()])
    if case == "private-with-anon-key":
        payload = join_payload(*bindings, access_token=server.anon_key, private=True)
    else:
        payload = join_payload(*bindings, access_token=token)

    client = await Phoenix.connect(server)
    try:
        _, reply = await client.join("refused", payload)
        assert reply["topic"] == "realtime:refused" and reply["event"] == "phx_reply", reply
        assert reply["payload"]["status"] == "error", reply
        reason = reply["payload"]["response"].get("reason")
        assert isinstance(reason, str) and reason.strip(), reply

        # The channel is not joined: a push to it is an error, and no feed was started.
        ref = await client.push("realtime:refused", "broadcast", {"type": "broadcast", "event": "x", "payload": {}})
        _, answer = await client.wait_for(
            lambda m: m["topic"] == "realtime:refused" and (
                (m["event"] == "phx_reply" and m["ref"] == ref) or m["event"] == "phx_error"),
            what="an error for a push to a channel that was refused")
        if answer["event"] == "phx_reply":
            assert answer["payload"]["status"] == "error", answer
        assert (await client.heartbeat())["payload"]["status"] == "ok", "the connection stays usable"
        assert not any(is_subscribed_message(m, "refused") for m in client.log), client.describe()
        room = await run(make_room, host)
        # Another channel on the same socket works, and the refused one gets nothing.
        await client.join_ok("fine", join_payload(binding(), access_token=host.access_token))
        await run(update_room, host, room["id"], {"type": "Communication"})
        await client.wait_change("fine", lambda d: d["type"] == "UPDATE")
        assert client.changes("refused") == []
    finally:
        await client.close()


async def test_realtime_py_reports_a_refused_join(server):
    client = await realtime_client(server)
    try:
        channel = client.channel("bad-filter").on_postgres_changes(
            Listen.All, Sink(), table="practice_rooms", filter="nope=eq.1")
        states: list = []
        await asyncio.wait_for(channel.subscribe(lambda state, error: states.append((state, error))), MAX_WAIT + 2)
        assert states and states[0][0] == RealtimeSubscribeStates.CHANNEL_ERROR, states
        assert "reason" in str(states[0][1]), states
    finally:
        await close_all(client)


# ====================================================================== postgres changes


async def test_a_sequence_of_writes_arrives_in_commit_order(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    watcher = await Phoenix.connect(server)
    try:
        _, response = await watcher.join_ok("board", join_payload(binding(), access_token=server.anon_key))
        binding_id = response["postgres_changes"][0]["id"]

        # Upper-case id in the request: the record carries it lowercase, as the API does.
        chosen = str(uuid.uuid4())
        room = await run(make_room, host, id=chosen.upper())
        assert room["id"] == chosen
        seated = await run(take_seat, guest, room)
        moved = await run(update_room, host, room["id"], {"type": "Communication", "datetime_utc": future(30)})
        seat_back = await run(update_room, guest, room["id"], {"guest_id": None})
        deleted = await run(delete_room, host, room["id"])
        fence = await run(make_room, host)

        changes = await watcher.wait_changes("board", 6)
        assert len(changes) == 6, watcher.describe()
        kinds = ["INSERT", "UPDATE", "UPDATE", "UPDATE", "DELETE", "INSERT"]
        datas = [check_change(p, "practice_rooms", kind, [binding_id]) for p, kind in zip(changes, kinds)]
        assert datas[0]["record"] == room
        assert datas[0]["record"]["private"] is False and datas[0]["record"]["guest_id"] is None
        assert datas[0]["record"]["id"] == chosen and UUID_V4.match(datas[0]["record"]["host_id"])
        assert (datas[1]["old_record"], datas[1]["record"]) == (room, seated)
        assert (datas[2]["old_record"], datas[2]["record"]) == (seated, moved)
        assert (datas[3]["old_record"], datas[3]["record"]) == (moved, seat_back)
        assert datas[4]["old_record"] == deleted == seat_back
        assert datas[5]["record"] == fence
        assert [c["name"] for c in datas[0]["columns"]] == ROOM_COLUMNS
        offsets = [d["offset"] for d in datas]
        assert strictly_increasing(offsets), offsets
        assert len({d["epoch"] for d in datas}) == 1
        stamps = [d["commit_timestamp"] for d in datas]
        assert stamps == sorted(stamps), stamps
    finally:
        await watcher.close()


async def test_every_write_path_feeds_every_published_table(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    watcher = await Phoenix.connect(server)
    try:
        # The service role sees everything, so one subscriber sees every change.
        await watcher.join_ok("all", join_payload(binding("practice_rooms"), binding("practice_rounds"),
                                                   binding("profiles"), access_token=server.service_key))
        newcomer = await run(sign_up, server, unique_email("newcomer"))
        profile = await run(make_profile, newcomer, first_name="Nia")
        renamed = (await run(lambda: newcomer.client.table("profiles").update({"last_name": "Mensah"})
                             .eq("user_id", newcomer.id).execute())).data[0]
        room = await run(make_room, host)
        await run(take_seat, guest, room)
        service = service_client(server)
        transcript = [{"seq": 1, "round": 1, "speaker": host.id, "role": "candidate", "text": "Hello."}]
        round_row = (await run(lambda: service.table("practice_rounds").insert(
            {"room_id": room["id"], "round": 1, "candidate_id": host.id, "transcript": transcript,
             "status": "in_progress"}).execute())).data[0]
        staged = (await run(lambda: service.table("practice_rooms").update({"first_round_id": round_row["id"]})
                            .eq("id", room["id"]).execute())).data[0]

        changes = await watcher.wait_changes("all", 6)
        assert summary(changes) == [
            ("profiles", "INSERT", newcomer.id),
            ("profiles", "UPDATE", newcomer.id),
            ("practice_rooms", "INSERT", room["id"]),
            ("practice_rooms", "UPDATE", room["id"]),
            ("practice_rounds", "INSERT", round_row["id"]),
            ("practice_rooms", "UPDATE", room["id"]),
        ], watcher.describe()
        assert check_change(changes[0], "profiles", "INSERT")["record"] == profile
        data = check_change(changes[1], "profiles", "UPDATE")
        assert (data["old_record"], data["record"]) == (profile, renamed)
        data = check_change(changes[4], "practice_rounds", "INSERT")
        assert data["record"] == round_row and data["record"]["transcript"] == transcript
        assert check_change(changes[5], "practice_rooms", "UPDATE")["record"] == staged
        assert strictly_increasing([p["data"]["offset"] for p in changes])
    finally:
        await watcher.close()


async def test_failed_and_refused_writes_publish_nothing(server):
    host = user_with_profile(server, "host")
    stranger = user_with_profile(server, "stranger")
    watcher = await Phoenix.connect(server)
    try:
        await watcher.join_ok("board", join_payload(binding(), access_token=server.service_key))
        room = await run(make_room, host)
        await watcher.wait_changes("board", 1)

        twin = room_fields()
        await run(api_error, lambda: host.client.table("practice_rooms").insert([twin, dict(twin)]).execute())
        await run(api_error, lambda: host.client.table("practice_rooms").insert(
            [room_fields(), room_fields(type="Surgery")]).execute())
        await run(refused_or_empty, lambda: stranger.client.table("practice_rooms").update({"type": "Communication"})
                  .eq("id", room["id"]).execute())
        await run(refused_or_empty, lambda: stranger.client.table("practice_rooms").delete()
                  .eq("id", room["id"]).execute())
        assert (await run(lambda: host.client.table("practice_rooms").update({"type": "Communication"})
                          .eq("id", str(uuid.uuid4())).execute())).data == []
        assert db_count(server, "practice_rooms") == 1

        # A batch that commits: one change per row, in the batch's order.
        batch = [room_fields(datetime_utc=future(hour)) for hour in (5, 3, 4)]
        inserted = (await run(lambda: host.client.table("practice_rooms").insert(batch).execute())).data
        changes = await watcher.wait_changes("board", 4)
        assert summary(changes) == [("practice_rooms", "INSERT", room["id"])] + [
            ("practice_rooms", "INSERT", row["id"]) for row in inserted], watcher.describe()
        assert [p["data"]["record"] for p in changes[1:]] == inserted
        assert strictly_increasing([p["data"]["offset"] for p in changes])
    finally:
        await watcher.close()


async def test_concurrent_writers_are_seen_in_one_commit_order(server):
    hosts = [user_with_profile(server, f"host{n}") for n in range(2)]
    stranger = user_with_profile(server, "stranger")
    watchers = [await Phoenix.connect(server), await Phoenix.connect(server)]
    try:
        await watchers[0].join_ok("board", join_payload(binding("practice_rooms", "INSERT"),
                                                         access_token=server.anon_key))
        await watchers[1].join_ok("board", join_payload(binding(), access_token=stranger.access_token))

        def write(account) -> list[str]:
            return [make_room(account, datetime_utc=future(n))["id"] for n in range(8)]

        written = await asyncio.gather(*(run(write, host) for host in hosts))
        seen = []
        for watcher in watchers:
            changes = await watcher.wait_changes("board", 16)
            assert len(changes) == 16, watcher.describe()
            seen.append([(p["data"]["offset"], row_id(p["data"])) for p in changes])
        assert seen[0] == seen[1], "every subscriber sees the same commit order"
        offsets = [offset for offset, _ in seen[0]]
        assert strictly_increasing(offsets), offsets
        ids = [room_id for _, room_id in seen[0]]
        assert sorted(ids) == sorted(written[0] + written[1])
        for mine in written:
            assert [i for i in ids if i in mine] == mine, "each writer's rooms appear in the order written"
    finally:
        await close_all(*watchers)


async def test_filters_select_the_changes_each_binding_receives(server):
    host = user_with_profile(server, "host")
    other = user_with_profile(server, "other")
    client = await Phoenix.connect(server)
    try:
        urls = {name: f"filter-{name}-{uuid.uuid4().hex[:8]}" for name in "ABCDE"}
        filters = {
            "eq": "type=eq.Communication",
            "neq": "type=neq.Clinical",
            "lt": f"datetime_utc=lt.{future(2)}",
            "lte": f"datetime_utc=lte.{future(2)}",
            "gt": f"datetime_utc=gt.{future(3)}",
            "gte": f"datetime_utc=gte.{future(3)}",
            "in": "type=in.(Clinical,Communication)",
            "in-urls": f"room_url=in.({urls['A']},{urls['C']})",
            "host": f"host_id=eq.{host.id}",
            "boolean": "private=eq.true",
            "integer": "stage=eq.1",
            "no-match": "type=eq.Nothing",
        }
        names = ["all"] + list(filters) + ["update-eq", "delete"]
        bindings = [binding("practice_rooms", "*")] + [binding("practice_rooms", "INSERT", f) for f in filters.values()]
        bindings += [binding("practice_rooms", "UPDATE", "type=eq.Communication"), binding("practice_rooms", "DELETE")]
        _, response = await client.join_ok("filtered", join_payload(*bindings, access_token=host.access_token))
        ids = {name: got["id"] for name, got in zip(names, response["postgres_changes"])}
        assert len(ids) == len(names)

        specs = {
            "A": (host, "Clinical", 1, False),
            "B": (host, "Communication", 2, False),
            "C": (host, "Clinical", 3, True),
            "D": (host, "Communication", 4, True),
            "E": (other, "Clinical", 2, False),
        }
        rooms = {}
        for name, (owner, kind, hour, private) in specs.items():
            rooms[name] = await run(make_room, owner, type=kind, datetime_utc=future(hour), private=private,
                                    room_url=urls[name])
        await run(update_room, host, rooms["A"]["id"], {"type": "Communication"})
        await run(update_room, host, rooms["C"]["id"], {"type": "Clinical", "datetime_utc": future(9)})
        await run(delete_room, host, rooms["B"]["id"])

        changes = await client.wait_changes("filtered", 8)
        assert len(changes) == 8, client.describe()
        expected_inserts = {
            "A": {"lt", "lte", "in", "in-urls", "host", "integer"},
            "B": {"eq", "neq", "lte", "in", "host", "integer"},
            "C": {"gte", "in", "in-urls", "host", "boolean", "integer"},
            "D": {"eq", "neq", "gt", "gte", "in", "host", "boolean", "integer"},
            "E": {"lte", "in", "integer"},
        }
        for payload, name in zip(changes[:5], "ABCDE"):
            check_change(payload, "practice_rooms", "INSERT")
            assert row_id(payload["data"]) == rooms[name]["id"]
            wanted = sorted(ids[key] for key in expected_inserts[name] | {"all"})
            assert sorted(payload["ids"]) == wanted, (name, payload["ids"], ids)
        assert summary(changes[5:]) == [("practice_rooms", "UPDATE", rooms["A"]["id"]),
                                        ("practice_rooms", "UPDATE", rooms["C"]["id"]),
                                        ("practice_rooms", "DELETE", rooms["B"]["id"])]
        assert sorted(changes[5]["ids"]) == sorted([ids["all"], ids["update-eq"]])
        assert sorted(changes[6]["ids"]) == [ids["all"]], "an UPDATE whose new row does not match the filter"
        assert sorted(changes[7]["ids"]) == sorted([ids["all"], ids["delete"]])
    finally:
        await client.close()


async def test_a_filtered_channel_gets_only_matching_changes(server):
    host = user_with_profile(server, "host")
    other = user_with_profile(server, "other")
    client = await realtime_client(server)
    try:
        mine, fence = Sink(), Sink()
        channel = client.channel("host-only").on_postgres_changes(
            Listen.All, mine, table="practice_rooms", filter=f"host_id=eq.{host.id}")
        await subscribe(channel)
        fence_channel = client.channel("fence").on_postgres_changes(Listen.All, fence, table="practice_rooms")
        await subscribe(fence_channel)
        theirs = await run(make_room, other)
        ours = await run(make_room, host)
        await run(delete_room, other, theirs["id"])
        last = await run(make_room, other)
        await fence.wait(lambda items: any(row_id(i["data"]) == last["id"] for i in items), what="the fence")
        await mine.wait_count(1)
        assert [(kind(p["data"]), p["data"]["record"]) for p in mine.items] == [("INSERT", ours)]
    finally:
        await close_all(client)


# ====================================================================== access rules per subscriber


async def test_private_room_changes_reach_only_its_host_and_guest(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    stranger = user_with_profile(server, "stranger")
    tokens = {"host": host.access_token, "guest": guest.access_token, "stranger": stranger.access_token,
              "anon": None}
    clients, sinks = {}, {}
    try:
        for name, token in tokens.items():
            clients[name] = await realtime_client(server, token)
            sinks[name] = Sink()
            await subscribe(clients[name].channel("board").on_postgres_changes(
                Listen.All, sinks[name], table="practice_rooms"))

        private = await run(make_room, host, private=True)
        await run(take_seat, guest, private)  # through the link, as the app does
        await run(update_room, host, private["id"], {"type": "Communication"})
        public = await run(make_room, host)
        await run(update_room, host, public["id"], {"private": True})   # hidden from everyone but the host
        await run(update_room, host, public["id"], {"private": False})  # visible again
        await run(delete_room, host, private["id"])
        await run(delete_room, host, public["id"])

        P, Q = private["id"], public["id"]
        expected = {
            "host": [("INSERT", P), ("UPDATE", P), ("UPDATE", P), ("INSERT", Q), ("UPDATE", Q), ("UPDATE", Q),
                     ("DELETE", P), ("DELETE", Q)],
            "guest": [("UPDATE", P), ("UPDATE", P), ("INSERT", Q), ("UPDATE", Q), ("DELETE", P), ("DELETE", Q)],
            "stranger": [("INSERT", Q), ("UPDATE", Q), ("DELETE", Q)],
            "anon": [("INSERT", Q), ("UPDATE", Q), ("DELETE", Q)],
        }
        for name, sink in sinks.items():
            await sink.wait(lambda items: any(kind(i["data"]) == "DELETE" and row_id(i["data"]) == Q
                                              for i in items), what=f"{name}: the last delete")
            got = [(kind(i["data"]), row_id(i["data"])) for i in sink.items]
            assert got == expected[name], f"{name} received {got}"
        # What outsiders got of the public room never shows it private.
        for name in ("stranger", "anon"):
            for item in sinks[name].items:
                record = item["data"].get("record")
                assert not record or record["private"] is False, item
    finally:
        await close_all(*clients.values())


async def test_a_former_guest_stops_seeing_a_private_room(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    watchers = {"host": await Phoenix.connect(server), "guest": await Phoenix.connect(server)}
    try:
        await watchers["host"].join_ok("board", join_payload(binding(), access_token=host.access_token))
        await watchers["guest"].join_ok("board", join_payload(binding(), access_token=guest.access_token))
        private = await run(make_room, host, private=True)
        await run(take_seat, guest, private)
        # The guest gives the seat back (the answer may be empty: the room is no longer theirs to read).
        await run(lambda: guest.client.table("practice_rooms").update({"guest_id": None})
                  .eq("id", private["id"]).execute())
        assert db_row(server, "practice_rooms", "id", private["id"])["guest_id"] is None
        await run(update_room, host, private["id"], {"type": "Communication"})
        gone = await run(delete_room, host, private["id"])
        fence = await run(make_room, host)
        P = private["id"]
        expected = {
            "host": [("INSERT", P), ("UPDATE", P), ("UPDATE", P), ("UPDATE", P), ("DELETE", P), ("INSERT", fence["id"])],
            "guest": [("UPDATE", P), ("INSERT", fence["id"])],
        }
        for name, watcher in watchers.items():
            await watcher.wait_change("board", lambda d: row_id(d) == fence["id"], what=f"{name}: the fence")
            got = [(kind(p["data"]), row_id(p["data"])) for p in watcher.changes("board")]
            assert got == expected[name], f"{name} received {got}"
        assert watchers["host"].changes("board")[4]["data"]["old_record"] == gone
    finally:
        await close_all(*watchers.values())


async def test_round_changes_reach_only_the_rooms_participants(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    stranger = user_with_profile(server, "stranger")
    room = make_room(host)
    take_seat(guest, room)
    tokens = {"host": host.access_token, "guest": guest.access_token, "stranger": stranger.access_token,
              "anon": None}
    clients, sinks = {}, {}
    try:
        for name, token in tokens.items():
            clients[name] = await realtime_client(server, token)
            sinks[name] = Sink()
            channel = clients[name].channel("rounds") \
                .on_postgres_changes(Listen.All, sinks[name], table="practice_rounds") \
                .on_postgres_changes(Listen.Insert, sinks[name], table="practice_rooms")
            await subscribe(channel)

        service = service_client(server)
        transcript = [{"seq": 1, "round": 1, "speaker": guest.id, "role": "interlocutor", "text": "Hi doctor."}]
        round_row = (await run(lambda: service.table("practice_rounds").insert(
            {"room_id": room["id"], "round": 1, "candidate_id": host.id, "transcript": transcript,
             "status": "in_progress"}).execute())).data[0]
        finished = (await run(lambda: service.table("practice_rounds").update(
            {"status": "completed", "duration_seconds": 420}).eq("id", round_row["id"]).execute())).data[0]
        fence = await run(make_room, host)

        R = round_row["id"]
        for name, sink in sinks.items():
            await sink.wait(lambda items: any(row_id(i["data"]) == fence["id"] for i in items),
                            what=f"{name}: the fence")
            got = [(i["data"]["table"], kind(i["data"]), row_id(i["data"])) for i in sink.items]
            if name in ("host", "guest"):
                assert got == [("practice_rounds", "INSERT", R), ("practice_rounds", "UPDATE", R),
                               ("practice_rooms", "INSERT", fence["id"])], f"{name}: {got}"
                assert sink.items[0]["data"]["record"] == round_row
                assert sink.items[1]["data"]["record"] == finished
                assert sink.items[1]["data"]["old_record"] == round_row
            else:
                assert got == [("practice_rooms", "INSERT", fence["id"])], f"{name}: {got}"
    finally:
        await close_all(*clients.values())


async def test_supabase_async_client_subscribes_with_its_session(server):
    host = user_with_profile(server, "host")
    options = lambda: AsyncClientOptions(auto_refresh_token=False, persist_session=False,  # noqa: E731
                                         realtime={"auto_reconnect": False})
    app = await acreate_client(server.url, server.anon_key, options())
    visitor = await acreate_client(server.url, server.anon_key, options())
    try:
        session = (await app.auth.sign_in_with_password({"email": host.email, "password": PASSWORD})).session
        # supabase-py hands the session's token to realtime from its auth-event callback task.
        pending = list(getattr(app, "_background_tasks", ()))
        if pending:
            await asyncio.wait(pending, timeout=MAX_WAIT)
        assert app.realtime.access_token == session.access_token

        mine, board = Sink(), Sink()
        await subscribe(app.channel("my-rooms").on_postgres_changes(
            Listen.All, mine, table="practice_rooms", filter=f"host_id=eq.{host.id}"))
        await subscribe(visitor.channel("board").on_postgres_changes(Listen.All, board, table="practice_rooms"))

        private = (await app.table("practice_rooms").insert(room_fields(private=True)).execute()).data[0]
        public = (await app.table("practice_rooms").insert(room_fields()).execute()).data[0]
        moved = (await app.table("practice_rooms").update({"type": "Communication"})
                 .eq("id", private["id"]).execute()).data[0]
        await mine.wait_count(3)
        await board.wait_count(1)
        assert [(kind(p["data"]), p["data"]["record"]) for p in mine.items] == [
            ("INSERT", private), ("INSERT", public), ("UPDATE", moved)]
        assert mine.items[2]["data"]["old_record"] == private
        assert [(kind(p["data"]), p["data"]["record"]) for p in board.items] == [("INSERT", public)]
    finally:
        for client in (app, visitor):
            try:
                await asyncio.wait_for(client.remove_all_channels(), 5)
            except Exception:  # noqa: BLE001 - teardown is best effort
                pass


# ====================================================================== broadcast


async def test_broadcast_reaches_the_other_members_and_self_only_when_asked(server):
    member = user_with_profile(server, "member")
    a = await realtime_client(server)
    b = await realtime_client(server, member.access_token)
    c = await realtime_client(server)
    d = await realtime_client(server)
    try:
        sinks = {name: Sink() for name in "abcd"}
        ca = a.channel("chat", channel_options(self_=False)).on_broadcast("*", sinks["a"])
        cb = b.channel("chat", channel_options(self_=True)).on_broadcast("*", sinks["b"])
        cc = c.channel("chat").on_broadcast("*", sinks["c"])
        cd = d.channel("elsewhere", channel_options(self_=True)).on_broadcast("*", sinks["d"])
        for channel in (ca, cb, cc, cd):
            await subscribe(channel)

        await ca.send_broadcast("hello", {"from": "a", "n": 1, "nested": {"list": [1, "two", None, True]}})
        await sinks["b"].wait_count(1)
        await sinks["c"].wait_count(1)
        await cb.send_broadcast("reply", {"from": "b"})
        await sinks["a"].wait_count(1)
        await sinks["b"].wait_count(2)
        await sinks["c"].wait_count(2)
        await cd.send_broadcast("aside", {"from": "d"})
        await sinks["d"].wait_count(1)

        def seen(name: str) -> list[tuple[str, dict]]:
            return [(item["event"], item["payload"]) for item in sinks[name].items]

        hello = ("hello", {"from": "a", "n": 1, "nested": {"list": [1, "two", None, True]}})
        reply = ("reply", {"from": "b"})
        assert seen("a") == [reply], "self: false: the sender does not get its own broadcast"
        assert seen("b") == [hello, reply], "self: true: the sender gets its own broadcast"
        assert seen("c") == [hello, reply]
        assert seen("d") == [("aside", {"from": "d"})], "another topic gets nothing of this one"
    finally:
        await close_all(a, b, c, d)


async def test_broadcast_wire_shape_and_ack(server):
    sender = await Phoenix.connect(server)
    receiver = await Phoenix.connect(server)
    try:
        join_ref, _ = await sender.join_ok("wire", join_payload(access_token=server.anon_key, ack=True))
        await receiver.join_ok("wire", join_payload(access_token=server.anon_key))
        body = {"type": "broadcast", "event": "cursor", "payload": {"x": 10, "y": 20.5, "label": "ü"}}
        ref = await sender.push("realtime:wire", "broadcast", body, join_ref=join_ref)
        ack = await sender.reply(ref, "realtime:wire")
        assert ack["payload"]["status"] == "ok", ack
        _, message = await receiver.wait_for(lambda m: m["event"] == "broadcast", what="the broadcast")
        assert message["topic"] == "realtime:wire" and message.get("ref") is None, message
        assert message["payload"]["type"] == "broadcast" and message["payload"]["event"] == "cursor", message
        assert message["payload"]["payload"] == body["payload"], message
        # self is false for the sender: its own broadcast does not come back.
        assert (await sender.heartbeat())["payload"]["status"] == "ok"
        assert sender.on("wire", "broadcast") == []
    finally:
        await close_all(sender, receiver)


# ====================================================================== presence


async def test_presence_states_converge_and_leaves_are_seen(server):
    a = await realtime_client(server)
    b = await realtime_client(server)
    observer = await Phoenix.connect(server)
    try:
        syncs = {"a": Sink(), "b": Sink()}
        joins, leaves = Sink(), Sink()
        ca = a.channel("room-presence", channel_options(key="alice", presence=True))
        ca.on_presence_sync(lambda: syncs["a"]("sync")).on_presence_join(joins).on_presence_leave(leaves)
        cb = b.channel("room-presence", channel_options(key="bob", presence=True))
        cb.on_presence_sync(lambda: syncs["b"]("sync"))
        await subscribe(ca)
        await subscribe(cb)
        await ca.track({"name": "Alice", "status": "online"})
        await cb.track({"name": "Bob"})

        def has(channel, keys: set[str]):
            return lambda _items: set(channel.presence_state()) == keys

        await syncs["a"].wait(has(ca, {"alice", "bob"}), what="a sees alice and bob")
        await syncs["b"].wait(has(cb, {"alice", "bob"}), what="b sees alice and bob")
        for channel in (ca, cb):
            state = channel.presence_state()
            assert [{k: v for k, v in p.items() if k != "presence_ref"} for p in state["alice"]] == \
                [{"name": "Alice", "status": "online"}], state
            assert [{k: v for k, v in p.items() if k != "presence_ref"} for p in state["bob"]] == \
                [{"name": "Bob"}], state
        refs = {key: [p["presence_ref"] for p in ca.presence_state()[key]] for key in ("alice", "bob")}
        assert refs == {key: [p["presence_ref"] for p in cb.presence_state()[key]] for key in ("alice", "bob")}
        assert all(isinstance(r, str) and r for rs in refs.values() for r in rs)
        assert "bob" in [item[0] for item in joins.items]

        # A late joiner gets the whole state at once, in Phoenix's shape.
        await observer.join_ok("room-presence", join_payload(access_token=server.anon_key, presence=True,
                                                             presence_key="carol"))
        _, state = await observer.wait_for(lambda m: m["event"] == "presence_state", what="presence_state")
        assert set(state["payload"]) == {"alice", "bob"}, state
        for key, entry in state["payload"].items():
            assert [m["phx_ref"] for m in entry["metas"]] == refs[key], state
        assert [{k: v for k, v in m.items() if k not in ("phx_ref", "phx_ref_prev")}
                for m in state["payload"]["bob"]["metas"]] == [{"name": "Bob"}]

        # Untrack: the others see bob leave.
        await cb.untrack()
        await syncs["a"].wait(has(ca, {"alice"}), what="a sees bob untrack")
        assert "bob" in [item[0] for item in leaves.items]
        _, diff = await observer.wait_for(lambda m: m["event"] == "presence_diff" and m["payload"]["leaves"],
                                          what="the leave diff for the untrack")
        assert diff["payload"]["joins"] == {} and list(diff["payload"]["leaves"]) == ["bob"], diff
        mark = len(observer.log)

        # Track again, then drop the socket: the others get a join, then a leave diff.
        await cb.track({"name": "Bob", "again": True})
        await syncs["a"].wait(has(ca, {"alice", "bob"}), what="a sees bob again")
        _, diff = await observer.wait_for(lambda m: m["event"] == "presence_diff" and m["payload"]["joins"],
                                          start=mark, what="the join diff")
        assert list(diff["payload"]["joins"]) == ["bob"] and diff["payload"]["leaves"] == {}, diff
        metas = diff["payload"]["joins"]["bob"]["metas"]
        assert len(metas) == 1 and isinstance(metas[0]["phx_ref"], str) and metas[0]["again"] is True, diff
        bob_ref = metas[0]["phx_ref"]
        mark = len(observer.log)
        await b.close()
        await syncs["a"].wait(has(ca, {"alice"}), what="a sees bob's socket close")
        _, diff = await observer.wait_for(lambda m: m["event"] == "presence_diff" and m["payload"]["leaves"],
                                          start=mark, what="the leave diff for the closed socket")
        assert diff["payload"]["joins"] == {}, diff
        assert [m["phx_ref"] for m in diff["payload"]["leaves"]["bob"]["metas"]] == [bob_ref], diff
        assert set(diff["payload"]["leaves"]) == {"bob"}, diff
    finally:
        await close_all(a, b, observer)


# ====================================================================== the Praxis join extension


def without_tag(row: dict, table: str = "practice_rooms") -> dict:
    """A snapshot row may tag its table (`_table`); the rest is the API's row."""
    if "_table" in row:
        assert row["_table"] == table, row
    return {k: v for k, v in row.items() if k != "_table"}


def check_praxis(response: dict) -> dict:
    praxis = response.get("praxis")
    assert isinstance(praxis, dict), response
    assert isinstance(praxis.get("epoch"), str) and praxis["epoch"], praxis
    assert is_int(praxis.get("offset")), praxis
    assert isinstance(praxis.get("recovered"), bool), praxis
    return praxis


async def test_snapshot_join_returns_the_rows_the_caller_may_see(server):
    host = user_with_profile(server, "host")
    other = user_with_profile(server, "other")
    rows = {
        "host-public": make_room(host, type="Clinical"),
        "host-private": make_room(host, type="Communication", private=True),
        "other-public": make_room(other, type="Communication"),
        "other-private": make_room(other, type="Clinical", private=True),
    }
    client = await Phoenix.connect(server)
    try:
        cases = [
            ("host-all", host.access_token, None, {"host-public", "host-private", "other-public"}),
            ("anon-all", server.anon_key, None, {"host-public", "other-public"}),
            ("host-communication", host.access_token, "type=eq.Communication", {"host-private", "other-public"}),
            ("other-mine", other.access_token, f"host_id=eq.{other.id}", {"other-public", "other-private"}),
        ]
        epochs = set()
        for name, token, filter_, wanted in cases:
            _, response = await client.join_ok(name, join_payload(binding(filter=filter_), access_token=token,
                                                                  praxis={"snapshot": True}))
            praxis = check_praxis(response)
            assert isinstance(praxis.get("snapshot"), list), praxis
            got = sorted((without_tag(row) for row in praxis["snapshot"]), key=lambda row: row["id"])
            assert got == sorted((rows[key] for key in wanted), key=lambda row: row["id"]), (name, got)
            epochs.add(praxis["epoch"])
            snapshot_offset = praxis["offset"]
        assert len(epochs) == 1

        # The next change follows the snapshot's offset, in the same epoch.
        fresh = await run(make_room, other)
        change = await client.wait_change("other-mine", lambda d: d["type"] == "INSERT")
        data = check_change(change, "practice_rooms", "INSERT")
        assert data["record"] == fresh
        assert data["offset"] > snapshot_offset and data["epoch"] in epochs
    finally:
        await client.close()


async def test_resume_replays_round_changes_only_to_the_rooms_participants(server):
    """A replay judges rows whose rule consults another row (a round: its room's host and
    guest) the same way the live feed does: the participants get the round's changes,
    nobody else does; everybody gets the fence after them, in order."""
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    stranger = user_with_profile(server, "stranger")
    room = await run(make_room, host)
    await run(take_seat, guest, room)
    accounts = {"host": host, "guest": guest, "stranger": stranger}
    config = lambda account, praxis: join_payload(  # noqa: E731
        binding("practice_rounds"), binding("practice_rooms", "INSERT"), access_token=account.access_token, praxis=praxis)
    clients: list[Phoenix] = []
    try:
        offsets, epoch = {}, None
        for name, account in accounts.items():
            client = await Phoenix.connect(server)
            clients.append(client)
            _, response = await client.join_ok("rounds", config(account, {"snapshot": True}))
            praxis = check_praxis(response)
            offsets[name], epoch = praxis["offset"], praxis["epoch"]
            await client.close()

        # While everybody is away: a round is written and finished, then a fence room.
        service = service_client(server)
        round_row = (await run(lambda: service.table("practice_rounds").insert(
            {"room_id": room["id"], "round": 1, "candidate_id": host.id, "status": "in_progress"}).execute())).data[0]
        finished = (await run(lambda: service.table("practice_rounds").update(
            {"status": "completed", "duration_seconds": 60}).eq("id", round_row["id"]).execute())).data[0]
        fence = await run(make_room, host)

        for name, account in accounts.items():
            client = await Phoenix.connect(server)
            clients.append(client)
            _, reply = await client.join("rounds", config(account, {"resume": {"epoch": epoch, "offset": offsets[name]}}))
            assert reply["payload"]["status"] == "ok", reply
            assert check_praxis(reply["payload"]["response"])["recovered"] is True, (name, reply)
            await client.wait_change("rounds", lambda d: row_id(d) == fence["id"], what=f"{name}: the fence")
            got = summary(client.changes("rounds"))
            if name == "stranger":
                assert got == [("practice_rooms", "INSERT", fence["id"])], (name, got)
            else:
                assert got == [("practice_rounds", "INSERT", round_row["id"]), ("practice_rounds", "UPDATE", round_row["id"]),
                               ("practice_rooms", "INSERT", fence["id"])], (name, got)
                replayed = client.changes("rounds")
                assert replayed[0]["data"]["record"] == round_row and replayed[1]["data"]["record"] == finished
    finally:
        await close_all(*clients)


async def test_resume_replays_a_rounds_large_transcript_as_each_change_carried_it(server):
    """The change log refers to values of 1 KiB or more in their rows instead of copying them;
    a resume still gets every change as it was made: the transcript a round was inserted and
    finished with, and the new one only on the change that replaced it."""
    host = user_with_profile(server, "host")
    room = await run(make_room, host)
    config = lambda praxis: join_payload(  # noqa: E731
        binding("practice_rounds"), binding("practice_rooms", "INSERT"), access_token=host.access_token, praxis=praxis)
    first = [{"seq": n, "role": "candidate", "text": f"first transcript, turn {n}: " + "words " * 20} for n in range(1, 21)]
    second = [{"seq": n, "role": "candidate", "text": f"second transcript, turn {n}: " + "other " * 20} for n in range(1, 21)]
    client = await Phoenix.connect(server)
    try:
        _, response = await client.join_ok("rounds", config({"snapshot": True}))
        praxis = check_praxis(response)
        await client.close()

        service = service_client(server)
        inserted = (await run(lambda: service.table("practice_rounds").insert(
            {"room_id": room["id"], "round": 1, "candidate_id": host.id, "status": "in_progress", "transcript": first}).execute())).data[0]
        finished = (await run(lambda: service.table("practice_rounds").update(
            {"status": "completed"}).eq("id", inserted["id"]).execute())).data[0]
        replaced = (await run(lambda: service.table("practice_rounds").update(
            {"transcript": second}).eq("id", inserted["id"]).execute())).data[0]
        fence = await run(make_room, host)
        assert inserted["transcript"] == first and finished["transcript"] == first and replaced["transcript"] == second

        client = await Phoenix.connect(server)
        _, reply = await client.join("rounds", config({"resume": {"epoch": praxis["epoch"], "offset": praxis["offset"]}}))
        assert reply["payload"]["status"] == "ok", reply
        assert check_praxis(reply["payload"]["response"])["recovered"] is True, reply
        await client.wait_change("rounds", lambda d: row_id(d) == fence["id"], what="the fence")
        replayed = [change["data"] for change in client.changes("rounds")]
        assert [(d["table"], d["type"]) for d in replayed] == [
            ("practice_rounds", "INSERT"), ("practice_rounds", "UPDATE"), ("practice_rounds", "UPDATE"), ("practice_rooms", "INSERT")]
        assert replayed[0]["record"] == inserted
        assert replayed[1]["record"] == finished
        assert replayed[2]["record"] == replaced and replayed[2]["old_record"]["transcript"] == first
    finally:
        await client.close()


async def test_resume_replays_exactly_the_missed_changes_across_a_restart(tmp_path):
    db = tmp_path / "praxis.sqlite"
    servers = [start_server(db)]
    clients: list[Phoenix] = []
    try:
        server = servers[0]
        host = user_with_profile(server, "host")
        watcher = user_with_profile(server, "watcher")
        config = lambda praxis: join_payload(binding(), access_token=watcher.access_token, praxis=praxis)  # noqa: E731

        # 1. Subscribe and record where the feed is.
        first = await Phoenix.connect(server)
        clients.append(first)
        _, response = await first.join_ok("board", config({"snapshot": True}))
        epoch = check_praxis(response)["epoch"]
        r1 = await run(make_room, host)
        change = await first.wait_change("board", lambda d: row_id(d) == r1["id"])
        assert change["data"]["epoch"] == epoch
        last = change["data"]["offset"]
        await first.close()

        # 2. While away: three changes the watcher may see, one it may not.
        r2 = await run(make_room, host)
        hidden = await run(make_room, host, private=True)
        r2b = await run(update_room, host, r2["id"], {"type": "Communication"})
        await run(delete_room, host, r1["id"])

        # 3. Resume: exactly those three, in order, after the "subscribed" message, then live.
        second = await Phoenix.connect(server)
        clients.append(second)
        _, reply = await second.join("board", config({"resume": {"epoch": epoch, "offset": last}}))
        assert reply["payload"]["status"] == "ok", reply
        praxis = check_praxis(reply["payload"]["response"])
        assert praxis["recovered"] is True and praxis["epoch"] == epoch, praxis
        system_index, _ = await second.subscribed("board")
        replayed = await second.wait_changes("board", 3)
        assert summary(replayed) == [("practice_rooms", "INSERT", r2["id"]), ("practice_rooms", "UPDATE", r2["id"]),
                                     ("practice_rooms", "DELETE", r1["id"])], second.describe()
        first_change = next(i for i, m in enumerate(second.log) if m["event"] == "postgres_changes")
        assert first_change > system_index, "replayed changes come after the system message"
        assert replayed[0]["data"]["record"] == r2 and replayed[1]["data"]["record"] == r2b
        assert replayed[2]["data"]["old_record"] == r1
        offsets = [p["data"]["offset"] for p in replayed]
        assert offsets[0] > last and strictly_increasing(offsets), offsets
        assert all(p["data"]["epoch"] == epoch for p in replayed)
        r3 = await run(make_room, host)
        changes = await second.wait_changes("board", 4)
        assert len(changes) == 4 and row_id(changes[3]["data"]) == r3["id"], second.describe()
        assert changes[3]["data"]["offset"] > offsets[-1]
        last = changes[3]["data"]["offset"]
        await second.close()
        assert hidden["id"] not in {row_id(p["data"]) for p in changes}

        # 4. One change, a restart on the same database file, another change.
        r4 = await run(make_room, host)
        server.stop()
        server = start_server(db)
        servers.append(server)
        host = await run(sign_in, server, host.email, PASSWORD)
        r5 = await run(make_room, host)
        third = await Phoenix.connect(server)
        clients.append(third)
        _, reply = await third.join("board", config({"resume": {"epoch": epoch, "offset": last}}))
        assert reply["payload"]["status"] == "ok", reply
        praxis = check_praxis(reply["payload"]["response"])
        assert praxis["epoch"] == epoch and praxis["recovered"] is True, "the epoch survives a restart"
        await third.subscribed("board")
        replayed = await third.wait_changes("board", 2)
        assert summary(replayed) == [("practice_rooms", "INSERT", r4["id"]), ("practice_rooms", "INSERT", r5["id"])]
        assert last < replayed[0]["data"]["offset"] < replayed[1]["data"]["offset"]
        r6 = await run(make_room, host)
        changes = await third.wait_changes("board", 3)
        assert len(changes) == 3 and row_id(changes[2]["data"]) == r6["id"], third.describe()
        assert changes[2]["data"]["epoch"] == epoch

        # 5. An epoch the server never had: no replay, a fresh snapshot instead.
        fourth = await Phoenix.connect(server)
        clients.append(fourth)
        _, reply = await fourth.join("board", config({"resume": {"epoch": "made-up-epoch", "offset": last}}))
        assert reply["payload"]["status"] == "ok", reply
        praxis = check_praxis(reply["payload"]["response"])
        assert praxis["recovered"] is False and praxis["epoch"] == epoch, praxis
        visible = (await run(lambda: new_client(server).table("practice_rooms").select("*")
                             .order("id").execute())).data
        assert {r["id"] for r in visible} == {r2["id"], r3["id"], r4["id"], r5["id"], r6["id"]}
        assert sorted((without_tag(r) for r in praxis["snapshot"]), key=lambda r: r["id"]) == visible
        await fourth.subscribed("board")
        r7 = await run(make_room, host)
        change = await fourth.wait_change("board", lambda d: True)
        assert row_id(change["data"]) == r7["id"], "nothing is replayed after a snapshot"
        assert change["data"]["offset"] > praxis["offset"]
    finally:
        await close_all(*clients)
        for srv in servers:
            srv.stop()


# ====================================================================== leaving, unjoined topics, tokens


async def test_leave_replies_then_closes_the_topic(server):
    leaver = await Phoenix.connect(server)
    talker = await Phoenix.connect(server)
    try:
        join_ref, _ = await leaver.join_ok("lobby", join_payload(access_token=server.anon_key))
        await talker.join_ok("lobby", join_payload(access_token=server.anon_key, broadcast_self=True))
        ref = await leaver.push("realtime:lobby", "phx_leave", {}, join_ref=join_ref)
        reply = await leaver.reply(ref, "realtime:lobby")
        assert reply["payload"]["status"] == "ok", reply
        reply_index = leaver.log.index(reply)
        close_index, _ = await leaver.wait_for(lambda m: m["topic"] == "realtime:lobby" and m["event"] == "phx_close",
                                               start=reply_index + 1, what="phx_close after the leave reply")
        assert close_index > reply_index

        # Gone from the topic: others' broadcasts no longer reach it, and its pushes are errors.
        body = {"type": "broadcast", "event": "after", "payload": {"n": 1}}
        await talker.push("realtime:lobby", "broadcast", body)
        await talker.wait_for(lambda m: m["event"] == "broadcast", what="talker's own broadcast")
        assert (await leaver.heartbeat())["payload"]["status"] == "ok"
        assert leaver.on("lobby", "broadcast") == []
        ref = await leaver.push("realtime:lobby", "broadcast", body)
        _, answer = await leaver.wait_for(
            lambda m: m["topic"] == "realtime:lobby" and (
                (m["event"] == "phx_reply" and m["ref"] == ref) or m["event"] == "phx_error"),
            start=close_index + 1, what="an error for a push after leaving")
        if answer["event"] == "phx_reply":
            assert answer["payload"]["status"] == "error", answer
    finally:
        await close_all(leaver, talker)


async def test_realtime_py_unsubscribe_closes_the_channel(server):
    client = await realtime_client(server)
    try:
        channel = client.channel("short-lived").on_postgres_changes(Listen.All, Sink(), table="practice_rooms")
        states = await subscribe(channel)
        await channel.unsubscribe()
        await states.wait(lambda items: RealtimeSubscribeStates.CLOSED in items, what="CLOSED")
        assert states.items == [RealtimeSubscribeStates.SUBSCRIBED, RealtimeSubscribeStates.CLOSED], states.items
    finally:
        await close_all(client)


@pytest.mark.parametrize("event", ["broadcast", "presence", "access_token", "custom_event"])
async def test_push_to_a_topic_not_joined_is_an_error(server, event):
    client = await Phoenix.connect(server)
    try:
        payloads = {
            "broadcast": {"type": "broadcast", "event": "x", "payload": {}},
            "presence": {"type": "presence", "event": "track", "payload": {"a": 1}},
            "access_token": {"access_token": server.anon_key},
            "custom_event": {"anything": True},
        }
        ref = await client.push("realtime:never-joined", event, payloads[event])
        _, answer = await client.wait_for(
            lambda m: m["topic"] == "realtime:never-joined" and (
                (m["event"] == "phx_reply" and m["ref"] == ref) or m["event"] == "phx_error"),
            what="an error for a topic that was not joined")
        if answer["event"] == "phx_reply":
            assert answer["payload"]["status"] == "error", answer
            assert isinstance(answer["payload"]["response"].get("reason"), str), answer
            assert answer["payload"]["response"]["reason"], answer
        assert (await client.heartbeat())["payload"]["status"] == "ok", "the connection stays usable"
    finally:
        await client.close()


async def test_access_token_event_rechecks_authorisation(server):
    host = user_with_profile(server, "host")
    again = sign_in(server, host.email, PASSWORD)
    client = await Phoenix.connect(server)
    try:
        join_ref, _ = await client.join_ok("mine", join_payload(binding(filter=f"host_id=eq.{host.id}"),
                                                                access_token=host.access_token))
        await client.join_ok("watch", join_payload(binding(), access_token=server.service_key))

        # A fresh, valid token for the same user: the channel carries on, private rows included.
        await client.send("realtime:mine", "access_token", {"access_token": again.access_token},
                          ref=client.next_ref(), join_ref=join_ref)
        private = await run(make_room, host, private=True)
        change = await client.wait_change("mine", lambda d: row_id(d) == private["id"])
        assert change["data"]["record"] == private
        assert not any(m["topic"] == "realtime:mine" and m["event"] in ("phx_close", "phx_error")
                       for m in client.log)

        # An expired token: a system error asking for a fresh token, then phx_close.
        mark = len(client.log)
        await client.send("realtime:mine", "access_token", {"access_token": expired_user_token(server, host)},
                          ref=client.next_ref(), join_ref=join_ref)
        error_index, error = await client.wait_for(
            lambda m: m["topic"] == "realtime:mine" and m["event"] == "system"
            and m["payload"].get("status") == "error", start=mark, what="the system error for an expired token")
        payload = error["payload"]
        assert all(isinstance(payload.get(key), str) for key in ("channel", "extension", "message")), payload
        assert payload["channel"] == "mine", payload
        assert "token" in payload["message"].lower() and "refresh" in payload["message"].lower(), payload
        assert error.get("ref") is None, error
        await client.wait_for(lambda m: m["topic"] == "realtime:mine" and m["event"] == "phx_close",
                              start=error_index + 1, what="phx_close after the system error")

        # The closed channel gets nothing more; the other channel on the socket carries on.
        before = len(client.changes("mine"))
        later = await run(make_room, host)
        await client.wait_change("watch", lambda d: row_id(d) == later["id"])
        assert len(client.changes("mine")) == before
        assert (await client.heartbeat())["payload"]["status"] == "ok"
    finally:
        await client.close()


async def test_realtime_py_set_auth_with_an_expired_token_closes_the_channel(server):
    host = user_with_profile(server, "host")
    client = await realtime_client(server, host.access_token)
    try:
        channel = client.channel("py-mine").on_postgres_changes(Listen.All, Sink(), table="practice_rooms")
        states = await subscribe(channel)
        await client.set_auth(expired_user_token(server, host))
        await states.wait(lambda items: RealtimeSubscribeStates.CLOSED in items, what="CLOSED")
        items = states.items
        assert items[0] == RealtimeSubscribeStates.SUBSCRIBED
        assert RealtimeSubscribeStates.CHANNEL_ERROR in items and items[-1] == RealtimeSubscribeStates.CLOSED, items
        error = states.errors[items.index(RealtimeSubscribeStates.CHANNEL_ERROR)]
        assert "refresh" in str(error).lower(), error
    finally:
        await close_all(client)
