"""The commands that run on PostgreSQL so far, on a private cluster (pg_cluster.py): migrate, keys
(the JWT secret kept in praxis_settings), client's key lookup; and serve refusing a postgres:// URL
with a message naming what is missing, never half-running."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess

from conftest import BIN


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


def test_serve_on_postgres_refuses_and_names_what_is_missing(pg_cluster):
    url = pg_cluster.fresh_database()
    result = praxis("serve", "--port", "0", "--db", url, check=False)
    assert result.returncode == 1
    assert "not yet supported: 'praxis serve' on PostgreSQL" in result.stderr
    assert "change log" in result.stderr and "realtime" in result.stderr
    assert "Praxis listening" not in result.stdout + result.stderr
