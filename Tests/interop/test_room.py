"""Practice rooms (protocol/room.md) through the unmodified PyPI clients and a raw Phoenix client.

Run: `.venv/bin/pytest Tests/interop/test_room.py -x -q` (under a minute and a half).

Three servers are started once for the module (`servers`): `main` with the documented defaults (but
--room-grace 300 and --room-replay-limit 40), `fast` with --room-min-phase-seconds 2 so that the
deadlines the server acts on come in seconds, and `assessor` with --assessor-url pointing at a fake
OpenAI-compatible endpoint run by the test. Each test plays its own room with its own users.
Role-play is reached with `start_roleplay` (a peer ends preparation early), except in the whole-room
test, where the server itself ends preparation and round 2 at their deadlines; the grace test starts
its own server with --room-grace 1.

Every wait is event driven with a deadline (replies and events are awaited on the message logs the
readers fill); nothing sleeps and hopes.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from realtime import RealtimePostgresChangesListenEvent as Listen
from supabase import AsyncClientOptions, acreate_client

from conftest import start_server
from helpers import PASSWORD, TIMESTAMP, UUID_V4, db_rows, make_room, user_token, user_with_profile
from realtime_helpers import Sink, close_all, realtime_client, run, subscribe
from room_helpers import (
    OET_CLINICAL,
    OET_LINGUISTIC,
    PHASES,
    ROOM_EVENTS,
    Case,
    FakeAssessor,
    RoomChannel,
    RoomPeer,
    Seated,
    assert_never_seen,
    assert_seen,
    case_by_id,
    chat_completion,
    client_id,
    comparable,
    is_int,
    iso_utc,
    model_assessment,
    now_utc,
    published_cases,
    record_frames,
    recording_realtime_client,
    seated_room,
    seconds_between,
    seconds_until,
    snapshot_of,
    strictly_increasing,
    strings_in,
    take_seat,
)

COMPLETE = "the room is complete (stage 3) and read-only"
NEEDS_CLIENT_ID = "client_id is required (1 to 128 characters)"
NEEDS_TEXT = "a turn needs text"
TOO_LONG = "a turn is at most 4000 characters"
HOST_CHOOSES = "only the host may choose the case"
COMMANDS_ONLY = "room topics carry room commands only"
NOT_MEMBER = "only the room's host and guest may join this room"
NEEDS_USER = "unauthorized: room channels need a signed-in user"
NOT_FOUND = "room not found"
MODEL = "fake-oet-1"
ASSESSOR_KEY = "sk-test-praxis-123"
ASSESSOR_TIMEOUT = 2
FAST_HASH = ("--password-hash-cost", "10")

pytestmark = pytest.mark.timeout(60)


def not_in_phase(phase: str, needs: str) -> str:
    return f"not allowed in phase {phase} (needs {needs})"


def reused(cid: str) -> str:
    return f"client id {cid} was already used for a different command"


# ====================================================================== servers (module fixture)


@dataclass
class Servers:
    main: object       # defaults but --room-grace 300, --room-replay-limit 40, --room-recent-events 4 (and a WS rate of 1000/s)
    fast: object       # --room-min-phase-seconds 2: phases the server ends by time, in seconds
    assessor: object   # --assessor-url of a fake chat-completions endpoint
    fake: FakeAssessor


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("rooms")
    fake = FakeAssessor()
    started = []
    try:
        # --room-recent-events 4: snapshots and resumes on this server read the journal for
        # all but the latest few events, so every test here goes through that path.
        # --ws-max-messages-per-second 1000: the resume test sends 120 turns back to back from
        # one connection, past the default 100 per second (a limit test_ws_* covers).
        started.append(start_server(directory / "main.sqlite", "--demo", "--room-grace", "300",
                                    "--room-replay-limit", "40", "--room-recent-events", "4",
                                    "--ws-max-messages-per-second", "1000", *FAST_HASH))
        started.append(start_server(directory / "fast.sqlite", "--demo", "--room-grace", "300",
                                    "--room-min-phase-seconds", "2", *FAST_HASH))
        started.append(start_server(directory / "assessor.sqlite", "--demo", "--room-grace", "300", *FAST_HASH,
                                    "--assessor-url", fake.url, "--assessor-model", MODEL,
                                    "--assessor-key", ASSESSOR_KEY, "--assessor-timeout", str(ASSESSOR_TIMEOUT)))
        for server in started:
            assert len(cases_of(server)) == 47, "--demo publishes 47 cases"
        yield Servers(*started, fake)
    finally:
        for server in started:
            server.stop()
        fake.stop()


_CASES: dict[str, list[Case]] = {}


def cases_of(server) -> list[Case]:
    """The published cases of this server's database (each --demo database has its own ids)."""
    key = str(server.db)
    if key not in _CASES:
        _CASES[key] = published_cases(server)
    return _CASES[key]


async def to_roleplay(server, seated: Seated, case: Case, roleplay_seconds: int = 1800,
                      vsn: str = "1.0.0") -> tuple[RoomPeer, RoomPeer]:
    """Joins as host and guest and plays round 1 up to role-play (`start_roleplay` ends preparation)."""
    host = await RoomPeer.open(server, seated.host, seated.id)
    guest = await RoomPeer.open(server, seated.guest, seated.id, vsn=vsn)
    try:
        await host.ok("set_timing", {"client_id": "rp-timing", "preparation_seconds": 1800,
                                     "roleplay_seconds": roleplay_seconds})
        await host.ok("choose_case", {"client_id": "rp-case", "case_id": case.id})
        await host.ok("ready", {"client_id": "rp-ready-host"})
        await guest.ok("ready", {"client_id": "rp-ready-guest"})
        await host.ok("start_round", {"client_id": "rp-start"})
        await guest.ok("start_roleplay", {"client_id": "rp-roleplay"})
        for peer in (host, guest):
            await peer.wait_event("phase", lambda p: p.get("phase") == "roleplay")
    except BaseException:
        await close_all(host, guest)
        raise
    return host, guest


# ====================================================================== shared checks


def check_ts(value, what: str = "timestamp") -> None:
    assert isinstance(value, str) and TIMESTAMP.match(value), f"{what}: {value!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"


def check_event(payload: dict, name: str) -> None:
    """Every event's payload has an integer `offset` and a timestamp `at`."""
    assert is_int(payload.get("offset")), f"{name} event without an integer offset: {payload!r}"
    check_ts(payload.get("at"), f"{name}.at")


def check_snapshot(snapshot: dict, seated: Seated, you: str, *, phase: str, stage: int, round_: int | None,
                   role: str | None) -> dict:
    """The documented snapshot shape and the values every snapshot must agree with."""
    for key in ("room", "you", "role", "brief", "transcript", "offset", "recovered"):
        assert key in snapshot, f"snapshot without {key}: {snapshot!r}"
    assert snapshot.get("postgres_changes") == [], snapshot
    room = snapshot["room"]
    for key in ("id", "host_id", "guest_id", "type", "stage", "round", "phase", "deadline", "server_time",
                "timing", "case", "ready", "present", "away", "round_ids"):
        assert key in room, f"snapshot room without {key}: {room!r}"
    assert room["id"] == seated.id and room["host_id"] == seated.host.id, room
    assert room["guest_id"] == seated.room["guest_id"] and room["type"] == seated.room["type"], room
    assert room["phase"] in PHASES and room["phase"] == phase, (room["phase"], phase)
    assert room["stage"] == stage and room["round"] == round_, room
    check_ts(room["server_time"], "server_time")
    assert abs(seconds_between(now_utc(), room["server_time"])) < 5, room["server_time"]
    if phase in ("preparation", "roleplay"):
        check_ts(room["deadline"], "deadline")
    else:
        assert room["deadline"] is None, room
    timing = room["timing"]
    assert set(timing) == {"preparation_seconds", "roleplay_seconds"}, timing
    assert all(is_int(v) and 0 < v <= 1800 for v in timing.values()), timing
    if room["case"] is not None:
        assert set(room["case"]) == {"id", "case_name", "domain", "target_profession", "difficulty_level"}, room
    assert isinstance(room["ready"], list) and isinstance(room["present"], list), room
    assert isinstance(room["away"], list) and all(set(a) == {"user_id", "until"} for a in room["away"]), room
    assert set(room["round_ids"]) == {"1", "2"}, room["round_ids"]
    assert snapshot["you"] == you, snapshot["you"]
    assert snapshot["role"] == role, (snapshot["role"], role)
    assert isinstance(snapshot["transcript"], list), snapshot
    assert is_int(snapshot["offset"]) and snapshot["recovered"] in (True, False), snapshot
    if phase in ("waiting", "ended"):
        assert snapshot["brief"] is None, f"no brief before the round starts / in stage 3: {snapshot['brief']!r}"
    return room


def check_brief(brief: dict, round_: int, role: str, case: Case) -> None:
    assert brief == {"round": round_, "role": role, "case_id": case.id, "case_name": case.case_name,
                     "text": case.brief(role)}, brief


def check_turn_event(payload: dict, round_: int, speaker: str, role: str, text: str, turn_id: str) -> None:
    check_event(payload, "turn")
    assert is_int(payload.get("seq")), payload
    assert {k: payload.get(k) for k in ("round", "speaker_id", "role", "text", "client_turn_id")} == {
        "round": round_, "speaker_id": speaker, "role": role, "text": text, "client_turn_id": turn_id}, payload


TURN_KEYS = ("seq", "text", "speaker_id", "role", "client_turn_id")


def project(turns: list[dict]) -> list[dict]:
    return [{k: t.get(k) for k in TURN_KEYS} for t in turns]


def normalise(name: str) -> str:
    return name.replace("\u2019", "'").strip().lower()


def unquote(quote: str) -> str:
    return quote.strip().strip("\"'\u201c\u201d\u2018\u2019").strip().strip("\u2026").strip(".").strip()


def check_assessment(assessment: dict, candidate_texts: list[str], other_texts: list[str],
                     assessor: str | None = None) -> None:
    """All nine OET criteria: five clinical scored 0–3 with evidence quoted from the candidate's turns,
    four linguistic with score null and a reason; totals consistent."""
    assert isinstance(assessment, dict), assessment
    if assessor is not None:
        assert assessment.get("assessor") == assessor, assessment.get("assessor")
    criteria = assessment.get("criteria")
    assert isinstance(criteria, list) and len(criteria) == 9, criteria
    names = [normalise(c.get("name", "")) for c in criteria]
    assert sorted(names) == sorted(normalise(n) for n in OET_CLINICAL + OET_LINGUISTIC), names
    clinical = [c for c in criteria if normalise(c["name"]) in {normalise(n) for n in OET_CLINICAL}]
    linguistic = [c for c in criteria if normalise(c["name"]) in {normalise(n) for n in OET_LINGUISTIC}]
    for criterion in clinical:
        assert criterion.get("kind") == "clinical" and criterion.get("max") == 3, criterion
        assert is_int(criterion.get("score")) and 0 <= criterion["score"] <= 3, criterion
        assert isinstance(criterion.get("evidence"), list), criterion
        for quote in criterion["evidence"]:
            assert isinstance(quote, str) and unquote(quote), criterion
            assert any(unquote(quote) in text for text in candidate_texts), \
                f"evidence {quote!r} of {criterion['name']} is not a quote from the candidate's turns"
        assert isinstance(criterion.get("note"), str), criterion
    for criterion in linguistic:
        assert criterion.get("kind") == "linguistic" and criterion.get("max") == 6, criterion
        assert criterion.get("score", "missing") is None and criterion.get("evidence") == [], criterion
        assert isinstance(criterion.get("note"), str) and criterion["note"].strip(), criterion
    assert assessment.get("score_raw") == sum(c["score"] for c in clinical), assessment
    assert assessment.get("score_max") == 15, assessment
    assert isinstance(assessment.get("summary"), str) and assessment["summary"].strip(), assessment
    assert isinstance(assessment.get("strengths"), list), assessment
    assert isinstance(assessment.get("areas_for_improvement"), list), assessment
    for criterion in clinical:  # the interlocutor's lines are never evidence of the candidate
        for quote in criterion["evidence"]:
            assert not any(unquote(quote) in text for text in other_texts) \
                or any(unquote(quote) in text for text in candidate_texts), quote


# ====================================================================== 1. a whole room, two real clients


CANDIDATE_LINES_1 = [
    "Hello, I'm Dr Lee, one of the doctors here. Could you tell me your name and what brings you in today?",
    "I'm sorry to hear that. Can you tell me more about when the cough started and how it has changed?",
    "That sounds worrying for you. What are you most concerned about?",
    "So far you've told me about seven weeks of cough and some weight loss. Is that right?",
    "I'd like to arrange a chest X-ray and some blood tests today, to find out what is causing this.",
]
INTERLOCUTOR_LINES_1 = [
    "Gordon. My wife made me come, it's this cough that won't go.",
    "About two months, after a cold. It never settled.",
    "Well, my brother had something like this, you know.",
    "Yes, that's right, doctor.",
    "Can I keep working while I wait? I can't afford time off.",
]
CANDIDATE_LINES_2 = [
    "Good afternoon, I'm the nurse looking after you today. How can I help?",
    "Can you describe the pain for me, where exactly is it?",
    "Let me explain what happens next, and please stop me if anything is unclear.",
]
INTERLOCUTOR_LINES_2 = [
    "It's my leg, it has been swelling up.",
    "Just here, below the knee, it's hot to touch.",
    "Alright, go on.",
]


async def supabase_host(server, email: str):
    app = await acreate_client(server.url, server.anon_key, AsyncClientOptions(
        auto_refresh_token=False, persist_session=False, realtime={"auto_reconnect": False, "timeout": 10}))
    frames = record_frames(app.realtime)
    session = (await app.auth.sign_in_with_password({"email": email, "password": PASSWORD})).session
    pending = list(getattr(app, "_background_tasks", ()))
    if pending:
        await asyncio.wait(pending, timeout=10)
    assert app.realtime.access_token == session.access_token, "supabase-py did not hand the session to realtime"
    return app, frames


PREP_1, ROLEPLAY_1 = 3, 300    # round 1: the server ends preparation at its deadline; a peer ends the round
PREP_2, ROLEPLAY_2 = 300, 6    # round 2: a peer ends preparation early; the server ends the round by time


@pytest.mark.timeout(120)
async def test_a_whole_room_with_two_real_clients(servers):
    """Host on supabase-py's async client, guest on realtime-py: both rounds, every event both see,
    the persisted transcripts, the assessments, and never the other role's brief.
    (On the server with --room-min-phase-seconds 2, so that the deadlines come in seconds.)"""
    server = servers.fast
    clinical = [c for c in cases_of(server) if c.domain == "Clinical"]
    first_case = next(c for c in clinical if c.target_profession == "medicine")
    seated = await run(seated_room, server, "whole")
    host_id, guest_id = seated.host.id, seated.guest.id
    app, host_frames = await supabase_host(server, seated.host.email)
    guest_client, guest_frames = await recording_realtime_client(server, seated.guest.access_token)
    host = RoomChannel(app.channel(f"room:{seated.id}"), host_frames, seated.id)
    guest = RoomChannel(guest_client.channel(f"room:{seated.id}"), guest_frames, seated.id)
    extra: list[RoomPeer] = []  # raw snapshot connections; their messages count for the leak checks
    rest_seen = {host_id: [], guest_id: []}
    try:
        # ---------------------------------------------------------------- joining, waiting
        snap = await host.subscribe()
        room = check_snapshot(snap, seated, host_id, phase="waiting", stage=1, round_=1, role="candidate")
        assert room["timing"] == {"preparation_seconds": 180, "roleplay_seconds": 300}, "defaults"
        assert room["case"] is None and room["ready"] == [] and room["away"] == [], room
        assert room["round_ids"] == {"1": None, "2": None} and snap["transcript"] == [], snap
        assert host_id in room["present"] and snap["recovered"] is False, snap

        guest_snap = await guest.subscribe()
        room = check_snapshot(guest_snap, seated, guest_id, phase="waiting", stage=1, round_=1, role="interlocutor")
        assert sorted(room["present"]) == sorted([host_id, guest_id]), room
        joined = await host.log.wait("presence", lambda p: p.get("user_id") == guest_id and p.get("status") == "joined")
        check_event(joined, "presence")
        assert sorted(joined["present"]) == sorted([host_id, guest_id]) and joined["away"] == [], joined

        response = await host.ok("set_timing", {"client_id": "timing-1", "preparation_seconds": PREP_1,
                                                "roleplay_seconds": ROLEPLAY_1})
        assert response == {"offset": response["offset"], "repeated": False}, response
        for side in (host, guest):
            timing = await side.log.wait("timing")
            check_event(timing, "timing")
            assert timing["offset"] == response["offset"], (timing, response)
            assert (timing["preparation_seconds"], timing["roleplay_seconds"]) == (PREP_1, ROLEPLAY_1), timing

        response = await host.ok("choose_case", {"client_id": "case-1", "case_id": first_case.id})
        assert response["case"] == first_case.public(), response
        for side in (host, guest):
            chosen = await side.log.wait("case_chosen")
            assert chosen["round"] == 1 and chosen["case"] == first_case.public(), chosen
            assert chosen["offset"] == response["offset"], (chosen, response)

        for side, who, cid in ((guest, guest_id, "ready-g1"), (host, host_id, "ready-h1")):
            response = await side.ok("ready", {"client_id": cid})
            for observer in (host, guest):
                ready = await observer.log.wait("ready", lambda p, who=who: p.get("user_id") == who)
                assert ready["round"] == 1 and ready["offset"] == response["offset"], ready
        assert host.log.of("brief") == [] and guest.log.of("brief") == [], "no brief before the round starts"

        # ---------------------------------------------------------------- round 1: preparation
        started = await guest.ok("start_round", {"client_id": "start-1"})
        phases = {}
        for name, side in (("host", host), ("guest", guest)):
            phases[name] = await side.log.wait("phase", lambda p: p.get("round") == 1 and p.get("phase") == "preparation")
        preparation = phases["host"]
        assert phases["guest"] == preparation and preparation["offset"] == started["offset"], phases
        check_event(preparation, "phase")
        check_ts(preparation["deadline"], "deadline")
        assert abs(seconds_between(preparation["at"], preparation["deadline"]) - PREP_1) < 0.5, preparation
        check_brief(await host.log.wait("brief"), 1, "candidate", first_case)
        check_brief(await guest.log.wait("brief"), 1, "interlocutor", first_case)
        for account, role in ((seated.host, "candidate"), (seated.guest, "interlocutor")):
            peer = await RoomPeer.open(server, account, seated.id)
            extra.append(peer)
            room = check_snapshot(peer.snapshot, seated, account.id, phase="preparation", stage=1, round_=1, role=role)
            assert room["deadline"] == preparation["deadline"] and room["case"] == first_case.public(), room
            assert room["timing"] == {"preparation_seconds": PREP_1, "roleplay_seconds": ROLEPLAY_1}, room
            check_brief(peer.snapshot["brief"], 1, role, first_case)
            await peer.close()

        # ---------------------------------------------------------------- round 1: role-play
        roleplay = await host.log.wait("phase", lambda p: p.get("round") == 1 and p.get("phase") == "roleplay",
                                       timeout=seconds_until(preparation["deadline"]) + 8)
        assert 0 <= seconds_between(preparation["deadline"], roleplay["at"]) < 2, \
            f"the server moves to role-play at the deadline: {preparation['deadline']} → {roleplay['at']}"
        assert seconds_between(preparation["deadline"], roleplay["deadline"]) >= ROLEPLAY_1 - 0.01, roleplay
        assert seconds_between(roleplay["at"], roleplay["deadline"]) <= ROLEPLAY_1 + 0.01, roleplay
        assert await guest.log.wait("phase", lambda p: p.get("phase") == "roleplay") == roleplay

        acked: list[dict] = []  # what each acknowledged turn was, with its ack

        async def say(side: RoomChannel, speaker: str, role: str, text: str, round_: int) -> None:
            turn_id = client_id("t")
            response = await side.ok("turn", {"client_turn_id": turn_id, "text": text})
            assert response["repeated"] is False and is_int(response.get("seq")), response
            acked.append({"seq": response["seq"], "offset": response["offset"], "text": text, "speaker_id": speaker,
                          "role": role, "client_turn_id": turn_id, "round": round_})

        for i, (line, reply) in enumerate(zip(CANDIDATE_LINES_1, INTERLOCUTOR_LINES_1)):
            if i % 2 == 0:
                await say(host, host_id, "candidate", line, 1)
                await say(guest, guest_id, "interlocutor", reply, 1)
            else:  # both at once, as two people talking over each other
                await asyncio.gather(say(host, host_id, "candidate", line, 1),
                                     say(guest, guest_id, "interlocutor", reply, 1))
        round1 = sorted(acked, key=lambda t: t["seq"])
        assert strictly_increasing([t["seq"] for t in round1]) and len(round1) == 10
        assert [t["offset"] for t in round1] == sorted(t["offset"] for t in round1), "seq and offset agree"
        for side in (host, guest):
            await side.log.wait("turn", lambda p, side=side: len(side.log.of("turn")) >= 10)
            events = side.log.of("turn")
            assert len(events) == 10, f"every turn reaches both peers once: {events}"
            assert [e["seq"] for e in events] == [t["seq"] for t in round1], "turn events arrive in seq order"
            for event, turn in zip(events, round1):
                check_turn_event(event, 1, turn["speaker_id"], turn["role"], turn["text"], turn["client_turn_id"])
                assert (event["seq"], event["offset"]) == (turn["seq"], turn["offset"]), (event, turn)

        # ---------------------------------------------------------------- round 1 ends (by a peer)
        ended = await host.ok("end_round", {"client_id": "end-1"})
        rows = (await app.table("practice_rooms").select("*").eq("id", seated.id).execute()).data
        rest_seen[host_id].append(rows)
        assert rows[0]["stage"] == 2 and UUID_V4.match(rows[0]["first_round_id"] or ""), \
            f"end_round is answered after the round and the stage are committed: {rows}"
        assert rows[0]["second_round_id"] is None, rows
        for side in (host, guest):
            over = await side.log.wait("round_ended", lambda p: p.get("round") == 1)
            check_event(over, "round_ended")
            assert over["reason"] == "ended_by_peer" and over["turns"] == 10, over
            assert over["round_id"] == rows[0]["first_round_id"], (over, rows)
            assert is_int(over["duration_seconds"]) and 0 <= over["duration_seconds"] <= 60, over
            staged = await side.log.wait("stage", lambda p: p.get("stage") == 2)
            check_event(staged, "stage")
            assert over["offset"] < staged["offset"] <= ended["offset"], (over, staged, ended)
            assert any(p.get("offset") == ended["offset"] for _, p in side.log.items), \
                f"the reply's offset is that of an event the command produced: {ended}"
        round1_id = rows[0]["first_round_id"]
        rounds = (await app.table("practice_rounds").select("*").eq("id", round1_id).execute()).data
        rest_seen[host_id].append(rounds)
        assert len(rounds) == 1, rounds
        row = rounds[0]
        assert (row["room_id"], row["round"], row["candidate_id"], row["case_briefs_id"], row["status"]) == (
            seated.id, 1, host_id, first_case.id, "completed"), row
        assert project(row["transcript"]) == project(round1), "the transcript is exactly the acknowledged turns"

        # ---------------------------------------------------------------- round 2: waiting, roles swapped
        peer = await RoomPeer.open(server, seated.host, seated.id)
        extra.append(peer)
        room = check_snapshot(peer.snapshot, seated, host_id, phase="waiting", stage=2, round_=2, role="interlocutor")
        assert room["round_ids"] == {"1": round1_id, "2": None} and room["ready"] == [], room
        assert peer.snapshot["transcript"] == [] and peer.snapshot["brief"] is None, peer.snapshot
        await peer.close()

        await host.ok("set_timing", {"client_id": "timing-2", "preparation_seconds": PREP_2,
                                     "roleplay_seconds": ROLEPLAY_2})
        response = await host.ok("choose_case", {"client_id": "case-2", "random": {"target_profession": "medicine"}})
        second_case = case_by_id(server, response["case"]["id"])
        assert response["case"] == second_case.public(), response
        assert second_case.id != first_case.id, "round 2 never gets round 1's case"
        assert (second_case.domain, second_case.target_profession) == ("Clinical", "medicine"), \
            "random: the filter is applied and the domain defaults to the room's type"
        for side in (host, guest):
            chosen = await side.log.wait("case_chosen", lambda p: p.get("round") == 2)
            assert chosen["case"] == second_case.public(), chosen
        await host.ok("ready", {"client_id": "ready-h2"})
        await guest.ok("ready", {"client_id": "ready-g2"})
        for side in (host, guest):
            await side.log.wait("ready", lambda p: p.get("round") == 2 and p.get("user_id") == host_id)
            await side.log.wait("ready", lambda p: p.get("round") == 2 and p.get("user_id") == guest_id)
        await host.ok("start_round", {"client_id": "start-2"})
        preparation2 = await guest.log.wait("phase", lambda p: p.get("round") == 2 and p.get("phase") == "preparation")
        assert abs(seconds_between(preparation2["at"], preparation2["deadline"]) - PREP_2) < 0.5, preparation2
        briefs = {"host": [b for b in host.log.of("brief") if b.get("round") == 2],
                  "guest": [b for b in guest.log.of("brief") if b.get("round") == 2]}
        if not briefs["host"]:
            briefs["host"] = [await host.log.wait("brief", lambda b: b.get("round") == 2)]
        if not briefs["guest"]:
            briefs["guest"] = [await guest.log.wait("brief", lambda b: b.get("round") == 2)]
        check_brief(briefs["host"][0], 2, "interlocutor", second_case)
        check_brief(briefs["guest"][0], 2, "candidate", second_case)
        peer = await RoomPeer.open(server, seated.guest, seated.id)
        extra.append(peer)
        check_snapshot(peer.snapshot, seated, guest_id, phase="preparation", stage=2, round_=2, role="candidate")
        check_brief(peer.snapshot["brief"], 2, "candidate", second_case)
        await peer.close()

        early = await guest.ok("start_roleplay", {"client_id": "roleplay-2"})  # "we're ready, let's begin"
        roleplay2 = await host.log.wait("phase", lambda p: p.get("round") == 2 and p.get("phase") == "roleplay")
        assert roleplay2["offset"] == early["offset"], (roleplay2, early)
        assert seconds_until(preparation2["deadline"]) > 200, "preparation ended early"
        assert abs(seconds_between(roleplay2["at"], roleplay2["deadline"]) - ROLEPLAY_2) < 0.5, \
            f"start_roleplay: role-play starts now with its full length: {roleplay2}"
        acked.clear()
        for line, reply in zip(CANDIDATE_LINES_2, INTERLOCUTOR_LINES_2):
            await say(guest, guest_id, "candidate", line, 2)
            await say(host, host_id, "interlocutor", reply, 2)
        round2 = sorted(acked, key=lambda t: t["seq"])
        assert strictly_increasing([t["seq"] for t in round2])

        # ---------------------------------------------------------------- round 2 ends by time
        for side in (host, guest):
            over = await side.log.wait("round_ended", lambda p: p.get("round") == 2,
                                       timeout=seconds_until(roleplay2["deadline"]) + 10)
            assert over["reason"] == "time_up" and over["turns"] == 6, over
            assert abs(over["duration_seconds"] - ROLEPLAY_2) <= 1, f"duration = the role-play's length: {over}"
            assert 0 <= seconds_between(roleplay2["deadline"], over["at"]) < 2, \
                f"the server ends the round at the deadline: {roleplay2['deadline']} → {over['at']}"
            staged = await side.log.wait("stage", lambda p: p.get("stage") == 3)
            assert staged["offset"] > over["offset"], (over, staged)
        round2_id = over["round_id"]
        for side, who in ((host, host_id), (guest, guest_id)):
            assert await side.refused("ready", {"client_id": f"late-{who}"}) == COMPLETE
        assert await guest.refused("turn", {"client_turn_id": "late-turn", "text": "Anything else?"})
        peer = await RoomPeer.open(server, seated.guest, seated.id)
        extra.append(peer)
        room = check_snapshot(peer.snapshot, seated, guest_id, phase="ended", stage=3, round_=None, role=None)
        assert room["round_ids"] == {"1": round1_id, "2": round2_id}, room
        await peer.close()

        rows = (await app.table("practice_rooms").select("*").eq("id", seated.id).execute()).data
        rest_seen[host_id].append(rows)
        assert (rows[0]["stage"], rows[0]["first_round_id"], rows[0]["second_round_id"]) == (3, round1_id, round2_id)
        rounds = {r["round"]: r for r in (await app.table("practice_rounds").select("*").eq("room_id", seated.id)
                                          .order("round").execute()).data}
        assert set(rounds) == {1, 2}, rounds
        assert (rounds[2]["id"], rounds[2]["candidate_id"], rounds[2]["case_briefs_id"]) == (
            round2_id, guest_id, second_case.id), rounds[2]
        assert project(rounds[2]["transcript"]) == project(round2)
        assert abs(rounds[2]["duration_seconds"] - ROLEPLAY_2) <= 1, "duration_seconds is the role-play's length"
        assert project(rounds[1]["transcript"]) == project(round1)

        # ---------------------------------------------------------------- assessments
        for side in (host, guest):
            for round_, round_id in ((1, round1_id), (2, round2_id)):
                event = await side.log.wait("assessment", lambda p, r=round_: p.get("round") == r, timeout=30)
                check_event(event, "assessment")
                assert event["round_id"] == round_id, event
        rounds = {r["round"]: r for r in (await app.table("practice_rounds").select("*").eq("room_id", seated.id)
                                          .execute()).data}
        rest_seen[host_id].append(rounds)
        lines = {1: (CANDIDATE_LINES_1, INTERLOCUTOR_LINES_1), 2: (CANDIDATE_LINES_2, INTERLOCUTOR_LINES_2)}
        for round_ in (1, 2):
            assessment = rounds[round_]["assessment"]
            check_assessment(assessment, *lines[round_])
            assert assessment["assessor"].startswith("heuristic"), assessment["assessor"]
            event = next(p for p in host.log.of("assessment") if p["round"] == round_)
            assert (event["assessor"], event["score_raw"], event["score_max"]) == (
                assessment["assessor"], assessment["score_raw"], assessment["score_max"]), (event, assessment)
        assert any(c["evidence"] for c in rounds[1]["assessment"]["criteria"] if c["kind"] == "clinical"), \
            "five candidate lines give the heuristic something to quote"

        # feedback: readable by each round's candidate only
        for account, mine, theirs in ((seated.host, 1, 2), (seated.guest, 2, 1)):
            reports = (await run(lambda a=account: a.client.table("feedback_reports").select("*")
                                 .in_("session_id", [round1_id, round2_id]).execute())).data
            rest_seen[account.id].append(reports)
            assert [r["session_id"] for r in reports] == [rounds[mine]["id"]], (account.email, reports)
            assert reports[0]["score_raw"] == rounds[mine]["assessment"]["score_raw"], reports
            for text in lines[mine][0]:
                assert text in reports[0]["transcript"], "the report's transcript has the candidate's turns"
            sessions = (await run(lambda a=account: a.client.table("sessions").select("*")
                                  .in_("id", [round1_id, round2_id]).execute())).data
            assert [s["id"] for s in sessions] == [rounds[mine]["id"]], sessions
        guest_rounds = (await run(lambda: seated.guest.client.table("practice_rounds").select("*")
                                  .eq("room_id", seated.id).execute())).data
        rest_seen[guest_id].append(guest_rounds)
        assert len(guest_rounds) == 2, "both participants read the room's rounds"

        # ---------------------------------------------------------------- both saw the same room
        host_events = [(n, p) for n, p in host.log.items if n != "brief"]
        guest_events = [(n, p) for n, p in guest.log.items if n != "brief"]
        assert all(p["offset"] > guest_snap["offset"] for _, p in guest_events), \
            "nothing the guest's snapshot already held is sent again"
        for events in (host_events, guest_events):
            offsets = [p["offset"] for _, p in events]
            assert strictly_increasing(offsets), f"offsets strictly increase: {offsets}"
            for name, payload in events:
                check_event(payload, name)
        assert [e for e in host_events if e[1]["offset"] > guest_snap["offset"]] == guest_events, \
            "both peers receive every room event, identically"
        assert {n for n, _ in host.everything.items} <= set(ROOM_EVENTS) | {"brief"}, host.everything.items

        # ---------------------------------------------------------------- briefs: each only their own
        texts = {host_id: host.texts() + [s for rows in rest_seen[host_id] for s in strings_in(rows)],
                 guest_id: guest.texts() + [s for rows in rest_seen[guest_id] for s in strings_in(rows)]}
        for peer in extra:
            texts[peer.account.id] += peer.texts()
        own = {host_id: [first_case.candidate_brief, second_case.actor_brief],
               guest_id: [first_case.actor_brief, second_case.candidate_brief]}
        secret = {host_id: [("round 1 actor brief", first_case.actor_brief),
                            ("round 2 candidate brief", second_case.candidate_brief)],
                  guest_id: [("round 1 candidate brief", first_case.candidate_brief),
                             ("round 2 actor brief", second_case.actor_brief)]}
        allowed = [first_case.case_name, second_case.case_name] + CANDIDATE_LINES_1 + CANDIDATE_LINES_2 \
            + INTERLOCUTOR_LINES_1 + INTERLOCUTOR_LINES_2
        for user in (host_id, guest_id):
            for text in own[user]:
                assert_seen(texts[user], text, "the user's own brief")
            for label, text in secret[user]:
                assert_never_seen(texts[user], text, f"{label} (to {'host' if user == host_id else 'guest'})",
                                  allowed + own[user])
        journal = [row[0] for row in db_rows(server, "SELECT payload FROM room_events WHERE room_id = ?", (seated.id,))]
        assert len(journal) >= len(host_events), "every event is journaled"
        for label, text in (("a candidate brief", first_case.candidate_brief), ("an actor brief", first_case.actor_brief),
                            ("a candidate brief", second_case.candidate_brief), ("an actor brief", second_case.actor_brief)):
            assert_never_seen(server.output, text, f"{label} in the server's log", allowed)
            assert_never_seen(journal, text, f"{label} in the room_events journal", allowed)
    finally:
        await close_all(*extra)
        for channel in (host.channel, guest.channel):
            try:
                await asyncio.wait_for(channel.unsubscribe(), 5)
            except Exception:  # noqa: BLE001 - teardown is best effort
                pass
        await close_all(app.realtime, guest_client)


# ====================================================================== 2. the board sees the stage move


async def test_board_subscriber_sees_the_stage_update_when_round_one_ends(servers):
    server = servers.main
    seated = await run(seated_room, server, "board")
    case = next(c for c in cases_of(server) if c.domain == "Clinical")
    board = await realtime_client(server)  # an anonymous visitor of the board
    host = guest = None
    try:
        changes = Sink()
        await subscribe(board.channel("board").on_postgres_changes(
            Listen.Update, changes, table="practice_rooms", filter=f"id=eq.{seated.id}"))
        host = await RoomPeer.open(server, seated.host, seated.id)
        guest = await RoomPeer.open(server, seated.guest, seated.id)
        await host.ok("choose_case", {"client_id": "c1", "case_id": case.id})
        await host.ok("ready", {"client_id": "r1"})
        await guest.ok("ready", {"client_id": "r2"})
        await guest.ok("start_round", {"client_id": "s1"})
        await guest.ok("end_round", {"client_id": "e1"})  # in preparation: the round ends early
        over = await host.wait_event("round_ended")
        assert over["reason"] == "ended_by_peer" and over["turns"] == 0, over
        await changes.wait(lambda items: any(i["data"]["record"]["stage"] == 2 for i in items),
                           what="the practice_rooms UPDATE to stage 2")
        update = next(i["data"] for i in changes.items if i["data"]["record"]["stage"] == 2)
        assert update["record"]["first_round_id"] == over["round_id"], update
        assert update["record"]["second_round_id"] is None and update["old_record"]["stage"] == 1, update
        assert update["old_record"]["first_round_id"] is None, update
        assert all(item["data"]["record"]["id"] == seated.id for item in changes.items)
    finally:
        await close_all(board, *(p for p in (host, guest) if p))


# ====================================================================== 3. joining


async def test_join_is_for_the_host_and_guest_only_and_answers_a_snapshot(servers):
    server = servers.main
    seated = await run(seated_room, server, "join")
    outsider = await run(user_with_profile, server, "outsider")
    lonely = await run(make_room, outsider)  # a room nobody has taken the seat of
    peers: list[RoomPeer] = []
    try:
        host = await RoomPeer.open(server, seated.host, seated.id)
        peers.append(host)
        room = check_snapshot(host.snapshot, seated, seated.host.id, phase="waiting", stage=1, round_=1, role="candidate")
        assert room["case"] is None and room["ready"] == [] and room["present"] == [seated.host.id], room
        assert host.snapshot["brief"] is None and host.snapshot["transcript"] == [], host.snapshot
        guest = await RoomPeer.open(server, seated.guest, seated.id, vsn="2.0.0")
        peers.append(guest)
        check_snapshot(guest.snapshot, seated, seated.guest.id, phase="waiting", stage=1, round_=1, role="interlocutor")
        assert isinstance(guest.phoenix.raw[-1], list), "vsn 2.0.0 is answered with arrays"

        expired = user_token(server, seated.guest.id, seated.guest.email, -60)
        refusals = [
            ("a third user", seated.id, outsider.access_token, NOT_MEMBER),
            ("the anon key as token", seated.id, server.anon_key, NEEDS_USER),
            ("the service key as token", seated.id, server.service_key, NEEDS_USER),
            ("no token", seated.id, None, NEEDS_USER),
            ("an unknown room", str(uuid.uuid4()), seated.host.access_token, NOT_FOUND),
            ("a room id that is not a uuid", "not-a-uuid", seated.host.access_token, NOT_FOUND),
            ("an expired token", seated.id, expired, None),
        ]
        refused_peers = []
        for label, room_id, token, reason in refusals:
            peer = await RoomPeer.connect(server, None, room_id)
            peers.append(peer)
            reply = await peer.join(token=token)
            assert reply["payload"].get("status") == "error", f"{label}: {reply!r}"
            got = reply["payload"]["response"].get("reason")
            assert isinstance(got, str) and got, f"{label}: {reply!r}"
            if reason is not None:
                assert got == reason, f"{label}: reason {got!r}, expected {reason!r}"
            refused_peers.append((label, peer))
        # realtime-py reports the refusal as a channel error carrying the reason
        client = await realtime_client(server, outsider.access_token)
        try:
            states = []
            await asyncio.wait_for(client.channel(f"room:{seated.id}").subscribe(
                lambda state, error: states.append((state, error))), 12)
            assert states and states[0][0].value == "CHANNEL_ERROR" and NOT_MEMBER in str(states[0][1]), states
        finally:
            await close_all(client)
        # A refused join hears nothing of the room afterwards.
        await host.ok("set_timing", {"client_id": "t1", "preparation_seconds": 60, "roleplay_seconds": 120})
        await guest.wait_event("timing")
        for label, peer in refused_peers:
            await peer.heartbeat()
            assert peer.events() == [], f"{label} received room events"
        # Commands on a room topic that was not joined are refused too.
        stray = refused_peers[0][1]
        reply = await stray.command("ready", {"client_id": "x"})
        assert reply.get("status") == "error", reply
        # A host alone in a room (no guest seated) may join but not get ready.
        alone = await RoomPeer.open(server, outsider, lonely["id"])
        peers.append(alone)
        assert alone.snapshot["room"]["guest_id"] is None and alone.snapshot["role"] == "candidate", alone.snapshot
        await alone.refused("ready", {"client_id": "r-alone"})
    finally:
        await close_all(*peers)


# ====================================================================== 4. bad input leaves the room unchanged


class Unchanged:
    """Sends a command that must be refused and proves nothing moved: the snapshot a fresh join by
    the host answers with (offset, phase, ready, case, transcript, …) is the same before and after,
    and no peer received an event."""

    def __init__(self, server, seated: Seated, peers: list[RoomPeer]):
        self.server, self.seated, self.peers = server, seated, peers

    async def refused(self, peer: RoomPeer, event: str, payload: dict, reason: str | None = None) -> str:
        before = comparable(await snapshot_of(self.server, self.seated.host, self.seated.id))
        marks = [len(p.phoenix.log) for p in self.peers]
        got = await peer.refused(event, payload, reason)
        for p in self.peers:
            await p.heartbeat()
        after = comparable(await snapshot_of(self.server, self.seated.host, self.seated.id))
        assert after == before, f"refused {event} {str(payload)[:80]} changed the room:\n{before}\n{after}"
        for p, mark in zip(self.peers, marks):
            assert p.events(start=mark) == [], f"refused {event} produced events: {p.events(start=mark)}"
        return got


def unique_case(cases: list[Case], domain: str) -> Case:
    """A case that is the only published one of its (domain, profession, difficulty)."""
    counts: dict[tuple, int] = {}
    for case in cases:
        key = (case.domain, case.target_profession, case.difficulty_level)
        counts[key] = counts.get(key, 0) + 1
    return next(c for c in cases if c.domain == domain
                and counts[(c.domain, c.target_profession, c.difficulty_level)] == 1)


async def test_bad_commands_are_refused_and_change_nothing(servers):
    server = servers.main
    seated = await run(seated_room, server, "bad")
    only = unique_case(cases_of(server), "Clinical")
    host = await RoomPeer.open(server, seated.host, seated.id)
    guest = await RoomPeer.open(server, seated.guest, seated.id)
    check = Unchanged(server, seated, [host, guest])
    try:
        # A join is answered before its presence event is durable: let the room settle (the host
        # hears the guest arrive) before taking the first "before" snapshot.
        await host.wait_event("presence", lambda p: p.get("user_id") == guest.user_id and p.get("status") == "joined")
        # ---- waiting, nothing chosen, nobody ready
        await check.refused(host, "start_round", {"client_id": "s-early"})
        await check.refused(host, "turn", {"client_turn_id": "t-early", "text": "Hello"},
                            not_in_phase("waiting", "roleplay"))
        await check.refused(host, "end_round", {"client_id": "e-early"})
        await check.refused(guest, "start_roleplay", {"client_id": "r-early"}, not_in_phase("waiting", "preparation"))
        await check.refused(guest, "choose_case", {"client_id": "g-case", "case_id": only.id}, HOST_CHOOSES)
        await check.refused(guest, "set_timing", {"client_id": "g-time", "preparation_seconds": 60,
                                                  "roleplay_seconds": 60})
        for bad in ({"preparation_seconds": 29, "roleplay_seconds": 60},
                    {"preparation_seconds": 60, "roleplay_seconds": 1801},
                    {"preparation_seconds": 1801, "roleplay_seconds": 60},
                    {"preparation_seconds": 60, "roleplay_seconds": 29},
                    {"preparation_seconds": -1, "roleplay_seconds": 60},
                    {"preparation_seconds": "60", "roleplay_seconds": 60},
                    {"preparation_seconds": True, "roleplay_seconds": 60},
                    {"preparation_seconds": None, "roleplay_seconds": 60},
                    {"preparation_seconds": 60}):
            await check.refused(host, "set_timing", {"client_id": client_id("time"), **bad})
        for bad in ({"case_id": str(uuid.uuid4())}, {"case_id": "not-a-uuid"}, {},
                    {"random": {"target_profession": "astronaut"}}, {"random": {"difficulty_level": "impossible"}},
                    {"random": {"domain": "Surgery"}}):
            await check.refused(host, "choose_case", {"client_id": client_id("case"), **bad})
        for bad in ({}, {"client_id": ""}, {"client_id": "x" * 129}):
            await check.refused(host, "ready", bad, NEEDS_CLIENT_ID)
        await check.refused(host, "ready", {"client_id": 42})
        reason = await check.refused(host, "dance", {"client_id": "d-1"})
        assert reason.startswith("unknown room command dance"), reason
        await check.refused(host, "broadcast", {"type": "broadcast", "event": "chat", "payload": {"text": "hi"}},
                            COMMANDS_ONLY)
        await check.refused(host, "presence", {"type": "presence", "event": "track", "payload": {"online": True}},
                            COMMANDS_ONLY)
        # ---- a client id is one command: reusing it for another is refused
        await host.ok("ready", {"client_id": "dup-1"})
        await check.refused(host, "set_timing", {"client_id": "dup-1", "preparation_seconds": 60,
                                                 "roleplay_seconds": 60}, reused("dup-1"))
        await check.refused(host, "start_round", {"client_id": "s-half-ready"})  # the guest is not ready
        await guest.ok("ready", {"client_id": "g-ready"})
        await check.refused(guest, "start_round", {"client_id": "s-no-case"})  # no case yet
        await host.ok("choose_case", {"client_id": "case-ok", "case_id": only.id})
        await guest.ok("start_round", {"client_id": "s-ok"})
        await host.wait_event("phase", lambda p: p.get("phase") == "preparation")
        # ---- preparation
        await check.refused(host, "turn", {"client_turn_id": "t-prep", "text": "Hello"},
                            not_in_phase("preparation", "roleplay"))
        await check.refused(host, "set_timing", {"client_id": "time-prep", "preparation_seconds": 60,
                                                 "roleplay_seconds": 60})
        await check.refused(host, "choose_case", {"client_id": "case-prep", "random": {}})
        await check.refused(guest, "ready", {"client_id": "ready-prep"})
        await check.refused(host, "start_round", {"client_id": "start-again"})
        await check.refused(host, "start_roleplay", {"client_id": ""}, NEEDS_CLIENT_ID)
        await guest.ok("end_round", {"client_id": "end-prep"})
        await host.wait_event("stage", lambda p: p.get("stage") == 2)
        # The round's assessment is an event of its own, a moment later: let it land first.
        await host.wait_event("assessment", lambda p: p.get("round") == 1)
        # ---- round 2 waiting: never round 1's case
        await check.refused(host, "choose_case", {"client_id": "case-same", "case_id": only.id})
        await check.refused(host, "choose_case", {"client_id": "case-only-match", "random": {
            "domain": only.domain, "target_profession": only.target_profession,
            "difficulty_level": only.difficulty_level}})
        await check.refused(host, "end_round", {"client_id": "end-waiting-2"})
        await check.refused(guest, "turn", {"client_turn_id": "t-waiting-2", "text": "Hi"},
                            not_in_phase("waiting", "roleplay"))
        picked = (await host.ok("choose_case", {"client_id": "case-any", "random": {}}))["case"]
        assert picked["domain"] == "Clinical" and picked["id"] != only.id, picked
        picked = (await host.ok("choose_case", {"client_id": "case-comm", "random": {"domain": "Communication"}}))["case"]
        assert picked["domain"] == "Communication", "an explicit domain overrides the room's type"
        # the bounds themselves are allowed
        await host.ok("set_timing", {"client_id": "time-min", "preparation_seconds": 30, "roleplay_seconds": 1800})
        await host.ok("set_timing", {"client_id": "time-max", "preparation_seconds": 1800, "roleplay_seconds": 30})
        await host.ok("ready", {"client_id": "ready-2"})
        await guest.ok("ready", {"client_id": "g-ready-2"})
        await guest.ok("start_round", {"client_id": "start-2"})
        await guest.ok("start_roleplay", {"client_id": "roleplay-2"})
        await host.wait_event("phase", lambda p: p.get("round") == 2 and p.get("phase") == "roleplay")
        await check.refused(host, "start_roleplay", {"client_id": "roleplay-again"},
                            not_in_phase("roleplay", "preparation"))
        await check.refused(guest, "ready", {"client_id": "ready-roleplay"})
        await check.refused(host, "choose_case", {"client_id": "case-roleplay", "random": {}})
    finally:
        await close_all(host, guest)


async def test_bad_turns_are_refused_and_repeats_are_answered_once(servers):
    server = servers.main
    staged = await run(seated_room, server, "turns")
    host, guest = await to_roleplay(server, staged, cases_of(server)[1])
    check = Unchanged(server, staged, [host, guest])
    try:
        for bad in ({"client_turn_id": "e1", "text": ""}, {"client_turn_id": "e2", "text": "   \n\t  "},
                    {"client_turn_id": "e3", "text": "\u3000\u00a0"}):
            await check.refused(host, "turn", bad, NEEDS_TEXT)
        for bad in ({"client_turn_id": "e4"}, {"client_turn_id": "e5", "text": 42},
                    {"client_turn_id": "e6", "text": None}, {"client_turn_id": "e7", "text": ["hi"]}):
            await check.refused(host, "turn", bad)
        await check.refused(host, "turn", {"client_turn_id": "e8", "text": "a" * 4001}, TOO_LONG)
        await check.refused(guest, "turn", {"client_turn_id": "e9", "text": "\u00e9" * 4001}, TOO_LONG)
        # A NUL would be cut where the transcript is stored as text (the feedback report): refused
        # whole, in the text, in the turn id and in any other command field.
        for bad in ({"client_turn_id": "e10", "text": "before\u0000after"}, {"client_turn_id": "e\u0000", "text": "Hello"}):
            assert "NUL" in await check.refused(host, "turn", bad)
        assert "NUL" in await check.refused(host, "ready", {"client_id": "nul\u0000id"})
        for bad in ({"text": "Hello"}, {"client_turn_id": "", "text": "Hello"},
                    {"client_turn_id": "x" * 129, "text": "Hello"}, {"client_turn_id": 7, "text": "Hello"}):
            await check.refused(host, "turn", bad)

        # 4,000 characters is allowed, counted in characters (é is two bytes in UTF-8).
        longest = await host.ok("turn", {"client_turn_id": "long-1", "text": "\u00e9" * 4000})
        event = await guest.wait_event("turn", lambda p: p.get("client_turn_id") == "long-1")
        assert event["text"] == "\u00e9" * 4000 and event["seq"] == longest["seq"], "the text arrives intact"
        await guest.ok("turn", {"client_turn_id": "long-2", "text": "b" * 4000})

        # The same turn sent again (a retry): the original answer, repeated, and no second event.
        first = await host.ok("turn", {"client_turn_id": "rep-1", "text": "Same words twice."})
        assert first["repeated"] is False, first
        await guest.wait_event("turn", lambda p: p.get("client_turn_id") == "rep-1")
        again = await host.ok("turn", {"client_turn_id": "rep-1", "text": "Same words twice."})
        assert again == {**first, "repeated": True}, (first, again)
        retry = await RoomPeer.open(server, staged.host, staged.id)  # a retry from a new connection
        try:
            from_new = await retry.ok("turn", {"client_turn_id": "rep-1", "text": "Same words twice."})
            assert from_new == {**first, "repeated": True}, (first, from_new)
        finally:
            await retry.close()
        reason = await check.refused(host, "turn", {"client_turn_id": "rep-1", "text": "Different words."})
        assert "rep-1" in reason and "already used" in reason, reason
        nxt = await guest.ok("turn", {"client_turn_id": "after-rep", "text": "Next."})
        assert nxt["seq"] == first["seq"] + 1, "the repeat took no seq"
        for peer in (host, guest):
            await peer.wait_event("turn", lambda p: p.get("client_turn_id") == "after-rep")
            assert [p["client_turn_id"] for p in peer.payloads("turn")] == ["long-1", "long-2", "rep-1", "after-rep"], \
                peer.payloads("turn")
        transcript = (await snapshot_of(server, staged.host, staged.id))["transcript"]
        assert [t["client_turn_id"] for t in transcript] == ["long-1", "long-2", "rep-1", "after-rep"], transcript
        assert strictly_increasing([t["seq"] for t in transcript]), transcript
    finally:
        await close_all(host, guest)


# ====================================================================== 5. disconnect, resume, grace


async def test_a_dropped_peer_resumes_with_exactly_the_events_it_missed(servers):
    server = servers.main
    case = cases_of(server)[2]
    staged = await run(seated_room, server, "resume")
    host, guest = await to_roleplay(server, staged, case)
    peers = [host, guest]
    try:
        first = await host.ok("turn", {"client_turn_id": "before-drop", "text": "Hello, I'm Dr Shah."})
        await guest.wait_event("turn", lambda p: p.get("client_turn_id") == "before-drop")
        last = guest.last_offset()
        assert last >= first["offset"]
        await guest.drop()

        away = await host.wait_event("presence", lambda p: p.get("user_id") == guest.user_id
                                     and p.get("status") == "away")
        check_event(away, "presence")
        assert away["present"] == [host.user_id], away
        assert len(away["away"]) == 1 and away["away"][0]["user_id"] == guest.user_id, away
        assert abs(seconds_between(away["at"], away["away"][0]["until"]) - 300) < 2, \
            f"until = when the grace period (300 s) ends: {away}"
        missed = []
        for i in range(3):
            missed.append(await host.ok("turn", {"client_turn_id": f"missed-{i}", "text": f"Are you there? ({i})"}))

        back = await RoomPeer.open(server, staged.guest, staged.id, resume_offset=last, vsn="2.0.0")
        peers.append(back)
        snap = back.snapshot
        assert snap["recovered"] is True, snap
        assert snap["offset"] >= missed[-1]["offset"], snap
        assert [t["client_turn_id"] for t in snap["transcript"]] == ["before-drop", "missed-0", "missed-1", "missed-2"]
        assert snap["brief"]["text"] == case.actor_brief and snap["role"] == "interlocutor", snap["brief"]
        await host.wait_event("presence", lambda p: p.get("user_id") == guest.user_id and p.get("status") == "back")
        marker = await host.ok("turn", {"client_turn_id": "after-back", "text": "Ah, good."})
        await back.wait_event("turn", lambda p: p.get("client_turn_id") == "after-back")
        expected = [(e.name, e.payload) for e in host.events() if e.payload["offset"] > last]
        got = [(e.name, e.payload) for e in back.events(start=back.join_index)]
        assert got == expected, "the resumed peer gets exactly the events after its offset, then live ones, " \
            f"no duplicates:\n got {[(n, p['offset']) for n, p in got]}\nwant {[(n, p['offset']) for n, p in expected]}"
        assert [p["client_turn_id"] for n, p in got if n == "turn"] == [
            "missed-0", "missed-1", "missed-2", "after-back"], got
        assert marker["offset"] == got[-1][1]["offset"]
        assert back.briefs() == [], "a brief is sent when the round starts, never replayed"

        # An offset ahead of the room: no replay, the snapshot is all there is.
        ahead = await RoomPeer.open(server, staged.guest, staged.id, resume_offset=marker["offset"] + 1000)
        peers.append(ahead)
        assert ahead.snapshot["recovered"] is False, ahead.snapshot
        await ahead.heartbeat()
        assert ahead.events("turn") == [], ahead.events()

        # More events missed than the room keeps (--room-replay-limit 40): the snapshot, no replay.
        # (The room may keep more than the limit for a while; 100 missed events are beyond any reading.)
        async def resume_after_missing(gone, turns: int, prefix: str):
            """`gone` drops; once the host sees it away, the host sends `turns` turns; the guest
            resumes from the last offset `gone` saw. Returns (that offset, the resumed peer)."""
            seen = gone.last_offset()
            mark = len(host.phoenix.log)
            await gone.drop()
            await host.wait_event("presence", lambda p: p.get("user_id") == guest.user_id and p.get("status") == "away",
                                  start=mark)
            for i in range(turns):
                await host.ok("turn", {"client_turn_id": f"{prefix}-{i}", "text": f"Line {i} ({prefix})."})
            resumed = await RoomPeer.open(server, staged.guest, staged.id, resume_offset=seen)
            peers.append(resumed)
            return seen, resumed

        await ahead.close()
        seen, late = await resume_after_missing(back, 100, "flood")
        assert late.snapshot["recovered"] is False, \
            f"100 missed events are beyond --room-replay-limit 40: {late.snapshot['offset'] - seen} events later"
        assert len(late.snapshot["transcript"]) == 4 + 1 + 100, "the snapshot still holds every turn"
        assert [t["client_turn_id"] for t in late.snapshot["transcript"]][-3:] == ["flood-97", "flood-98", "flood-99"]
        await late.heartbeat()
        assert late.events("turn") == [], "nothing is replayed after a snapshot"

        # Fewer missed than --room-replay-limit but far more than the room keeps in memory
        # (--room-recent-events 4): replayed exactly, the older part from the journal.
        seen, again = await resume_after_missing(late, 20, "gap")
        assert again.snapshot["recovered"] is True, again.snapshot
        assert len(again.snapshot["transcript"]) == 4 + 1 + 100 + 20
        tail = await host.ok("turn", {"client_turn_id": "gap-end", "text": "Good."})
        await again.wait_event("turn", lambda p: p.get("client_turn_id") == "gap-end")
        expected = [(e.name, e.payload) for e in host.events() if seen < e.payload["offset"] <= tail["offset"]]
        got = [(e.name, e.payload) for e in again.events(start=again.join_index)]
        assert got == expected, f"got {[(n, p['offset']) for n, p in got]}\nwant {[(n, p['offset']) for n, p in expected]}"
        assert [p["client_turn_id"] for n, p in got if n == "turn"] == [f"gap-{i}" for i in range(20)] + ["gap-end"]
    finally:
        await close_all(*peers)


@pytest.mark.timeout(60)
async def test_a_round_takes_at_most_its_turn_limit(tmp_path):
    """--room-max-turns-per-round 3: the fourth turn is refused with its reason and nothing is sent;
    a repeat of an accepted turn is still answered; the ended round's transcript has the three."""
    server = start_server(tmp_path / "turns.sqlite", "--demo", "--room-max-turns-per-round", "3", *FAST_HASH)
    peers = []
    try:
        case = cases_of(server)[0]
        staged = await run(seated_room, server, "turn-limit")
        host, guest = await to_roleplay(server, staged, case)
        peers += [host, guest]
        for i in range(3):
            peer = host if i % 2 == 0 else guest
            await peer.ok("turn", {"client_turn_id": f"t-{i}", "text": f"Turn {i}."})
        await guest.refused("turn", {"client_turn_id": "t-3", "text": "One too many."},
                            "this round has reached its limit of 3 turns: end the round")
        repeat = await host.ok("turn", {"client_turn_id": "t-0", "text": "Turn 0."})
        assert repeat["repeated"] is True, repeat
        await host.ok("end_round", {"client_id": "end-1"})
        await host.wait_event("round_ended")
        round_ended = host.payloads("round_ended")[-1]
        assert round_ended["turns"] == 3, round_ended
        assert [p["client_turn_id"] for p in host.payloads("turn")] == ["t-0", "t-1", "t-2"], host.payloads("turn")
    finally:
        await close_all(*peers)
        server.stop()


@pytest.mark.timeout(60)
async def test_grace_and_leave(tmp_path):
    """--room-grace 1: a peer that does not come back is recorded as left (early in preparation, not
    in waiting, where its ready is cleared); `leave` is immediate."""
    server = start_server(tmp_path / "grace.sqlite", "--demo", "--room-grace", "1", "--room-sweep-interval", "1",
                          *FAST_HASH)
    peers: list[RoomPeer] = []
    try:
        case = next(c for c in published_cases(server) if c.domain == "Clinical")
        mid, waiting, leaving = [await run(seated_room, server, p) for p in ("mid", "wait", "leave")]

        # mid-round (preparation): away, then left with early true
        h = await RoomPeer.open(server, mid.host, mid.id)
        g = await RoomPeer.open(server, mid.guest, mid.id)
        peers += [h, g]
        await h.ok("choose_case", {"client_id": "c", "case_id": case.id})
        await h.ok("ready", {"client_id": "r1"})
        await g.ok("ready", {"client_id": "r2"})
        await h.ok("start_round", {"client_id": "s"})
        await g.drop()
        away = await h.wait_event("presence", lambda p: p.get("status") == "away" and p.get("user_id") == mid.guest.id)
        assert abs(seconds_between(away["at"], away["away"][0]["until"]) - 1) < 0.5, away
        left = await h.wait_event("left", lambda p: p.get("user_id") == mid.guest.id, timeout=10)
        check_event(left, "left")
        assert (left["phase"], left["reason"], left["early"]) == ("preparation", "disconnected", True), left
        assert seconds_between(away["at"], left["at"]) >= 0.9, "left only after the grace period"
        snap = await snapshot_of(server, mid.host, mid.id)
        assert snap["room"]["away"] == [] and snap["room"]["present"] == [mid.host.id], snap["room"]
        assert snap["room"]["phase"] == "preparation", "the round clock keeps running"
        again = await RoomPeer.open(server, mid.guest, mid.id)
        peers.append(again)
        rejoined = await h.wait_event("presence", lambda p: p.get("user_id") == mid.guest.id
                                      and p.get("offset") > left["offset"])
        assert rejoined["status"] == "joined", rejoined

        # waiting: left with early false, the ready is cleared
        h = await RoomPeer.open(server, waiting.host, waiting.id)
        g = await RoomPeer.open(server, waiting.guest, waiting.id)
        peers += [h, g]
        await g.ok("ready", {"client_id": "r"})
        await h.wait_event("ready")
        await g.drop()
        left = await h.wait_event("left", lambda p: p.get("user_id") == waiting.guest.id, timeout=10)
        assert (left["phase"], left["reason"], left["early"]) == ("waiting", "disconnected", False), left
        snap = await snapshot_of(server, waiting.host, waiting.id)
        assert waiting.guest.id not in snap["room"]["ready"], snap["room"]

        # leave: the reply, then the channel closes; the other peer sees left at once
        h = await RoomPeer.open(server, leaving.host, leaving.id)
        g = await RoomPeer.open(server, leaving.guest, leaving.id)
        peers += [h, g]
        await g.ok("leave", {"client_id": "bye"})
        await g.wait(lambda m: m.get("event") == "phx_close" and m.get("topic") == g.topic, what="phx_close")
        left = await h.wait_event("left", lambda p: p.get("user_id") == leaving.guest.id)
        assert (left["phase"], left["reason"], left["early"]) == ("waiting", "left", False), left
        assert [p for p in h.payloads("presence") if p["user_id"] == leaving.guest.id and p["status"] == "away"] == [], \
            "a peer that leaves is not 'away'"

    finally:
        await close_all(*peers)
        server.stop()


# ====================================================================== 6. idempotent commands


async def test_repeated_commands_are_answered_with_the_original_result(servers):
    server = servers.main
    seated = await run(seated_room, server, "idem")
    case = next(c for c in cases_of(server) if c.domain == "Clinical")
    host = await RoomPeer.open(server, seated.host, seated.id)
    guest = await RoomPeer.open(server, seated.guest, seated.id)
    peers = [host, guest]
    try:
        ready = await guest.ok("ready", {"client_id": "g-ready"})
        assert ready["repeated"] is False
        assert await guest.ok("ready", {"client_id": "g-ready"}) == {**ready, "repeated": True}
        chosen = await host.ok("choose_case", {"client_id": "h-case", "case_id": case.id})
        assert await host.ok("choose_case", {"client_id": "h-case", "case_id": case.id}) == {**chosen, "repeated": True}
        await host.ok("ready", {"client_id": "h-ready"})

        # Both press start at once: one starts the round, the other is told the phase moved on.
        replies = await asyncio.gather(host.command("start_round", {"client_id": "h-start"}),
                                       guest.command("start_round", {"client_id": "g-start"}))
        statuses = sorted(r["status"] for r in replies)
        assert statuses == ["error", "ok"], replies
        winner, cid = (host, "h-start") if replies[0]["status"] == "ok" else (guest, "g-start")
        original = replies[0 if winner is host else 1]["response"]
        await host.heartbeat()
        again = await winner.ok("start_round", {"client_id": cid})
        assert again == {**original, "repeated": True}, (original, again)
        # after a reconnect, the retry still finds the original answer
        account = seated.host if winner is host else seated.guest
        fresh = await RoomPeer.open(server, account, seated.id)
        peers.append(fresh)
        assert await fresh.ok("start_round", {"client_id": cid}) == {**original, "repeated": True}
        await fresh.refused("ready", {"client_id": cid}, reused(cid))

        ended = await guest.ok("end_round", {"client_id": "g-end"})
        assert await guest.ok("end_round", {"client_id": "g-end"}) == {**ended, "repeated": True}
        for peer in (host, guest):
            await peer.wait_event("stage")
            await peer.heartbeat()
            assert [p["user_id"] for p in peer.payloads("ready")] == [seated.guest.id, seated.host.id], \
                "one ready event per ready"
            assert len(peer.payloads("case_chosen")) == 1 and len(peer.payloads("round_ended")) == 1
            assert [p["phase"] for p in peer.payloads("phase") if p["round"] == 1][:1] == ["preparation"]
            assert len([p for p in peer.payloads("phase") if p["phase"] == "preparation"]) == 1
    finally:
        await close_all(*peers)


# ====================================================================== 8. the assessor: model and fallback


def room_lines(mode: str) -> tuple[list[str], list[str]]:
    candidate = [f"Hello, I'm Dr Novak, one of the doctors. [[assess:{mode}]] What brings you in today?",
                 "I understand this must be frightening. What worries you most?",
                 "Let me explain the plan: a scan today, and I'll call you with the result."]
    interlocutor = ["It's my chest, it's been tight.", "That it's my heart.", "Thank you, doctor."]
    return candidate, interlocutor


async def play_and_end(server, staged: Seated, case: Case, mode: str) -> tuple[dict, float, list[RoomPeer]]:
    """Role-play three exchanges (the candidate's first line carries the fake assessor's mode marker),
    end the round; returns (end_round response, seconds the reply took, peers)."""
    host, guest = await to_roleplay(server, staged, case)
    candidate, interlocutor = room_lines(mode)
    for i, (line, reply) in enumerate(zip(candidate, interlocutor)):
        await host.ok("turn", {"client_turn_id": f"c{i}", "text": line})
        await guest.ok("turn", {"client_turn_id": f"i{i}", "text": reply})
    began = time.monotonic()
    ended = await guest.ok("end_round", {"client_id": "end"})
    ended["_sent_at"] = began
    return ended, time.monotonic() - began, [host, guest]


async def test_a_model_assessor_answer_is_stored(servers):
    server, fake = servers.assessor, servers.fake
    staged = await run(seated_room, server, "model")
    candidate, interlocutor = room_lines("valid")
    scores = dict(zip(OET_CLINICAL, (3, 2, 2, 1, 3)))
    answer = model_assessment({OET_CLINICAL[0]: [candidate[0][:34]], OET_CLINICAL[4]: ["a scan today"]}, scores)
    fake.modes["valid"] = lambda record: (200, chat_completion(json.dumps(answer), MODEL), 0.0)
    ended, took, peers = await play_and_end(server, staged, cases_of(server)[3], "valid")
    try:
        event = await peers[0].wait_event("assessment", timeout=20)
        assert (event["round"], event["assessor"], event["score_raw"], event["score_max"]) == (
            1, f"chat:{MODEL}", 11, 15), event
        rounds = (await run(lambda: staged.host.client.table("practice_rounds").select("*")
                            .eq("room_id", staged.id).execute())).data
        assessment = rounds[0]["assessment"]
        check_assessment(assessment, candidate, interlocutor, assessor=f"chat:{MODEL}")
        assert assessment["criteria"] == answer["criteria"] and assessment["summary"] == answer["summary"], assessment
        assert assessment.get("fallback_reason") is None, assessment
        assert event["round_id"] == rounds[0]["id"]
        reports = (await run(lambda: staged.host.client.table("feedback_reports").select("*")
                             .eq("session_id", rounds[0]["id"]).execute())).data
        assert len(reports) == 1 and reports[0]["score_raw"] == 11, reports
        assert reports[0]["ai_summary"] == answer["summary"], reports
        requests = fake.requests_for("valid")
        assert len(requests) == 1, f"asked once: {[r['path'] for r in requests]}"
        request = requests[0]
        assert request["headers"].get("Authorization") == f"Bearer {ASSESSOR_KEY}", request["headers"]
        assert request["body"]["model"] == MODEL and isinstance(request["body"].get("messages"), list), request["body"]
        for line in candidate:
            assert line in request["raw"] or json.dumps(line)[1:-1] in request["raw"], "the model sees the transcript"
    finally:
        await close_all(*peers)


FALLBACKS = {
    "error500": lambda record: (500, b'{"error": {"message": "upstream exploded"}}', 0.0),
    "garbage": lambda record: (200, chat_completion("Sure! Here is my assessment: the candidate did well.", MODEL), 0.0),
    "shape": lambda record: (200, chat_completion(json.dumps({"criteria": [], "score_raw": 99, "score_max": 15,
                                                              "summary": "?"}), MODEL), 0.0),
    "slow": lambda record: (200, chat_completion(json.dumps(model_assessment(
        {}, dict(zip(OET_CLINICAL, (1, 1, 1, 1, 1))))), MODEL), ASSESSOR_TIMEOUT + 2.0),
    "not_openai": lambda record: (200, b"<html><body>Bad gateway</body></html>", 0.0),
}


@pytest.mark.parametrize("mode", list(FALLBACKS))
async def test_a_failed_model_answer_falls_back_to_the_heuristic(servers, mode):
    server, fake = servers.assessor, servers.fake
    staged = await run(seated_room, server, mode.replace("_", ""))
    fake.modes[mode] = FALLBACKS[mode]
    candidate, interlocutor = room_lines(mode)
    ended, took, peers = await play_and_end(server, staged, cases_of(server)[3], mode)
    try:
        assert took < 1.5, f"end_round is not held up by the assessor ({took:.2f} s)"
        event = await peers[1].wait_event("assessment", timeout=20)
        assert event["assessor"].startswith("heuristic"), event
        rounds = (await run(lambda: staged.guest.client.table("practice_rounds").select("*")
                            .eq("room_id", staged.id).execute())).data
        assessment = rounds[0]["assessment"]
        check_assessment(assessment, candidate, interlocutor)
        assert assessment["assessor"] == event["assessor"] and assessment["score_raw"] == event["score_raw"]
        reason = assessment.get("fallback_reason")
        assert isinstance(reason, str) and reason.strip(), f"fallback_reason says why: {assessment}"
        if mode == "error500":
            assert "500" in reason, reason
        assert fake.requests_for(mode), "the model was asked first"
        if mode == "slow":  # stored when --assessor-timeout (2 s) ran out, not when the late answer came
            waited = time.monotonic() - ended["_sent_at"]
            assert ASSESSOR_TIMEOUT - 0.3 <= waited < ASSESSOR_TIMEOUT + 1.8, f"assessment after {waited:.2f} s"
    finally:
        await close_all(*peers)


# ====================================================================== 9. no-shows (last: see the report)


@pytest.mark.timeout(30)
async def test_an_absent_guest_is_a_no_show(tmp_path):
    """The host is in the room before the scheduled time; the guest never comes. With --room-grace 1
    and --room-sweep-interval 1, the host sees `no_show` for the guest about 1 s after the time."""
    server = start_server(tmp_path / "noshow.sqlite", "--room-grace", "1", "--room-sweep-interval", "1", *FAST_HASH)
    peers: list[RoomPeer] = []
    try:
        no_show_host = await run(user_with_profile, server, "nsh")
        no_show_guest = await run(user_with_profile, server, "nsg")
        scheduled = iso_utc(now_utc() + timedelta(seconds=3))  # the host will be there, the guest will not
        no_show_room = await run(make_room, no_show_host, datetime_utc=scheduled)
        no_show_room = await run(take_seat, no_show_guest, no_show_room)
        watcher = await RoomPeer.open(server, no_show_host, no_show_room["id"])
        peers.append(watcher)
        # the no-show: scheduled 3 s after the room was made, grace 1 s, swept every second
        no_show = await watcher.wait_event("no_show", timeout=seconds_until(scheduled) + 8)
        check_event(no_show, "no_show")
        assert no_show == {**no_show, "user_id": no_show_guest.id, "scheduled_at": no_show_room["datetime_utc"]}, no_show
        assert [p["user_id"] for p in watcher.payloads("no_show")] == [no_show_guest.id], "the present host is no no-show"
    finally:
        await close_all(*peers)
        server.stop()
