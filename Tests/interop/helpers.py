"""Helpers shared by the HTTP interop tests: clients, accounts, tokens, read-only database checks."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import sqlite3
import time
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
from postgrest import APIError

from conftest import BACKEND
from supabase import Client, ClientOptions, create_client

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
PASSWORD = "correct-horse-battery"

# Tables the data API can write to, snapshotted to prove a bad request wrote nothing.
ROW_TABLES = {
    "practice_rooms": "id",
    "profiles": "user_id",
    "practice_rounds": "id",
    "audit_logs": "id",
    "users": "id",
}
COUNT_TABLES = ("case_briefs", "subscriptions", "feedback_reports", "user_progress_snapshots")


# ---------------------------------------------------------------- clients and accounts


def new_client(server, key: str | None = None, headers: dict[str, str] | None = None) -> Client:
    """A fresh supabase client as an app makes it (no background refresh, session in memory)."""
    options = ClientOptions(auto_refresh_token=False, persist_session=False)
    if headers:
        options.headers.update(headers)
    return create_client(server.url, key or server.anon_key, options)


def service_client(server) -> Client:
    return new_client(server, server.service_key)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.test"


@dataclass
class Account:
    client: Client
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str


def sign_up(server, email: str | None = None, password: str = PASSWORD, full_name: str = "Test Person",
            profession: str = "medicine") -> Account:
    """Signs a new user up through the supabase client; the client then acts as that user."""
    client = new_client(server)
    email = email or unique_email()
    result = client.auth.sign_up({
        "email": email,
        "password": password,
        "options": {"data": {"full_name": full_name, "profession": profession}},
    })
    assert result.session is not None, "sign_up must return a session immediately (auto-confirm)"
    return Account(client, result.user.id, email, password, result.session.access_token, result.session.refresh_token)


def sign_in(server, email: str, password: str) -> Account:
    client = new_client(server)
    result = client.auth.sign_in_with_password({"email": email, "password": password})
    assert result.session is not None
    return Account(client, result.user.id, email, password, result.session.access_token, result.session.refresh_token)


def make_profile(account: Account, first_name: str = "Test", last_name: str = "Person",
                 training_level: str = "foundation year 1") -> dict:
    rows = account.client.table("profiles").insert(
        {"first_name": first_name, "last_name": last_name, "training_level": training_level}
    ).execute().data
    assert len(rows) == 1 and rows[0]["user_id"] == account.id
    return rows[0]


def user_with_profile(server, prefix: str = "user") -> Account:
    account = sign_up(server, unique_email(prefix))
    make_profile(account, first_name=prefix.capitalize())
    return account


def iso(moment: datetime) -> str:
    """A timestamp in the stored form: 2030-05-01T10:00:00.000000Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def future(hours: float) -> str:
    base = datetime(2030, 5, 1, 10, 0, 0, tzinfo=timezone.utc)
    return iso(base + timedelta(hours=hours))


def room_fields(**overrides: Any) -> dict:
    fields = {
        "datetime_utc": future(2),
        "type": "Clinical",
        "room_url": f"room-{uuid.uuid4().hex}",
        "private": False,
    }
    fields.update(overrides)
    return fields


def make_room(account: Account, **overrides: Any) -> dict:
    rows = account.client.table("practice_rooms").insert(room_fields(**overrides)).execute().data
    assert len(rows) == 1
    return rows[0]


def refused_or_empty(call: Callable[[], Any]) -> None:
    """Runs a write the caller may not make: it must fail or change no row."""
    try:
        result = call()
    except APIError:
        return
    assert result.data == [], f"expected an error or no rows, got {result.data!r}"


def api_error(call: Callable[[], Any]) -> APIError:
    """Runs a request that must fail with a PostgREST-shaped error and returns that error."""
    try:
        result = call()
    except APIError as error:
        return error
    raise AssertionError(f"expected an APIError, got data {getattr(result, 'data', result)!r}")


# ---------------------------------------------------------------- raw HTTP


def rest_headers(server, token: str | None = None, key: str | None = None, **extra: str) -> dict[str, str]:
    key = key or server.anon_key
    headers = {"apikey": key, "Authorization": f"Bearer {token or key}"}
    headers.update(extra)
    return headers


def raw_sign_up(server, email: str | None = None, password: str = PASSWORD) -> tuple[str, str]:
    """Signs up over plain HTTP; returns (user id, access token)."""
    response = httpx.post(
        f"{server.url}/auth/v1/signup",
        headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"},
        json={"email": email or unique_email(), "password": password},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["user"]["id"], body["access_token"]


def raw_refresh(server, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/auth/v1/token",
        params={"grant_type": "refresh_token"},
        headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"},
        json={"refresh_token": refresh_token},
    )


def assert_pgrst_error(response: httpx.Response, status: int | set[int], codes: str | set[str]) -> dict:
    """A PostgREST error: the status, and a JSON body {code, message, details, hint} with one of the codes."""
    statuses = {status} if isinstance(status, int) else status
    wanted = {codes} if isinstance(codes, str) else codes
    assert response.status_code in statuses, f"status {response.status_code}: {response.text[:500]}"
    body = response.json()
    assert isinstance(body, dict), body
    assert {"code", "message", "details", "hint"} <= set(body), body
    assert body["code"] in wanted, body
    assert isinstance(body["message"], str) and body["message"], body
    return body


def health_ok(server) -> None:
    response = httpx.get(f"{server.url}/health", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def raw_request(server, method: str, path: str, headers: dict[str, str], body: bytes,
                timeout: float = 30) -> tuple[int, bytes]:
    """Sends one request over a plain socket and returns (status, body so far).

    A server that answers 413 before the whole body arrived may close the connection
    while the body is still being sent: write errors are ignored and the answer is read anyway.
    """
    head = f"{method} {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    for name, value in headers.items():
        head += f"{name}: {value}\r\n"
    head += "\r\n"
    received = b""
    with closing(socket.create_connection((server.host, server.port), timeout=timeout)) as sock:
        try:
            sock.sendall(head.encode())
            view = memoryview(body)
            for start in range(0, len(body), 65536):
                sock.sendall(view[start:start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _complete(received):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 "), f"no HTTP answer: {received[:200]!r}"
    status = int(received.split(b" ", 2)[1])
    _, _, payload = received.partition(b"\r\n\r\n")
    return status, payload


def _complete(received: bytes) -> bool:
    """Whether `received` holds a whole response with a Content-Length body."""
    head, separator, payload = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(payload) >= int(value.strip())
    return False


# ---------------------------------------------------------------- tokens


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(claims: dict, secret: str) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode("utf-8"), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def jwt_secret(server) -> str:
    rows = db_rows(server, "SELECT value FROM praxis_settings WHERE key = 'jwt_secret'")
    assert rows, "no jwt_secret in praxis_settings"
    return rows[0][0]


def open_session_id(server, user_id: str) -> str | None:
    """The user's latest open login session, as the server would put in their tokens."""
    rows = db_rows(server, "SELECT id FROM auth_sessions WHERE user_id = ? AND ended_at IS NULL "
                           "ORDER BY created_at DESC LIMIT 1", (user_id,))
    return rows[0][0] if rows else None


def user_token(server, user_id: str, email: str, expires_in: int, secret: str | None = None,
               session_id: str | None | bool = True) -> str:
    """A user access token minted like the server's: `session_id` True takes the user's latest
    open session, None leaves the claim out, a string is used as given."""
    now = int(time.time())
    claims = {
        "iss": "praxis",
        "role": "authenticated",
        "sub": user_id,
        "aud": "authenticated",
        "email": email,
        "iat": now - 7200 if expires_in < 0 else now,
        "exp": now + expires_in,
    }
    if session_id is True:
        session_id = open_session_id(server, user_id)
    if session_id is not None:
        claims["session_id"] = session_id
    return jwt_hs256(claims, secret if secret is not None else jwt_secret(server))


# ---------------------------------------------------------------- the database, read-only


def db_rows(server, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of `sql` (with `?` placeholders) read from the server's database, read-only, with
    values in the SQLite file's shapes on either backend (see `open_database`)."""
    with open_database(server) as db:
        return db.execute(sql, params).fetchall()


def db_row(server, table: str, key: str, value: str) -> dict | None:
    with open_database(server) as db:
        cursor = db.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,))
        row = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], row)) if row is not None else None


def db_count(server, table: str, where: str = "1=1", params: tuple = ()) -> int:
    return db_rows(server, f"SELECT count(*) FROM {table} WHERE {where}", params)[0][0]


def db_tables(server, views: bool = False) -> set[str]:
    """The names of the database's tables, and views when asked (SQLite's schema, or
    PostgreSQL's `public` schema)."""
    if BACKEND == "postgres":
        kinds = "('BASE TABLE', 'VIEW')" if views else "('BASE TABLE')"
        return {r[0] for r in db_rows(
            server, f"SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type IN {kinds}")}
    kinds = "('table', 'view')" if views else "('table')"
    return {r[0] for r in db_rows(server, f"SELECT name FROM sqlite_master WHERE type IN {kinds}")}


class _PostgresReader:
    """A read-only PostgreSQL connection that answers like sqlite3: `?` placeholders, and values
    as the SQLite file stores them (uuids and timestamps as text, booleans 0/1, JSON as text)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url.split("?", 1)[0], autocommit=True)
        self.connection.read_only = True

    def execute(self, sql: str, params: tuple = ()):
        cursor = self.connection.cursor()
        cursor.execute(sql.replace("?", "%s"), params)
        return _SQLiteShapedCursor(cursor)

    def close(self) -> None:
        self.connection.close()


class _SQLiteShapedCursor:
    def __init__(self, cursor) -> None:
        self.cursor = cursor
        self.description = cursor.description

    def fetchall(self) -> list[tuple]:
        return [tuple(_sqlite_shape(v) for v in row) for row in self.cursor.fetchall()]

    def fetchone(self):
        row = self.cursor.fetchone()
        return None if row is None else tuple(_sqlite_shape(v) for v in row)


def _sqlite_shape(value):
    from decimal import Decimal

    if isinstance(value, bool):
        return int(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@contextmanager
def open_database(server):
    """The server's database, read-only: sqlite3 on the SQLite file, or a PostgreSQL connection
    that answers in the same shapes."""
    if BACKEND == "postgres":
        db = _PostgresReader(server.database)
    else:
        db = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True, timeout=10)
    try:
        yield db
    finally:
        db.close()


def snapshot(server) -> dict:
    """Every row of the writable tables and the size of the others."""
    state: dict[str, Any] = {}
    state["tables"] = sorted(db_tables(server))
    with open_database(server) as db:
        for table, key in ROW_TABLES.items():
            columns = "*" if table != "users" else "id, email, hashed_password, full_name, role, profession, status"
            state[table] = db.execute(f"SELECT {columns} FROM {table} ORDER BY {key}").fetchall()
        for table in COUNT_TABLES:
            state[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return state


@contextmanager
def nothing_written(server):
    """Asserts the block wrote nothing to the database and the server still answers."""
    before = snapshot(server)
    yield
    after = snapshot(server)
    assert after == before, "the request changed the database"
    health_ok(server)
