"""Malformed and hostile input to the data API, sent as raw HTTP.

Each bad request must get a PostgREST-shaped 4xx answer, write nothing (checked in the SQLite
file, read-only) and leave the server answering.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from helpers import (
    assert_pgrst_error,
    db_count,
    db_row,
    db_rows,
    db_tables,
    health_ok,
    nothing_written,
    raw_request,
    raw_sign_up,
    rest_headers,
    room_fields,
    unique_email,
)

INJECTIONS = [
    "x'; DROP TABLE practice_rooms; --",
    "1 OR 1=1",
    "' OR '1'='1",
    "1); DELETE FROM profiles; --",
    "\"; UPDATE practice_rooms SET private = 0; --",
]


@dataclass
class Caller:
    server: object
    user_id: str
    token: str
    room: dict

    def headers(self, **extra: str) -> dict[str, str]:
        return rest_headers(self.server, self.token, **extra)

    def service_headers(self, **extra: str) -> dict[str, str]:
        return rest_headers(self.server, key=self.server.service_key, **extra)

    def url(self, path: str) -> str:
        return f"{self.server.url}/rest/v1/{path}"

    def post(self, path: str, content: bytes, **extra: str) -> httpx.Response:
        headers = self.headers(**{"Content-Type": "application/json", "Prefer": "return=representation", **extra})
        return httpx.post(self.url(path), content=content, headers=headers)

    def patch(self, path: str, content: bytes, **extra: str) -> httpx.Response:
        headers = self.headers(**{"Content-Type": "application/json", "Prefer": "return=representation", **extra})
        return httpx.patch(self.url(path), content=content, headers=headers)

    def get(self, path: str, params=None) -> httpx.Response:
        return httpx.get(self.url(path), params=params, headers=self.headers())


@pytest.fixture
def caller(server) -> Caller:
    """A signed-up user with a profile and one public room."""
    user_id, token = raw_sign_up(server, unique_email("bad"))
    headers = rest_headers(server, token, Prefer="return=representation")
    response = httpx.post(f"{server.url}/rest/v1/profiles", headers=headers,
                          json={"first_name": "Bad", "last_name": "Input", "training_level": "tester"})
    assert response.status_code == 201, response.text
    response = httpx.post(f"{server.url}/rest/v1/practice_rooms", headers=headers, json=room_fields())
    assert response.status_code == 201, response.text
    room = response.json()[0]
    assert room["host_id"] == user_id
    return Caller(server, user_id, token, room)


def dumps(value) -> bytes:
    return json.dumps(value).encode()


# ---------------------------------------------------------------- malformed JSON


@pytest.mark.parametrize("body", [
    b'{"type": "Clinical", "room_url": "x"',
    b'{"type": "Clinical",}',
    b"not json at all",
    b"{'type': 'Clinical'}",
    b'{"type": "Clinical", "room_url": "\xff\xfe"}',
    b"",
], ids=["truncated", "trailing-comma", "text", "single-quotes", "invalid-utf8", "empty"])
def test_malformed_json_insert_is_400(caller, body):
    with nothing_written(caller.server):
        response = caller.post("practice_rooms", body)
        assert_pgrst_error(response, 400, "PGRST102")


@pytest.mark.parametrize("body", [b'{"type": "Communication"', b"[1, 2", b"null null"],
                         ids=["truncated", "array", "two-values"])
def test_malformed_json_update_is_400(caller, body):
    with nothing_written(caller.server):
        response = caller.patch(f"practice_rooms?id=eq.{caller.room['id']}", body)
        assert_pgrst_error(response, 400, "PGRST102")


def test_deeply_nested_json_is_refused_without_crashing(caller):
    for body in (b"[" * 200_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        with nothing_written(caller.server):
            response = caller.post("practice_rooms", body)
            assert 400 <= response.status_code < 500, response.status_code
            assert response.json()["code"]


@pytest.mark.parametrize("body", [b"42", b'"a string"', b"[1, 2]", b"[[]]", b"true"])
def test_json_that_is_not_rows_is_400(caller, body):
    with nothing_written(caller.server):
        response = caller.post("practice_rooms", body)
        assert response.status_code == 400, response.text
        assert {"code", "message", "details", "hint"} <= set(response.json())


def test_malformed_json_to_auth_is_400(server):
    with nothing_written(server):
        headers = rest_headers(server, **{"Content-Type": "application/json"})
        response = httpx.post(f"{server.url}/auth/v1/signup", content=b'{"email": "a@b.test", "password": ',
                              headers=headers)
        assert response.status_code == 400, response.text
        response = httpx.post(f"{server.url}/auth/v1/token", params={"grant_type": "password"}, content=b"{{",
                              headers=headers)
        assert response.status_code == 400, response.text


# ---------------------------------------------------------------- unknown names


@pytest.mark.parametrize("select", ["id,nope", "nope", "id,type,room_urll", "*,nope"])
def test_unknown_column_in_select_is_400(caller, select):
    with nothing_written(caller.server):
        response = caller.get("practice_rooms", {"select": select})
        assert_pgrst_error(response, 400, "42703")


def test_unknown_column_in_filter_or_order_is_400(caller):
    with nothing_written(caller.server):
        response = caller.get("practice_rooms", {"select": "id", "nope": "eq.1"})
        assert_pgrst_error(response, 400, {"42703", "PGRST100"})
        response = caller.get("practice_rooms", {"select": "id", "order": "nope.asc"})
        assert_pgrst_error(response, 400, {"42703", "PGRST100"})


def test_unknown_column_in_insert_is_400(caller):
    with nothing_written(caller.server):
        response = caller.post("practice_rooms", dumps(room_fields(nope="x")))
        assert_pgrst_error(response, 400, "PGRST204")
        response = caller.post("practice_rooms", dumps([room_fields(colour="red"), room_fields(colour="blue")]))
        assert_pgrst_error(response, 400, "PGRST204")
        response = caller.post("profiles", dumps({"first_name": "A", "last_name": "B", "training_level": "c",
                                                  "hashed_password": "x"}))
        assert_pgrst_error(response, 400, "PGRST204")


def test_unknown_column_in_update_is_400(caller):
    with nothing_written(caller.server):
        response = caller.patch(f"practice_rooms?id=eq.{caller.room['id']}", dumps({"type": "Communication", "nope": 1}))
        assert_pgrst_error(response, 400, "PGRST204")


@pytest.mark.parametrize("query", [
    {"host_id": "foo.bar"},
    {"stage": "eqq.1"},
    {"type": "Clinical"},
    {"type": "like"},
    {"room_url": "matches.x"},
], ids=["foo-bar", "eqq", "no-operator", "operator-only", "matches"])
def test_unknown_filter_operator_is_400(caller, query):
    with nothing_written(caller.server):
        response = caller.get("practice_rooms", {"select": "id", **query})
        assert_pgrst_error(response, 400, "PGRST100")


@pytest.mark.parametrize("query", [
    {"order": "datetime_utc.sideways"},
    {"order": "datetime_utc.asc.nullsmiddle"},
    {"limit": "ten"},
    {"offset": "-1x"},
], ids=["order-direction", "order-nulls", "limit", "offset"])
def test_malformed_order_limit_offset_is_400(caller, query):
    with nothing_written(caller.server):
        response = caller.get("practice_rooms", {"select": "id", **query})
        assert response.status_code == 400, response.text
        assert {"code", "message", "details", "hint"} <= set(response.json())


def test_unknown_operator_in_update_and_delete_is_400(caller):
    with nothing_written(caller.server):
        response = caller.patch(f"practice_rooms?id=foo.{caller.room['id']}", dumps({"type": "Communication"}))
        assert_pgrst_error(response, 400, "PGRST100")
        response = httpx.delete(caller.url(f"practice_rooms?id=foo.{caller.room['id']}"), headers=caller.headers())
        assert_pgrst_error(response, 400, "PGRST100")


@pytest.mark.parametrize("table", ["nope", "practice_room", "sqlite_master", "praxis_settings", "PRACTICE_ROOMS"])
def test_unknown_table_is_404(caller, table):
    with nothing_written(caller.server):
        response = caller.get(table, {"select": "*"})
        assert_pgrst_error(response, 404, "PGRST205")
        response = caller.post(table, dumps({"key": "x", "value": "y"}))
        assert_pgrst_error(response, 404, "PGRST205")
        response = caller.patch(f"{table}?key=eq.jwt_secret", dumps({"value": "y"}))
        assert_pgrst_error(response, 404, "PGRST205")
        response = httpx.delete(caller.url(f"{table}?key=eq.jwt_secret"), headers=caller.headers())
        assert_pgrst_error(response, 404, "PGRST205")
        response = httpx.get(caller.url(table), params={"select": "*"}, headers=caller.service_headers())
        assert_pgrst_error(response, 404, "PGRST205")


# ---------------------------------------------------------------- wrong types

TYPE_CODES = {"22P02", "22007", "22008", "23514"}


@pytest.mark.parametrize("change", [
    {"private": "maybe"},
    {"private": 2},
    {"datetime_utc": "not a date"},
    {"datetime_utc": "2030-13-45T99:00:00Z"},
    {"datetime_utc": None},
    {"type": "Surgery"},
    {"room_url": ""},
    {"type": None},
], ids=["private-maybe", "private-2", "date-text", "date-out-of-range", "date-null", "type", "url-empty", "type-null"])
def test_wrong_types_in_insert_are_400(caller, change):
    with nothing_written(caller.server):
        response = caller.post("practice_rooms", dumps(room_fields(**change)))
        assert_pgrst_error(response, 400, TYPE_CODES | {"23502"})


@pytest.mark.parametrize("change", [
    {"stage": "abc"},
    {"stage": 7},
    {"host_id": "not-a-uuid"},
    {"guest_id": "12345"},
    {"private": "maybe"},
], ids=["stage-abc", "stage-7", "host-not-uuid", "guest-not-uuid", "private-maybe"])
def test_wrong_types_are_400_for_the_service_role_too(caller, change):
    row = room_fields(host_id=caller.user_id)
    row.update(change)
    with nothing_written(caller.server):
        response = httpx.post(caller.url("practice_rooms"), content=dumps(row),
                              headers=caller.service_headers(**{"Content-Type": "application/json"}))
        assert_pgrst_error(response, 400, TYPE_CODES)
        response = httpx.patch(caller.url(f"practice_rooms?id=eq.{caller.room['id']}"), content=dumps(change),
                               headers=caller.service_headers(**{"Content-Type": "application/json"}))
        assert_pgrst_error(response, 400, TYPE_CODES)


@pytest.mark.parametrize("change", [
    {"private": "maybe"},
    {"datetime_utc": "not a date"},
    {"type": "Surgery"},
], ids=["private", "date", "type"])
def test_wrong_types_in_update_are_400(caller, change):
    with nothing_written(caller.server):
        response = caller.patch(f"practice_rooms?id=eq.{caller.room['id']}", dumps(change))
        assert_pgrst_error(response, 400, TYPE_CODES)


@pytest.mark.parametrize("query", [
    {"id": "eq.not-a-uuid"},
    {"host_id": "in.(abc,def)"},
    {"stage": "eq.abc"},
    {"stage": "gt.1.5.2"},
    {"private": "eq.maybe"},
    {"private": "is.maybe"},
    {"datetime_utc": "gt.not a date"},
], ids=["id", "host-in", "stage", "stage-gt", "private", "private-is", "date"])
def test_wrong_types_in_filters_are_400(caller, query):
    with nothing_written(caller.server):
        response = caller.get("practice_rooms", {"select": "id", **query})
        assert_pgrst_error(response, 400, TYPE_CODES | {"PGRST100"})


# ---------------------------------------------------------------- size


def test_body_over_one_mib_is_413(caller):
    server = caller.server
    headers = {
        "apikey": server.anon_key,
        "Authorization": f"Bearer {caller.token}",
        "Content-Type": "application/json",
        "Prefer": "return=representation",
    }
    big = dumps(room_fields(room_url="u" * (1536 * 1024)))
    with nothing_written(server):
        status, _ = raw_request(server, "POST", "/rest/v1/practice_rooms", headers, big)
        assert status == 413
    many = dumps([room_fields() for _ in range(12_000)])
    assert len(many) > 1 << 20
    with nothing_written(server):
        status, _ = raw_request(server, "POST", "/rest/v1/practice_rooms", headers, many)
        assert status == 413
    with nothing_written(server):
        status, _ = raw_request(server, "PATCH", f"/rest/v1/practice_rooms?id=eq.{caller.room['id']}", headers, big)
        assert status == 413
    # Just under the limit is read, and refused for what it says (the url is too long), not for its size.
    near = dumps(room_fields(room_url="u" * (1000 * 1024)))
    assert len(near) < 1 << 20
    with nothing_written(server):
        response = caller.post("practice_rooms", near)
        assert_pgrst_error(response, 400, "23514")


# ---------------------------------------------------------------- SQL-looking input


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_in_filter_values_is_a_plain_value(caller, value):
    text_filters = [
        {"room_url": f"eq.{value}"},
        {"room_url": f"neq.{value}", "private": "eq.true"},
        {"room_url": f"like.{value}"},
        {"room_url": f"ilike.*{value}*"},
        {"type": f"eq.{value}"},
        {"room_url": 'in.("' + value.replace("\\", "\\\\").replace('"', '\\"') + '")'},
    ]
    typed_filters = [
        {"host_id": f"eq.{value}"},
        {"stage": f"eq.{value}"},
        {"datetime_utc": f"lt.{value}"},
    ]
    with nothing_written(caller.server):
        for query in text_filters:
            response = caller.get("practice_rooms", {"select": "id", **query})
            assert response.status_code == 200, (query, response.text)
            assert response.json() == [], query
        for query in typed_filters:
            response = caller.get("practice_rooms", {"select": "id", **query})
            assert response.status_code in (200, 400), (query, response.text)
            if response.status_code == 200:
                assert response.json() == [], query
            else:
                assert response.json()["code"] in TYPE_CODES, (query, response.text)
        # The same in updates and deletes: nothing matches, nothing changes.
        response = caller.patch("practice_rooms?" + str(httpx.QueryParams({"room_url": f"eq.{value}"})),
                                dumps({"type": "Communication"}))
        assert response.status_code == 200 and response.json() == [], response.text
        response = httpx.delete(caller.url("practice_rooms"), params={"room_url": f"eq.{value}"},
                                headers=caller.headers(Prefer="return=representation"))
        assert response.status_code == 200 and response.json() == [], response.text
    assert db_count(caller.server, "practice_rooms") == 1
    # The room is still found by its real url: the table is intact.
    response = caller.get("practice_rooms", {"select": "id", "room_url": f"eq.{caller.room['room_url']}"})
    assert response.json() == [{"id": caller.room["id"]}]


def test_sql_in_values_is_stored_verbatim(caller):
    server = caller.server
    for value in INJECTIONS:
        response = caller.post("practice_rooms", dumps(room_fields(room_url=value)))
        assert response.status_code == 201, response.text
        room = response.json()[0]
        assert room["room_url"] == value
        assert db_row(server, "practice_rooms", "id", room["id"])["room_url"] == value
        found = caller.get("practice_rooms", {"select": "room_url", "room_url": f"eq.{value}"})
        assert found.json() == [{"room_url": value}]
    assert db_count(server, "practice_rooms") == 1 + len(INJECTIONS)

    name = "Robert'); DROP TABLE profiles; --"
    response = caller.patch(f"profiles?user_id=eq.{caller.user_id}", dumps({"first_name": name}))
    assert response.status_code == 200 and response.json()[0]["first_name"] == name
    assert db_row(server, "profiles", "user_id", caller.user_id)["first_name"] == name
    tables = db_tables(server)
    assert {"practice_rooms", "profiles", "users"} <= tables
    health_ok(server)


@pytest.mark.parametrize("query", [
    {"select": "id;DROP TABLE practice_rooms"},
    {"select": "id,(SELECT hashed_password FROM users)"},
    {"select": "id from users --"},
    {"order": "id;DROP TABLE practice_rooms"},
    {"order": "(SELECT 1)"},
    {"id);DROP TABLE practice_rooms;--": "eq.1"},
    {"room_url\" = room_url OR \"1": "eq.1"},
], ids=["select-semicolon", "select-subquery", "select-from", "order-semicolon", "order-subquery",
        "filter-name", "filter-quote"])
def test_sql_in_names_is_refused(caller, query):
    with nothing_written(caller.server):
        response = caller.get("practice_rooms", {"select": "id", **query} if "select" not in query else query)
        assert response.status_code == 400, response.text
        assert response.json()["code"] in {"42703", "PGRST100"}


def test_sql_in_the_table_name_is_404(caller):
    with nothing_written(caller.server):
        for path in ("practice_rooms;DROP TABLE profiles", "practice_rooms%20WHERE%201=1", "users--"):
            response = httpx.get(f"{caller.server.url}/rest/v1/{path}", headers=caller.headers())
            assert response.status_code == 404, (path, response.text)


# ---------------------------------------------------------------- credentials


@pytest.mark.parametrize("authorization", [
    "Bearer not.a.jwt",
    "Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl",
], ids=["garbage", "alg-none", "bad-signature"])
def test_garbage_credentials_are_401(caller, authorization):
    server = caller.server
    headers = {"apikey": server.anon_key, "Authorization": authorization, "Content-Type": "application/json",
               "Prefer": "return=representation"}
    with nothing_written(server):
        response = httpx.post(f"{server.url}/rest/v1/practice_rooms", content=dumps(room_fields()), headers=headers)
        assert response.status_code == 401, response.text
        response = httpx.get(f"{server.url}/rest/v1/users", params={"select": "*"}, headers=headers)
        assert response.status_code == 401, response.text


def test_no_write_happens_after_a_burst_of_bad_requests(caller):
    """Many different bad requests in a row: the server keeps answering good ones in between."""
    bad = [
        lambda: caller.post("practice_rooms", b"{"),
        lambda: caller.get("practice_rooms", {"select": "nope"}),
        lambda: caller.get("nope", {"select": "*"}),
        lambda: caller.get("practice_rooms", {"stage": "foo.bar"}),
        lambda: caller.post("practice_rooms", dumps(room_fields(stage="abc"))),
        lambda: caller.post("practice_rooms", dumps(room_fields(datetime_utc="yesterday"))),
    ]
    with nothing_written(caller.server):
        for _ in range(5):
            for request in bad:
                assert 400 <= request().status_code < 500
            ok = caller.get("practice_rooms", {"select": "id", "id": f"eq.{caller.room['id']}"})
            assert ok.status_code == 200 and ok.json() == [{"id": caller.room["id"]}]
    assert db_row(caller.server, "practice_rooms", "id", caller.room["id"])["datetime_utc"] == caller.room["datetime_utc"]
