"""Issue 2 acceptance from the outside: the real binary, a real SQLite file."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import BIN, start_server
from helpers import db_count, db_rows, db_tables

SEED_TABLES = {
    "users", "subscriptions", "scenarios", "sessions", "feedback_reports", "user_progress_snapshots",
    "audit_logs", "profiles", "practice_rooms", "practice_rounds", "case_briefs",
}


def test_health_ready_metrics(demo_server):
    assert httpx.get(f"{demo_server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{demo_server.url}/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    metrics = httpx.get(f"{demo_server.url}/metrics")
    assert metrics.status_code == 200
    assert "praxis_http_requests_total" in metrics.text


def test_every_seed_table_exists_in_the_file(demo_server):
    names = db_tables(demo_server, views=True)
    assert SEED_TABLES <= names


def test_demo_library_is_broad(demo_server):
    count, professions = db_rows(demo_server, "SELECT count(*), count(DISTINCT target_profession) FROM case_briefs")[0]
    domains = {row[0] for row in db_rows(demo_server, "SELECT DISTINCT domain FROM case_briefs")}
    assert count >= 40 and professions >= 6 and domains == {"Clinical", "Communication"}


def test_restart_keeps_data_and_keys(tmp_path: Path):
    db = tmp_path / "praxis.sqlite"
    first = start_server(db, "--demo")
    users_before = db_count(first, "users")
    keys_before = (first.anon_key, first.service_key)
    assert first.stop() == 0
    second = start_server(db, "--demo")  # --demo into a non-empty database loads nothing more
    try:
        assert db_count(second, "users") == users_before
        # The signing secret survived the restart, so keys issued before it still verify.
        secret = db_rows(second, "SELECT value FROM praxis_settings WHERE key = 'jwt_secret'")[0][0]
        for key in keys_before:
            assert hs256_valid(key, secret)
        assert httpx.get(f"{second.url}/rest/v1/case_briefs?select=id&limit=1",
                         headers={"apikey": keys_before[0]}).status_code == 200
    finally:
        second.stop()


def hs256_valid(token: str, secret: str) -> bool:
    header, payload, signature = token.split(".")
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.urlsafe_b64encode(expected).rstrip(b"=").decode(), signature)


def test_keys_while_running(server):
    out = subprocess.run([BIN, "keys", "--db", server.database], capture_output=True, text=True, check=True)
    keys = json.loads(out.stdout)
    assert set(keys) == {"anon", "service_role"}


def test_sigterm_exits_cleanly(server):
    assert server.stop() == 0


def test_unknown_flag_exits_2_with_one_line():
    out = subprocess.run([BIN, "serve", "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--bogus" in lines[0]


def test_bad_value_exits_2_naming_it():
    out = subprocess.run([BIN, "serve", "--port", "notaport"], capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "port" in lines[0]


def test_bad_environment_value_exits_2(tmp_path: Path):
    out = subprocess.run([BIN, "serve", "--db", str(tmp_path / "x.sqlite")], capture_output=True, text=True,
                         env={"PRAXIS_PORT": "99999", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "PRAXIS_PORT" in out.stderr


@pytest.mark.sqlite_only(reason="a SQLite file's own handling")
def test_unwritable_database_path_is_a_clear_error(tmp_path: Path):
    out = subprocess.run([BIN, "serve", "--port", "0", "--db", "/proc/praxis/nope.sqlite"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "cannot open database" in out.stderr


@pytest.mark.sqlite_only(reason="a SQLite file's own handling")
def test_not_a_database_is_refused_and_untouched(tmp_path: Path):
    path = tmp_path / "notes.sqlite"
    content = b"these are my notes, not a database\n" * 100
    path.write_bytes(content)
    out = subprocess.run([BIN, "serve", "--port", "0", "--db", str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "not a SQLite database" in out.stderr
    assert path.read_bytes() == content
    assert not (tmp_path / "notes.sqlite-wal").exists()


@pytest.mark.sqlite_only(reason="a SQLite file's own handling")
def test_migrate_is_idempotent(tmp_path: Path):
    db = tmp_path / "m.sqlite"
    first = subprocess.run([BIN, "migrate", "--db", str(db)], capture_output=True, text=True, check=True)
    second = subprocess.run([BIN, "migrate", "--db", str(db)], capture_output=True, text=True, check=True)
    assert first.stdout == second.stdout
