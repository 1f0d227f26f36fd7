"""The commands that run on PostgreSQL so far, on a private cluster (pg_cluster.py): migrate, keys
(the JWT secret kept in praxis_settings), client's key lookup; and serve on PostgreSQL: a data API
insert reaches a realtime subscriber through the change log, and the demo data loads once."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx

from realtime import RealtimePostgresChangesListenEvent as Listen

from conftest import BIN, start_server
from helpers import make_room, new_client, room_fields, user_with_profile
from realtime_helpers import Sink, close_all, realtime_client, run, subscribe


def praxis(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, check=check)


def signed_with(token: str, secret: str) -> bool:
    """Whether an HS256 JWT's signature is `secret`'s."""
    head, body, signature = token.split(".")
    expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature


def role(token: str) -> str:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["role"]


def test_keys_on_postgres_are_signed_with_one_kept_secret(pg_cluster):
    url = pg_cluster.fresh_database()
    migrated = praxis("migrate", "--db", url)
    assert "migrations applied" in migrated.stdout
    first = json.loads(praxis("keys", "--db", url).stdout)
    second = json.loads(praxis("keys", "--db", url).stdout)
    secret = pg_cluster.query(url, "SELECT value FROM praxis_settings WHERE key = 'jwt_secret'")
    assert len(base64.b64decode(secret)) == 32
    for keys in (first, second):
        assert {name: role(token) for name, token in keys.items()} == {"anon": "anon", "service_role": "service_role"}
        assert all(signed_with(token, secret) for token in keys.values())
    given = json.loads(praxis("keys", "--db", url, "--jwt-secret", "a-secret-given-on-the-command-line-32b").stdout)
    assert all(signed_with(token, "a-secret-given-on-the-command-line-32b") for token in given.values())
    assert pg_cluster.query(url, "SELECT count(*) FROM praxis_settings") == "1"


def test_keys_migrate_an_empty_postgres_database_first(pg_cluster):
    url = pg_cluster.fresh_database()
    keys = json.loads(praxis("keys", "--db", url).stdout)
    assert keys["anon"].count(".") == 2
    status = praxis("migrate", "--db", url)
    assert ", 0 now" in status.stdout


async def test_serve_on_postgres_publishes_a_data_api_insert_to_realtime(pg_cluster):
    url = pg_cluster.fresh_database()
    server = start_server(url)
    try:
        assert "(database postgres://" in "".join(server.output)
        host = user_with_profile(server, "host")
        client = await realtime_client(server, host.access_token)
        try:
            inserted = Sink()
            channel = client.channel("pg-board").on_postgres_changes(Listen.Insert, inserted, table="practice_rooms")
            await subscribe(channel)
            room = await run(make_room, host)
            items = await inserted.wait_count(1)
            assert items[0]["data"]["type"] == "INSERT" and items[0]["data"]["record"] == room
        finally:
            await close_all(client)
        logged = pg_cluster.query(url, "SELECT string_agg(table_name || ' ' || type, ',' ORDER BY \"offset\") FROM realtime_changes")
        assert logged == "profiles INSERT,practice_rooms INSERT"
    finally:
        assert server.stop() == 0


def test_serve_on_postgres_loads_the_demo_data_once(pg_cluster):
    url = pg_cluster.fresh_database()
    server = start_server(url, "--demo")
    try:
        assert "Demo data loaded" in "".join(server.output)
        rooms = new_client(server).table("practice_rooms").select("id").execute().data
        assert len(rooms) == 2  # the private one is not on the public board
        cases = int(pg_cluster.query(url, "SELECT count(*) FROM case_briefs"))
        assert cases > 0
    finally:
        assert server.stop() == 0
    again = start_server(url, "--demo")
    try:
        assert "Demo data loaded" not in "".join(again.output)
        assert int(pg_cluster.query(url, "SELECT count(*) FROM case_briefs")) == cases
    finally:
        again.stop()


def test_the_pool_size_bounds_the_servers_connections_and_writes_beyond_it_wait(pg_cluster):
    url = pg_cluster.fresh_database()
    server = start_server(url, "--db-pool-size", "2")
    try:
        host = user_with_profile(server, "host")
        headers = {"apikey": server.anon_key, "Authorization": f"Bearer {host.access_token}", "Prefer": "return=representation"}

        def insert(index: int) -> int:
            response = httpx.post(f"{server.url}/rest/v1/practice_rooms", json=room_fields(room_url=f"pool-{index}"),
                                  headers=headers, timeout=30)
            return response.status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(insert, range(48)))
        assert statuses == [201] * 48, "every write beyond the pool waits for a connection, none fails"
        assert pg_cluster.query(url, "SELECT count(*) FROM practice_rooms WHERE room_url LIKE 'pool-%'") == "48"
        opened = pg_cluster.query(
            url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert 1 <= int(opened) <= 2, f"{opened} connections for a pool of 2"
    finally:
        assert server.stop() == 0


def test_a_pool_of_no_connections_is_refused_naming_the_flag(pg_cluster):
    out = praxis("serve", "--port", "0", "--db", pg_cluster.fresh_database(), "--db-pool-size", "0", check=False)
    assert out.returncode == 2 and "--db-pool-size" in out.stderr
