"""Crash recovery of practice rooms (protocol/room.md, "Crash recovery"): the server is SIGKILLed at
random moments, with turns and round ends in flight, and restarted on the same SQLite file.

What must hold after every restart, as the two peers see it when they rejoin:
- every acknowledged turn is in the snapshot's transcript, with the seq, text, speaker and role it was
  acknowledged with; seqs strictly increase, no client_turn_id appears twice, nothing unsent appears;
- the phase and its absolute deadline are those from before the crash; a deadline that passed while
  the server was down has fired by the time the room is joined (or at once after);
- a turn sent again with the same client_turn_id after the crash is answered with its original seq
  (`repeated: true`) if it had been stored, and stored once otherwise;
- a round end is all or nothing: the practice_rounds row, the room's stage and round id together.

Raw Phoenix clients (realtime_helpers.Phoenix through room_helpers.RoomPeer), for control over what
is in flight. The SIGKILLs are `Popen.kill()`. Seeded randomness; the seed is printed on failure.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path

import pytest

from conftest import start_server
import httpx

from helpers import db_rows, rest_headers
from realtime_helpers import close_all, run
from room_helpers import (
    RoomPeer,
    is_int,
    now_utc,
    published_cases,
    seated_room,
    seconds_between,
    seconds_until,
    strictly_increasing,
)

ARGS = ("--room-grace", "600", "--room-min-phase-seconds", "2", "--password-hash-cost", "10")
SEED = int(os.environ.get("PRAXIS_CRASH_SEED", "0")) or random.randrange(1, 10**9)


def kill(server) -> None:
    """SIGKILL: no shutdown, no flush."""
    server.process.kill()
    server.process.wait(10)


class Ledger:
    """What the clients know about the turns of one round."""

    def __init__(self) -> None:
        self.acked: dict[str, dict] = {}      # client_turn_id -> {seq, text, speaker_id, role}
        self.in_flight: dict[str, dict] = {}  # sent, no reply seen: {text, speaker_id, role}
        self.acks = 0

    def sent(self, turn_id: str, text: str, speaker: str, role: str) -> None:
        self.in_flight[turn_id] = {"text": text, "speaker_id": speaker, "role": role}

    def acknowledged(self, turn_id: str, seq: int) -> None:
        turn = self.in_flight.pop(turn_id, None) or self.acked[turn_id]
        previous = self.acked.get(turn_id)
        assert previous is None or previous["seq"] == seq, f"{turn_id} acknowledged with seq {previous} and {seq}"
        self.acked[turn_id] = {**turn, "seq": seq}
        self.acks += 1

    def check(self, transcript: list[dict], where: str) -> None:
        ids = [t["client_turn_id"] for t in transcript]
        assert len(ids) == len(set(ids)), f"{where}: a turn is stored twice: {ids}"
        seqs = [t["seq"] for t in transcript]
        assert all(is_int(s) for s in seqs) and strictly_increasing(seqs), f"{where}: seqs {seqs}"
        stored = {t["client_turn_id"]: t for t in transcript}
        for turn_id, turn in self.acked.items():
            assert turn_id in stored, f"{where}: acknowledged turn {turn_id} (seq {turn['seq']}) was lost"
            got = stored[turn_id]
            assert (got["seq"], got["text"], got["speaker_id"], got["role"]) == (
                turn["seq"], turn["text"], turn["speaker_id"], turn["role"]), f"{where}: {got} != {turn}"
        for turn_id, got in stored.items():
            assert turn_id in self.acked or turn_id in self.in_flight, f"{where}: a turn nobody sent: {got}"
            if turn_id in self.in_flight:
                sent = self.in_flight[turn_id]
                assert (got["text"], got["speaker_id"], got["role"]) == (sent["text"], sent["speaker_id"],
                                                                          sent["role"]), f"{where}: {got}"


async def until(condition, peers: list[RoomPeer], what: str, timeout: float = 5.0) -> None:
    """Waits until `condition()` holds, re-checking whenever any of the peers receives a message."""
    deadline = time.monotonic() + timeout
    while True:
        for peer in peers:
            peer.phoenix._arrived.clear()
        if condition():
            return
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {what}"
        waits = [asyncio.ensure_future(peer.phoenix._arrived.wait()) for peer in peers]
        _, pending = await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()


def collect(peer: RoomPeer, refs: dict[str, str], ledger: Ledger) -> None:
    """Acknowledgements (ok replies) that reached `peer` before the crash."""
    for ref, turn_id in list(refs.items()):
        reply = peer.reply_for(ref)
        if reply is None:
            continue
        assert reply.get("status") == "ok", f"turn {turn_id} refused: {reply}"
        ledger.acknowledged(turn_id, reply["response"]["seq"])
        del refs[ref]


@pytest.mark.timeout(120)
async def test_acknowledged_turns_and_deadlines_survive_sigkill(tmp_path: Path):
    rng = random.Random(SEED)
    db = tmp_path / "crash.sqlite"
    server = start_server(db, "--demo", *ARGS)
    kills = 0
    peers: list[RoomPeer] = []
    try:
        case = next(c for c in published_cases(server) if c.domain == "Clinical")
        seated = await run(seated_room, server, "crash")
        host_id, guest_id = seated.host.id, seated.guest.id

        # ---- 1. a deadline that passes while the server is down fires at once after the restart
        host = await RoomPeer.open(server, seated.host, seated.id)
        guest = await RoomPeer.open(server, seated.guest, seated.id)
        peers += [host, guest]
        await host.ok("set_timing", {"client_id": "timing", "preparation_seconds": 3, "roleplay_seconds": 1800})
        await host.ok("choose_case", {"client_id": "case", "case_id": case.id})
        await host.ok("ready", {"client_id": "ready-h"})
        await guest.ok("ready", {"client_id": "ready-g"})
        await guest.ok("start_round", {"client_id": "start"})
        preparation = await host.wait_event("phase", lambda p: p.get("phase") == "preparation")
        kill(server)
        kills += 1
        await close_all(*peers)
        peers.clear()
        # Deliberately down across the deadline (not a wait for the server: it is dead).
        await asyncio.sleep(max(0.0, seconds_until(preparation["deadline"])) + 0.5)
        server = start_server(db, *ARGS)
        restarted = now_utc()
        host = await RoomPeer.open(server, seated.host, seated.id)
        peers.append(host)
        room = host.snapshot["room"]
        if room["phase"] == "preparation":  # loaded, the passed deadline fires straight away
            roleplay = await host.wait_event("phase", lambda p: p.get("phase") == "roleplay", timeout=2)
            room = {**room, "phase": "roleplay", "deadline": roleplay["deadline"]}
        assert room["phase"] == "roleplay" and room["round"] == 1, f"seed {SEED}: {room}"
        roleplay_deadline = room["deadline"]
        assert seconds_between(preparation["deadline"], roleplay_deadline) >= 1800 - 0.01, room
        assert seconds_between(restarted, roleplay_deadline) <= 1800 + 2, room
        events = [r[0] for r in db_rows(server, "SELECT payload FROM room_events WHERE room_id = ? AND type = 'phase'",
                                        (seated.id,))]
        assert sum('"roleplay"' in e for e in events) == 1, f"role-play began once: {events}"
        await close_all(*peers)
        peers.clear()

        # ---- 2. SIGKILL with turns in flight, again and again
        ledger = Ledger()
        for iteration in range(22):
            where = f"seed {SEED}, iteration {iteration}"
            host = await RoomPeer.open(server, seated.host, seated.id)
            guest = await RoomPeer.open(server, seated.guest, seated.id, vsn="2.0.0" if iteration % 2 else "1.0.0")
            peers += [host, guest]
            for peer in (host, guest):
                room = peer.snapshot["room"]
                assert (room["phase"], room["round"], room["deadline"]) == ("roleplay", 1, roleplay_deadline), \
                    f"{where}: the phase and its deadline survive: {room}"
                ledger.check(peer.snapshot["transcript"], where)
            assert host.snapshot["transcript"] == guest.snapshot["transcript"], where
            stored = {t["client_turn_id"]: t["seq"] for t in host.snapshot["transcript"]}

            # Retries of what was in flight: the original seq if it was stored, stored once if not.
            for turn_id, turn in list(ledger.in_flight.items()):
                sender = host if turn["speaker_id"] == host_id else guest
                response = await sender.ok("turn", {"client_turn_id": turn_id, "text": turn["text"]})
                if turn_id in stored:
                    assert response["repeated"] is True and response["seq"] == stored[turn_id], (where, response)
                else:
                    assert response["repeated"] is False and response["seq"] > max(stored.values(), default=0), \
                        (where, response)
                ledger.acknowledged(turn_id, response["seq"])

            # A burst from both peers, not awaited, then the kill at a random moment.
            refs: dict[RoomPeer, dict[str, str]] = {host: {}, guest: {}}
            for n in range(rng.randint(4, 14)):
                sender, speaker, role = ((host, host_id, "candidate") if rng.random() < 0.5
                                         else (guest, guest_id, "interlocutor"))
                turn_id = f"i{iteration}-t{n}"
                text = f"iteration {iteration}, turn {n}: " + " ".join(rng.choice(["yes", "no", "pain", "cough",
                                                                                       "when", "since", "worse"])
                                                                            for _ in range(rng.randint(1, 12)))
                ledger.sent(turn_id, text, speaker, role)
                refs[sender][await sender.send("turn", {"client_turn_id": turn_id, "text": text})] = turn_id
            moment = rng.choice(["now", "soon", "after-acks"])
            if moment == "soon":
                await asyncio.sleep(rng.uniform(0.0, 0.03))
            elif moment == "after-acks":
                wanted = rng.randint(1, sum(len(r) for r in refs.values()))

                await until(lambda: sum(p.reply_for(ref) is not None for p, rs in refs.items() for ref in rs) >= wanted,
                            [host, guest], f"{where}: {wanted} acks")
            kill(server)
            kills += 1
            for peer, peer_refs in refs.items():
                collect(peer, peer_refs, ledger)
            # A turn event means it was committed too.
            for peer in (host, guest):
                for event in peer.payloads("turn"):
                    if event["client_turn_id"] in ledger.in_flight:
                        ledger.acknowledged(event["client_turn_id"], event["seq"])
            await close_all(*peers)
            peers.clear()
            server = start_server(db, *ARGS)

        # ---- 3. the end: everything acknowledged is in the persisted round
        host = await RoomPeer.open(server, seated.host, seated.id)
        guest = await RoomPeer.open(server, seated.guest, seated.id)
        peers += [host, guest]
        ledger.check(host.snapshot["transcript"], f"seed {SEED}, final")
        for turn_id, turn in list(ledger.in_flight.items()):
            sender = host if turn["speaker_id"] == host_id else guest
            response = await sender.ok("turn", {"client_turn_id": turn_id, "text": turn["text"]})
            ledger.acknowledged(turn_id, response["seq"])
        await guest.ok("end_round", {"client_id": "end"})
        response = await run(httpx.get, f"{server.url}/rest/v1/practice_rounds",
                             params={"room_id": f"eq.{seated.id}", "select": "*"},
                             headers=rest_headers(server, seated.host.access_token))
        assert response.status_code == 200, response.text
        rows = response.json()
        assert len(rows) == 1, rows
        transcript = rows[0]["transcript"]
        assert len(transcript) == len(ledger.acked) and not ledger.in_flight, (len(transcript), len(ledger.acked))
        ledger.check(transcript, f"seed {SEED}, persisted round")
        journal = db_rows(server, "SELECT client_id, seq FROM room_events WHERE room_id = ? AND type = 'turn' "
                                  "ORDER BY \"offset\"", (seated.id,))
        assert [c for c, _ in journal] == [t["client_turn_id"] for t in transcript], "one journal entry per turn"
        assert kills >= 20 and ledger.acks > 40, (kills, ledger.acks)
    finally:
        await close_all(*peers)
        server.stop()


@pytest.mark.timeout(90)
async def test_a_round_end_is_all_or_nothing_across_sigkill(tmp_path: Path):
    """end_round sent, the server killed a moment later: after the restart the round either ended
    (practice_rounds row, stage 2 and first_round_id, all together, with every acknowledged turn) or
    did not (role-play goes on, no row); an acknowledged end_round always ended it."""
    rng = random.Random(SEED + 1)
    db = tmp_path / "end.sqlite"
    server = start_server(db, "--demo", *ARGS)
    peers: list[RoomPeer] = []
    outcomes = []
    retries: list[str] = []
    try:
        case = next(c for c in published_cases(server) if c.domain == "Clinical")
        for iteration in range(6):
            where = f"seed {SEED}, iteration {iteration}"
            seated = await run(seated_room, server, f"end{iteration}")
            host = await RoomPeer.open(server, seated.host, seated.id)
            guest = await RoomPeer.open(server, seated.guest, seated.id)
            peers += [host, guest]
            await host.ok("choose_case", {"client_id": "case", "case_id": case.id})
            await host.ok("ready", {"client_id": "ready-h"})
            await guest.ok("ready", {"client_id": "ready-g"})
            await host.ok("start_round", {"client_id": "start"})
            await host.ok("start_roleplay", {"client_id": "now"})
            acked = []
            for n in range(5):
                sender = host if n % 2 == 0 else guest
                response = await sender.ok("turn", {"client_turn_id": f"t{n}", "text": f"turn {n}"})
                acked.append((f"t{n}", response["seq"]))
            ref = await guest.send("end_round", {"client_id": "end"})
            await asyncio.sleep(rng.choice([0.0, 0.0, rng.uniform(0.0, 0.02), 0.05]))
            kill(server)
            reply = guest.reply_for(ref)
            await close_all(*peers)
            peers.clear()
            server = start_server(db, *ARGS)

            room = db_rows(server, "SELECT stage, first_round_id FROM practice_rooms WHERE id = ?", (seated.id,))[0]
            rounds = db_rows(server, "SELECT id, transcript FROM practice_rounds WHERE room_id = ?", (seated.id,))
            ended = room[0] == 2
            assert ended == (room[1] is not None) == (len(rounds) == 1), f"{where}: half a round end: {room} {rounds}"
            if reply is not None:
                assert reply.get("status") == "ok" and ended, f"{where}: an acknowledged end_round was lost"
            host = await RoomPeer.open(server, seated.host, seated.id)
            peers.append(host)
            snapshot = host.snapshot
            if ended:
                assert rounds[0][0] == room[1] and snapshot["room"]["stage"] == 2, (where, snapshot["room"])
                assert snapshot["room"]["round_ids"]["1"] == room[1], snapshot["room"]
                assert [(t["client_turn_id"], t["seq"]) for t in json.loads(rounds[0][1])] == acked, where
            else:
                assert snapshot["room"]["phase"] == "roleplay" and snapshot["room"]["stage"] == 1, snapshot["room"]
                assert [(t["client_turn_id"], t["seq"]) for t in snapshot["transcript"]] == acked, where
            # The client retries its end_round (same client id): the original answer if it was applied,
            # the round ends now if it was not. Either way the round ends once.
            guest = await RoomPeer.open(server, seated.guest, seated.id)
            peers.append(guest)
            again = await guest.command("end_round", {"client_id": "end"})
            if again.get("status") != "ok" or again["response"].get("repeated") is not ended:
                retries.append(f"{where} (ended before the kill: {ended}, reply seen: {reply is not None}): "
                               f"end_round retried with the same client_id after the restart → {again}")
            if not ended and again.get("status") != "ok":
                await guest.ok("end_round", {"client_id": "end-2"})
            after = db_rows(server, "SELECT stage, first_round_id FROM practice_rooms WHERE id = ?", (seated.id,))[0]
            assert after[0] == 2 and after[1] is not None and (not ended or after[1] == room[1]), (where, after)
            outcomes.append(ended)
            await close_all(*peers)
            peers.clear()
    finally:
        await close_all(*peers)
        server.stop()
    print(f"seed {SEED}: round ended before the kill in {sum(outcomes)} of {len(outcomes)} iterations")
    assert not retries, "a command retried after a crash is not answered with its original result:\n" + \
        "\n".join(retries)
