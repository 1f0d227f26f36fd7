"""Tuning options of `praxis serve` that change how it works inside, not what it answers:
`--read-buffer-bytes` (a connection's first receive buffer) and `--db-statement-cache-size`
(the SQLite connections' cache of the data API's per-request statements). A real server, real
clients: the smallest settings must answer exactly as the defaults do, and values out of range
are refused before the server starts.
"""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from conftest import BIN, start_server
from helpers import db_rows, service_client


@pytest.fixture
def make_server(tmp_path: Path):
    started = []

    def make(*args: str, **kwargs):
        srv = start_server(tmp_path / f"praxis{len(started)}.sqlite", *args, **kwargs)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def refused(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, "serve", "--port", "0", "--db", str(tmp_path / "never.sqlite"), *args],
                          capture_output=True, text=True, timeout=30)


# ---------------------------------------------------------------- --read-buffer-bytes


async def test_the_smallest_read_buffer_carries_large_and_small_messages_whole(make_server):
    """64-byte first reads: a 200 KB text message, a 100 KB binary one and small ones between
    them come back whole and in order, and a request whose 40 KB body arrives in many reads gets
    its JSON answer."""
    srv = make_server("--echo", "--read-buffer-bytes", "64")
    large_text = "".join(chr(0x41 + i % 26) if i % 97 else "é" for i in range(100_000))
    large_binary = bytes(i % 251 for i in range(100_000))
    async with ws_connect(srv.ws_url + "/ws/echo", compression=None, proxy=None, open_timeout=5,
                          close_timeout=5, ping_interval=None, max_size=1 << 20) as client:
        for message in ["a", large_text, "bc", large_binary, b"\x00", "def" * 30]:
            await client.send(message)
            assert await asyncio.wait_for(client.recv(), 10) == message
    assert client.close_code == 1000

    body = b'{"email": "nobody@example.test", "password": "' + b"p" * 40_000 + b'"}'
    response = httpx.post(f"{srv.url}/auth/v1/token?grant_type=password", content=body, timeout=10,
                          headers={"apikey": srv.anon_key, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()


@pytest.mark.parametrize("value", ["63", "65537", "0", "-1", "many"])
def test_a_read_buffer_out_of_range_is_refused(tmp_path: Path, value: str):
    out = refused(tmp_path, "--read-buffer-bytes", value)
    assert out.returncode != 0
    assert "--read-buffer-bytes" in out.stderr
    assert not (tmp_path / "never.sqlite").exists(), "refused before the database was created"


# ---------------------------------------------------------------- --db-statement-cache-size


QUERIES = [
    ("id", {"domain": "eq.Clinical"}, None),
    ("id,case_name", {"difficulty_level": "eq.medium"}, "id"),
    ("id", {"target_profession": "eq.medicine"}, "id.desc"),
    ("id,domain", {"status": "eq.published", "domain": "neq.Clinical"}, "id"),
    ("id", {}, "id"),
]


@pytest.mark.sqlite_only(reason="the statement cache is the SQLite connections'")
@pytest.mark.parametrize("size", ["0", "1"])
def test_a_statement_cache_of_none_or_one_answers_every_query_as_the_database_holds_it(make_server, size: str):
    """With each query's statement dropped before the next one needs it (size 1) or never kept
    (size 0), every query shape still answers what the database holds, on a first and a second pass."""
    srv = make_server("--demo", "--db-statement-cache-size", size)
    client = service_client(srv)
    expected = {
        0: [row[0] for row in db_rows(srv, "SELECT id FROM case_briefs WHERE domain = 'Clinical'")],
        1: [row[0] for row in db_rows(srv, "SELECT id FROM case_briefs WHERE difficulty_level = 'medium' ORDER BY id")],
        2: [row[0] for row in db_rows(srv, "SELECT id FROM case_briefs WHERE target_profession = 'medicine' ORDER BY id DESC")],
        3: [row[0] for row in db_rows(srv, "SELECT id FROM case_briefs WHERE status = 'published' AND domain <> 'Clinical' ORDER BY id")],
        4: [row[0] for row in db_rows(srv, "SELECT id FROM case_briefs ORDER BY id")],
    }
    assert all(expected.values()), "the demo data has cases of these shapes"
    for _ in range(2):
        for index, (columns, filters, order) in enumerate(QUERIES):
            query = client.table("case_briefs").select(columns)
            for column, condition in filters.items():
                operator, value = condition.split(".", 1)
                query = query.eq(column, value) if operator == "eq" else query.neq(column, value)
            if order:
                name, _, direction = order.partition(".")
                query = query.order(name, desc=direction == "desc")
            rows = query.execute().data
            ids = [row["id"] for row in rows]
            assert (ids if order else sorted(ids)) == (expected[index] if order else sorted(expected[index])), (index, size)


@pytest.mark.parametrize("value", ["-1", "lots"])
def test_a_negative_statement_cache_size_is_refused(tmp_path: Path, value: str):
    out = refused(tmp_path, "--db-statement-cache-size", value)
    assert out.returncode != 0
    assert "--db-statement-cache-size" in out.stderr
