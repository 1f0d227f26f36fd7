"""`praxis copy` (issue 13): a `serve --demo` SQLite installation with a room played to stage 3, copied
into an empty PostgreSQL database of the private cluster (pg_cluster.py): every table's rows equal on
both sides, `serve` on the copy takes the old keys and tokens and shows the room at stage 3, and a
second copy into the now non-empty database is refused without a write."""
from __future__ import annotations

import json
import sqlite3
import subprocess

import httpx
import pytest

from conftest import BIN, start_server
from helpers import _PostgresReader, rest_headers
from room_helpers import seated_room
from realtime_helpers import run
from test_room import cases_of, to_roleplay

pytestmark = pytest.mark.sqlite_only("copies a SQLite file into PostgreSQL")

# The migration histories are the two backends' own; every other table is copied.
HISTORY = {"grdb_migrations", "sqlite_sequence"}


async def play_to_stage_three(server) -> tuple[object, str]:
    """Seats host and guest, plays both rounds (a turn each, `end_round`); the seated pair and the room id."""
    seated = await run(seated_room, server, "copy")
    clinical = [c for c in cases_of(server) if c.domain == "Clinical"]
    host, guest = await to_roleplay(server, seated, clinical[0])
    try:
        await host.ok("turn", {"client_turn_id": "c1", "text": "Hello, what brings you in today?"})
        await guest.ok("turn", {"client_turn_id": "i1", "text": "My chest has been tight."})
        await guest.ok("end_round", {"client_id": "end-1"})
        await host.wait_event("stage", lambda p: p.get("stage") == 2)
        await host.ok("choose_case", {"client_id": "case-2", "case_id": clinical[1].id})
        await host.ok("ready", {"client_id": "ready-h2"})
        await guest.ok("ready", {"client_id": "ready-g2"})
        await host.ok("start_round", {"client_id": "start-2"})
        await host.ok("start_roleplay", {"client_id": "roleplay-2"})
        await guest.ok("turn", {"client_turn_id": "c2", "text": "Hello, I'm one of the doctors."})
        await host.ok("turn", {"client_turn_id": "i2", "text": "Thank you for seeing me."})
        await host.ok("end_round", {"client_id": "end-2"})
        await host.wait_event("stage", lambda p: p.get("stage") == 3)
    finally:
        await host.close()
        await guest.close()
    return seated, seated.id


def comparable(value):
    """A cell as both sides are compared: JSON texts parsed (key order is jsonb's own)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def sqlite_tables(path) -> dict[str, tuple[list[str], list[str]]]:
    """Each table of the SQLite file: (columns, primary key columns)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") if r[0] not in HISTORY]
        tables = {}
        for name in names:
            info = db.execute(f'PRAGMA table_info("{name}")').fetchall()
            columns = [r[1] for r in info]
            key = [r[1] for r in sorted((r for r in info if r[5] > 0), key=lambda r: r[5])] or columns
            tables[name] = (columns, key)
        return tables


def rows_by_key(db, table: str, columns: list[str], key: list[str]) -> dict:
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = db.execute(f'SELECT {quoted} FROM "{table}"').fetchall()
    indexes = [columns.index(k) for k in key]
    by_key = {tuple(row[i] for i in indexes): tuple(comparable(v) for v in row) for row in rows}
    assert len(by_key) == len(rows), f"{table}: keys unique"
    return by_key


def praxis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)


async def test_copy_a_demo_installation_with_a_room_at_stage_three(tmp_path, pg_cluster):
    path = tmp_path / "praxis.sqlite"
    server = start_server(path, "--demo")
    try:
        seated, room_id = await play_to_stage_three(server)
    finally:
        assert server.stop() == 0
    url = pg_cluster.fresh_database()

    copied = praxis("copy", "--from", str(path), "--to", url)
    assert copied.returncode == 0, copied.stderr
    counts = json.loads(copied.stdout)

    tables = sqlite_tables(path)
    assert set(counts) == set(tables), "every table but the migration history is copied"
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = _PostgresReader(url)
    try:
        for table, (columns, key) in tables.items():
            left = rows_by_key(source, table, columns, key)
            right = rows_by_key(target, table, columns, key)
            assert counts[table] == len(left), (table, counts[table], len(left))
            assert left.keys() == right.keys(), f"{table}: the same keys"
            for row_key, row in left.items():
                assert right[row_key] == row, f"{table} {row_key}: {row} != {right[row_key]}"
        for table in ("users", "profiles", "case_briefs", "practice_rooms", "practice_rounds", "room_events",
                      "room_runtime", "praxis_settings", "realtime_changes"):
            assert counts[table] > 0, f"the played demo has {table} rows"
        assert target.execute("SELECT stage FROM practice_rooms WHERE id = ?", (room_id,)).fetchone() == (3,)
    finally:
        source.close()
        target.close()

    copy_server = start_server(url)
    try:
        # The JWT secret came along: the old server's service key and the host's token still work.
        response = httpx.get(f"{copy_server.url}/rest/v1/practice_rooms", params={"id": f"eq.{room_id}", "select": "stage"},
                             headers=rest_headers(server, token=seated.host.access_token), timeout=10)
        assert response.status_code == 200 and response.json() == [{"stage": 3}], response.text
        response = httpx.get(f"{copy_server.url}/rest/v1/practice_rounds", params={"room_id": f"eq.{room_id}", "select": "round"},
                             headers=rest_headers(server, key=server.service_key), timeout=10)
        assert response.status_code == 200 and sorted(r["round"] for r in response.json()) == [1, 2], response.text
        response = httpx.get(f"{copy_server.url}/rest/v1/practice_rooms", params={"select": "id"},
                             headers=rest_headers(server, key="not-a-key"), timeout=10)
        assert response.status_code == 401, "a key the copied secret did not sign is refused"
    finally:
        assert copy_server.stop() == 0

    before = pg_cluster.query(url, "SELECT count(*) FROM audit_logs") + pg_cluster.query(url, "SELECT count(*) FROM users")
    again = praxis("copy", "--from", str(path), "--to", url)
    assert again.returncode == 1 and again.stdout == "", (again.returncode, again.stdout)
    assert "not empty" in again.stderr and "praxis_settings" in again.stderr, again.stderr
    after = pg_cluster.query(url, "SELECT count(*) FROM audit_logs") + pg_cluster.query(url, "SELECT count(*) FROM users")
    assert before == after
