"""Issue 11, items 3 and 8: the room engine follows the database's seat, the seat is fixed once
round 1 has started, and a deleted room answers every command (protocol/room.md, access-rules.md).

Attackers and users as they are: guests and hosts with unmodified supabase-py for the data API,
raw Phoenix room peers (room_helpers.RoomPeer) or realtime-py for the room channel. Every wait is
event driven and bounded.
"""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from postgrest.exceptions import APIError

from conftest import start_server
from helpers import db_rows, service_client, user_with_profile
from realtime_helpers import close_all, run
from room_helpers import (
    Case,
    RoomChannel,
    RoomPeer,
    Seated,
    assert_never_seen,
    client_id,
    published_cases,
    recording_realtime_client,
    seated_room,
    take_seat,
)

FAST_HASH = ("--password-hash-cost", "10")
NOT_GUEST = "you are no longer this room's guest"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("security-rooms") / "rooms.sqlite", "--demo", "--room-grace", "300",
                       *FAST_HASH)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cases(server) -> list[Case]:
    found = published_cases(server)
    assert len(found) >= 2
    return found


def set_guest(account, room_id: str, guest_id: str | None) -> list[dict]:
    """`update practice_rooms set guest_id = … where id = …` through the account's supabase-py client."""
    return account.client.table("practice_rooms").update({"guest_id": guest_id}).eq("id", room_id).execute().data


def refused_update(account, room_id: str, guest_id: str | None) -> APIError:
    with pytest.raises(APIError) as caught:
        set_guest(account, room_id, guest_id)
    return caught.value


def stored_guest(server, room_id: str) -> str | None:
    return db_rows(server, "SELECT guest_id FROM practice_rooms WHERE id = ?", (room_id,))[0][0]


def rounds_of(server, room_id: str) -> list[tuple]:
    return db_rows(server, "SELECT round, candidate_id, transcript FROM practice_rounds WHERE room_id = ? ORDER BY round",
                   (room_id,))


async def closed_with_reason(peer: RoomPeer, start: int, contains: str) -> dict:
    """Waits for the Supabase-style end of a channel: `system` {status: error, message} then `phx_close`."""
    index, system = await peer.wait(
        lambda m: m.get("topic") == peer.topic and m.get("event") == "system"
        and (m.get("payload") or {}).get("status") == "error", start=start, what="a system error")
    payload = system["payload"]
    assert payload.get("extension") == "system" and payload.get("channel") == f"room:{peer.room_id}", payload
    assert contains in payload.get("message", ""), payload
    await peer.wait(lambda m: m.get("topic") == peer.topic and m.get("event") == "phx_close", start=index + 1,
                    what="phx_close after the system error")
    return payload


async def wait_frames(frames, topic: str, done, timeout: float = 10.0) -> list[tuple[str, dict]]:
    """(event, payload) of the frames a realtime-py socket received on `topic`, once `done(them)`."""
    deadline = time.monotonic() + timeout
    while True:
        seen = [(m.get("event"), m.get("payload") or {}) for m in frames.decoded()
                if isinstance(m, dict) and m.get("topic") == topic]
        if done(seen):
            return seen
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out on {topic}: {seen[-8:]}"
        frames.arrived.clear()
        try:
            await asyncio.wait_for(frames.arrived.wait(), remaining)
        except TimeoutError:
            pass


async def play_to_roleplay(host: RoomPeer, guest: RoomPeer, case: Case, tag: str) -> None:
    await host.ok("set_timing", {"client_id": f"{tag}-timing", "preparation_seconds": 1800, "roleplay_seconds": 1800})
    await host.ok("choose_case", {"client_id": f"{tag}-case", "case_id": case.id})
    await host.ok("ready", {"client_id": f"{tag}-ready-h"})
    await guest.ok("ready", {"client_id": f"{tag}-ready-g"})
    await host.ok("start_round", {"client_id": f"{tag}-start"})
    await guest.ok("start_roleplay", {"client_id": f"{tag}-roleplay"})
    for peer in (host, guest):
        await peer.wait_event("phase", lambda p: p.get("phase") == "roleplay")


# ====================================================================== item 3: the room follows the seat


async def test_a_guest_who_gave_the_seat_back_is_out_and_the_new_guest_is_in(server, cases):
    seated = seated_room(server, "giveback", private=True)
    c = user_with_profile(server, "newguest")
    host = await RoomPeer.open(server, seated.host, seated.id)
    b = await RoomPeer.open(server, seated.guest, seated.id)
    peers = [host, b]
    try:
        mark_b, mark_host = len(b.phoenix.log), len(host.phoenix.log)
        # B gives the seat back, as the app does (allowed before round 1).
        await run(set_guest, seated.guest, seated.id, None)  # (the private room is then out of B's sight: [] back)
        assert stored_guest(server, seated.id) is None
        await closed_with_reason(b, mark_b, NOT_GUEST)
        seat = await host.wait_event("seat", lambda p: p.get("guest_id") is None, start=mark_host)
        assert seat["previous_guest_id"] == seated.guest.id and seat["reason"] == "seat_given_back", seat

        # B's later commands on the old channel are answered with an error, never applied.
        reason = await b.refused("ready", {"client_id": client_id("late")})
        assert "not in this room" in reason, reason
        # B cannot join again: the seat is the database's.
        reply = await b.join()
        assert reply["payload"]["status"] == "error", reply
        assert "host and guest" in reply["payload"]["response"]["reason"], reply

        # C takes the free seat and joins; the host hears it.
        mark_host = len(host.phoenix.log)
        await run(take_seat, c, seated.room)
        await host.wait_event("seat", lambda p: p.get("guest_id") == c.id, start=mark_host)
        c_peer = await RoomPeer.open(server, c, seated.id)
        peers.append(c_peer)
        assert c_peer.snapshot["room"]["guest_id"] == c.id and c_peer.snapshot["role"] == "interlocutor", c_peer.snapshot

        # Round 1 with C: C gets the actor brief, B (still connected) gets nothing of it.
        case = cases[0]
        await play_to_roleplay(host, c_peer, case, "gb")
        assert (await c_peer.wait_brief())["text"] == case.actor_brief
        await host.ok("turn", {"client_turn_id": "h1", "text": "Good morning, what brings you in?"})
        await c_peer.ok("turn", {"client_turn_id": "c1", "text": "I have had a cough for weeks."})
        reason = await b.refused("turn", {"client_turn_id": "b1", "text": "I am still here"})
        assert reason == "unmatched topic", reason  # its refused rejoin left B with no room channel
        await host.ok("end_round", {"client_id": "gb-end"})
        await host.wait_event("round_ended")
        assert_never_seen(b.texts(), case.actor_brief, "the actor brief, to the former guest")
        assert_never_seen(b.texts(), case.candidate_brief, "the candidate brief, to the former guest")
        assert "I have had a cough" not in json.dumps(b.phoenix.raw), "the former guest heard the new guest's turn"

        # The stored round has only the host and C in it.
        [(round_, candidate, transcript)] = rounds_of(server, seated.id)
        speakers = {turn["speaker_id"] for turn in json.loads(transcript)}
        assert (round_, candidate) == (1, seated.host.id) and speakers == {seated.host.id, c.id}, transcript
    finally:
        await close_all(*(p.phoenix for p in peers))


async def test_the_seat_is_fixed_once_round_one_has_started(server, cases):
    seated = seated_room(server, "fixed")
    c = user_with_profile(server, "latecomer")
    host, b = await RoomPeer.open(server, seated.host, seated.id), await RoomPeer.open(server, seated.guest, seated.id)
    try:
        await play_to_roleplay(host, b, cases[1], "fx")
        # Mid-round: neither B (giving it back) nor the host (freeing it) moves the seat.
        for who in (seated.guest, seated.host):
            error = await run(refused_update, who, seated.id, None)
            assert error.code == "42501" and "fixed once round 1 has started" in error.message, error
        assert stored_guest(server, seated.id) == seated.guest.id
        await b.ok("turn", {"client_turn_id": "b-still", "text": "Still the guest."})

        # Between the rounds (stage 2) the seat stays fixed too: nobody else reads round 1 as guest.
        await host.ok("end_round", {"client_id": "fx-end"})
        await host.wait_event("stage", lambda p: p.get("stage") == 2)
        error = await run(refused_update, seated.guest, seated.id, None)
        assert error.code == "42501", error
        assert stored_guest(server, seated.id) == seated.guest.id
        outsider = await RoomPeer.connect(server, c, seated.id)
        try:
            reply = await outsider.join()
        finally:
            await outsider.close()
        assert reply["payload"]["status"] == "error", reply
        seen = c.client.table("practice_rounds").select("id").eq("room_id", seated.id).execute().data
        assert seen == [], "an outsider reads no round"
    finally:
        await close_all(host.phoenix, b.phoenix)


async def test_a_service_seat_change_mid_round_cancels_the_round_and_persists_nothing(server, cases):
    seated = seated_room(server, "reseat")
    c = user_with_profile(server, "reseated")
    host, b = await RoomPeer.open(server, seated.host, seated.id), await RoomPeer.open(server, seated.guest, seated.id)
    peers = [host, b]
    try:
        case = cases[2]
        await play_to_roleplay(host, b, case, "rs")
        await b.ok("turn", {"client_turn_id": "b1", "text": "Only B said this."})
        mark_b, mark_host = len(b.phoenix.log), len(host.phoenix.log)
        # A trusted back end reassigns the seat mid-round (the service role passes the rules).
        rows = await run(lambda: service_client(server).table("practice_rooms").update({"guest_id": c.id})
                         .eq("id", seated.id).execute().data)
        assert rows[0]["guest_id"] == c.id
        await closed_with_reason(b, mark_b, NOT_GUEST)
        cancelled = await host.wait_event("round_cancelled", start=mark_host)
        assert cancelled["round"] == 1 and cancelled["reason"] == "seat_changed", cancelled
        await host.wait_event("phase", lambda p: p.get("phase") == "waiting", start=mark_host)
        reason = await b.refused("turn", {"client_turn_id": "b2", "text": "Let me in"})
        assert "not in this room" in reason, reason

        # C joins a room waiting for round 1, without B's turns; the round is played again with C.
        c_peer = await RoomPeer.open(server, c, seated.id)
        peers.append(c_peer)
        snap = c_peer.snapshot
        assert snap["room"]["phase"] == "waiting" and snap["room"]["guest_id"] == c.id and snap["transcript"] == [], snap
        assert snap["brief"] is None
        assert rounds_of(server, seated.id) == [], "the cancelled round is not persisted"
        await c_peer.ok("ready", {"client_id": "rs-ready-c"})
        await host.ok("ready", {"client_id": "rs-ready-h2"})
        await host.ok("start_round", {"client_id": "rs-start-2"})
        await c_peer.ok("start_roleplay", {"client_id": "rs-roleplay-2"})
        await c_peer.ok("turn", {"client_turn_id": "c1", "text": "C plays the patient now."})
        await host.ok("end_round", {"client_id": "rs-end"})
        await host.wait_event("round_ended")
        [(round_, candidate, transcript)] = rounds_of(server, seated.id)
        turns = json.loads(transcript)
        assert {t["speaker_id"] for t in turns} == {c.id} and "Only B said this." not in transcript, transcript
        # B, who is not in the room any more, reads no round of it.
        seen = seated.guest.client.table("practice_rounds").select("id").eq("room_id", seated.id).execute().data
        assert seen == []
    finally:
        await close_all(*(p.phoenix for p in peers))


async def test_realtime_py_guest_is_closed_when_the_seat_is_given_back(server):
    seated = seated_room(server, "pyseat")
    client, frames = await recording_realtime_client(server, seated.guest.access_token)
    host = await RoomPeer.open(server, seated.host, seated.id)
    try:
        room = RoomChannel(client.channel(f"room:{seated.id}"), frames, seated.id)
        await room.subscribe()
        await run(set_guest, seated.guest, seated.id, None)
        await host.wait_event("seat", lambda p: p.get("guest_id") is None)

        events = await wait_frames(frames, room.topic, lambda seen: "phx_close" in [e for e, _ in seen])
        system = [payload for event, payload in events if event == "system" and payload.get("status") == "error"]
        assert system and NOT_GUEST in system[0]["message"], events
        assert [e for e, _ in events].index("system") < [e for e, _ in events].index("phx_close"), events
        states = [getattr(state, "value", state) for state, _ in room.states]
        assert states[0] == "SUBSCRIBED", states
        # realtime-py's own push on the closed channel is not applied (no ok reply).
        assert db_rows(server, "SELECT guest_id FROM practice_rooms WHERE id = ?", (seated.id,))[0][0] is None
    finally:
        await close_all(client, host.phoenix)


# ====================================================================== item 8: deleting a room


async def test_a_room_with_a_live_round_cannot_be_deleted_by_its_host(server, cases):
    seated = seated_room(server, "nodelete")
    host, guest = await RoomPeer.open(server, seated.host, seated.id), await RoomPeer.open(server, seated.guest, seated.id)
    try:
        await play_to_roleplay(host, guest, cases[3], "nd")
        with pytest.raises(APIError) as caught:
            await run(lambda: seated.host.client.table("practice_rooms").delete().eq("id", seated.id).execute())
        assert caught.value.code == "55006" and "round in progress" in caught.value.message, caught.value
        assert db_rows(server, "SELECT count(*) FROM practice_rooms WHERE id = ?", (seated.id,))[0][0] == 1
        # Nothing changed for the members: the round goes on.
        await guest.ok("turn", {"client_turn_id": "g1", "text": "We carry on."})
    finally:
        await close_all(host.phoenix, guest.phoenix)


async def test_a_service_delete_mid_round_tells_the_members_and_answers_every_command(server, cases):
    seated = seated_room(server, "svcdelete")
    host, guest = await RoomPeer.open(server, seated.host, seated.id), await RoomPeer.open(server, seated.guest, seated.id)
    try:
        await play_to_roleplay(host, guest, cases[4], "sd")
        marks = {peer: len(peer.phoenix.log) for peer in (host, guest)}
        deleted = await run(lambda: service_client(server).table("practice_rooms").delete().eq("id", seated.id).execute().data)
        assert [row["id"] for row in deleted] == [seated.id]
        for peer in (host, guest):
            await closed_with_reason(peer, marks[peer], "the room was deleted")
        # The guest's next turn gets a phx_reply error (no phx_error, no foreign-key wording).
        mark = len(guest.phoenix.log)
        reply = await guest.command("turn", {"client_turn_id": "g-after", "text": "Hello?"})
        assert reply["status"] == "error" and reply["response"]["reason"] == "the room was deleted", reply
        later = [m for m in guest.phoenix.log[mark:] if m.get("topic") == guest.topic]
        assert not any(m.get("event") == "phx_error" for m in later), later
        assert "FOREIGN KEY" not in json.dumps(guest.phoenix.raw).upper()
        assert (await host.command("end_round", {"client_id": "sd-end"}))["status"] == "error"
        # Joining again: the room is gone.
        reply = await guest.join()
        assert reply["payload"]["status"] == "error" and reply["payload"]["response"]["reason"] == "room not found", reply
    finally:
        await close_all(host.phoenix, guest.phoenix)


async def test_a_host_delete_between_rounds_tells_the_members(server):
    seated = seated_room(server, "hostdelete")
    host, guest = await RoomPeer.open(server, seated.host, seated.id), await RoomPeer.open(server, seated.guest, seated.id)
    try:
        mark = len(guest.phoenix.log)
        await run(lambda: seated.host.client.table("practice_rooms").delete().eq("id", seated.id).execute())
        await closed_with_reason(guest, mark, "the room was deleted")
        reply = await guest.command("ready", {"client_id": "hd-ready"})
        assert reply["status"] == "error" and reply["response"]["reason"] == "the room was deleted", reply
    finally:
        await close_all(host.phoenix, guest.phoenix)
