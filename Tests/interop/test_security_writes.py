"""Issue 11, items 1, 2, 6 and 7: the data API's write paths under the access rules, driven as a
hostile user would with unmodified supabase-py (upserts, on_conflict oracles), and oversized or
NUL-bearing input answered with a clear 400 and nothing stored."""
from __future__ import annotations

import httpx
import pytest
from postgrest import APIError

from helpers import (
    api_error, assert_pgrst_error, db_row, make_room, nothing_written, rest_headers, service_client,
    user_with_profile,
)


def private_room_with_free_seat(server):
    host = user_with_profile(server, "host")
    room = make_room(host, private=True)
    stranger = user_with_profile(server, "stranger")
    return host, room, stranger


# ---------------------------------------------------------------- 1. upserts under the rules


def test_stranger_cannot_take_a_private_seat_by_upserting_on_the_id(server):
    host, room, stranger = private_room_with_free_seat(server)
    with nothing_written(server):
        error = api_error(lambda: stranger.client.table("practice_rooms").upsert(
            {"id": room["id"], "guest_id": stranger.id}).execute())
    # The row is hidden from the stranger, so the upsert answers as a plain insert of that row
    # would: a new room takes no guest.
    assert error.code == "42501"
    assert room["room_url"] not in str(error.message) + str(error.details)
    assert db_row(server, "practice_rooms", "id", room["id"])["guest_id"] is None


def test_stranger_cannot_upsert_on_host_type_and_private(server):
    host, room, stranger = private_room_with_free_seat(server)
    with nothing_written(server):
        error = api_error(lambda: stranger.client.table("practice_rooms").upsert(
            {"host_id": host.id, "type": room["type"], "private": True, "guest_id": stranger.id},
            on_conflict="host_id,private,type").execute())
    assert error.code == "42P10"  # not a unique key: no ON CONFLICT target
    with nothing_written(server):
        error = api_error(lambda: stranger.client.table("practice_rooms").upsert(
            {"host_id": host.id, "type": room["type"], "private": True, "guest_id": stranger.id},
            on_conflict="host_id,private,type", ignore_duplicates=True).execute())
    assert error.code == "42P10"


def test_ignore_duplicates_on_a_hidden_room_tells_no_more_than_an_insert(server):
    host, room, stranger = private_room_with_free_seat(server)
    body = {"id": room["id"], "type": "Communication"}
    with nothing_written(server):
        upserted = api_error(lambda: stranger.client.table("practice_rooms").upsert(body, ignore_duplicates=True).execute())
        plain = api_error(lambda: stranger.client.table("practice_rooms").insert(body).execute())
    assert (upserted.code, upserted.message) == (plain.code, plain.message)


def test_a_link_holder_takes_a_free_private_seat_by_upserting_on_the_link(server):
    """The link reaches a private room through on_conflict=room_url as it does in a filter."""
    host, room, stranger = private_room_with_free_seat(server)
    rows = stranger.client.table("practice_rooms").upsert(
        {"room_url": room["room_url"], "guest_id": stranger.id}, on_conflict="room_url").execute().data
    assert [row["id"] for row in rows] == [room["id"]]
    assert db_row(server, "practice_rooms", "id", room["id"])["guest_id"] == stranger.id
    # Now the seat is taken: a third user with the link can neither take it nor learn more.
    late = user_with_profile(server, "late")
    with nothing_written(server):
        error = api_error(lambda: late.client.table("practice_rooms").upsert(
            {"room_url": room["room_url"], "guest_id": late.id}, on_conflict="room_url").execute())
    assert error.code == "42501"


def test_upsert_merge_is_the_update_rule(server):
    host, room, stranger = private_room_with_free_seat(server)
    public = make_room(host)
    # A stranger may take the free seat of a public room, as with PATCH.
    rows = stranger.client.table("practice_rooms").upsert({"id": public["id"], "guest_id": stranger.id}).execute().data
    assert rows[0]["guest_id"] == stranger.id
    # ...but may not change anything else of it.
    with nothing_written(server):
        error = api_error(lambda: stranger.client.table("practice_rooms").upsert(
            {"id": public["id"], "type": "Communication"}).execute())
    assert error.code == "42501"
    # The host edits their own room by upsert; the service role may do anything.
    rows = host.client.table("practice_rooms").upsert({"id": room["id"], "type": "Communication"}).execute().data
    assert rows[0]["type"] == "Communication"
    rows = service_client(server).table("practice_rooms").upsert({"id": room["id"], "type": "Clinical"}).execute().data
    assert rows[0]["type"] == "Clinical"


# ---------------------------------------------------------------- 2. on_conflict oracles


def conflict_answers(server, token: str, table: str, column: str, guesses) -> list[tuple[int, dict]]:
    """The answers to `ignore-duplicates` upserts naming `column` as the conflict target, one per
    guessed value; each must have written nothing."""
    answers = []
    for guess in guesses:
        with nothing_written(server):
            response = httpx.post(
                f"{server.url}/rest/v1/{table}?on_conflict={column}",
                headers=rest_headers(server, token, Prefer="resolution=ignore-duplicates"),
                json={column: guess},
            )
        answers.append((response.status_code, response.json()))
    return answers


@pytest.mark.parametrize("column", ["actor_brief", "candidate_brief"])
def test_on_conflict_on_a_brief_says_nothing_about_its_text(demo_server, column):
    user = user_with_profile(demo_server, "prober")
    stored = service_client(demo_server).table("case_briefs").select(column).limit(1).execute().data[0][column]
    answers = conflict_answers(demo_server, user.access_token, "case_briefs", column, (stored, "a text nobody wrote"))
    assert answers[0] == answers[1]
    assert answers[0][0] == 403


@pytest.mark.parametrize("column", ["email", "role", "id"])
def test_on_conflict_on_users_says_nothing_about_other_users(demo_server, column):
    user = user_with_profile(demo_server, "prober")
    admin = service_client(demo_server).table("users").select("*").eq("role", "admin").execute().data[0]
    miss = "nobody@example.test" if column != "id" else "00000000-0000-4000-8000-000000000000"
    answers = conflict_answers(demo_server, user.access_token, "users", column, (admin[column], miss))
    assert answers[0] == answers[1]
    assert answers[0][0] == 403


# ---------------------------------------------------------------- 6. oversized queries


@pytest.mark.parametrize("query, words", [
    ("&".join(f"type=neq.x{i}" for i in range(1100)), "too many filters: 1100 (at most 100)"),
    ("order=" + ",".join("id" for _ in range(3000)), "too many order terms: 3000 (at most 32)"),
    ("id=in.(" + ",".join("x" for _ in range(1500)) + ")",
     "too many filter values: 1500 (at most 1000)"),
])
def test_oversized_queries_get_a_400_with_the_limit(server, query, words):
    user = user_with_profile(server, "big")
    for method in ("GET", "PATCH", "DELETE"):
        with nothing_written(server):
            response = httpx.request(
                method, f"{server.url}/rest/v1/practice_rooms?{query}",
                headers=rest_headers(server, user.access_token), json={"type": "Clinical"} if method == "PATCH" else None,
            )
        body = assert_pgrst_error(response, 400, "PGRST100")
        assert words in body["message"]
        assert "Expression tree" not in response.text and "SQLITE" not in response.text.upper()


def test_queries_at_the_limit_are_served_and_the_limit_is_a_flag(tmp_path):
    from conftest import start_server

    srv = start_server(tmp_path / "praxis.sqlite", "--rest-max-filters", "3")
    try:
        user = user_with_profile(srv, "limit")
        make_room(user)
        ok = httpx.get(f"{srv.url}/rest/v1/practice_rooms?type=eq.Clinical&private=is.false&stage=eq.1",
                       headers=rest_headers(srv, user.access_token))
        assert ok.status_code == 200 and len(ok.json()) == 1
        refused = httpx.get(f"{srv.url}/rest/v1/practice_rooms?type=eq.Clinical&private=is.false&stage=eq.1&id=not.is.null",
                            headers=rest_headers(srv, user.access_token))
        assert "too many filters: 4 (at most 3)" in assert_pgrst_error(refused, 400, "PGRST100")["message"]
    finally:
        srv.stop()


# ---------------------------------------------------------------- 7. NUL in text


def test_nul_in_text_is_refused_whole_and_nothing_is_stored(server):
    user = user_with_profile(server, "nul")
    with nothing_written(server):
        error = api_error(lambda: user.client.table("profiles").update({"first_name": "a\u0000b"}).eq("user_id", user.id).execute())
    assert error.code == "22P05"
    with nothing_written(server):
        error = api_error(lambda: user.client.table("practice_rooms").insert(
            {"datetime_utc": "2030-05-01T10:00:00Z", "type": "Clinical", "room_url": "r\u0000oom"}).execute())
    assert error.code == "22P05"
    with nothing_written(server):
        response = httpx.get(f"{server.url}/rest/v1/profiles?first_name=eq.a%00b", headers=rest_headers(server, user.access_token))
    assert_pgrst_error(response, 400, "PGRST100")
    stored = user.client.table("profiles").select("first_name").eq("user_id", user.id).execute().data[0]["first_name"]
    assert "\u0000" not in stored and stored == "Nul"


def test_nul_in_auth_fields_is_refused(server):
    response = httpx.post(
        f"{server.url}/auth/v1/signup", headers={"apikey": server.anon_key},
        json={"email": "a\u0000b@example.test", "password": "correct-horse-battery"},
    )
    assert response.status_code == 400
    response = httpx.post(
        f"{server.url}/auth/v1/signup", headers={"apikey": server.anon_key},
        json={"email": "nul-meta@example.test", "password": "correct-horse-battery", "data": {"full_name": "x\u0000y"}},
    )
    assert response.status_code == 400 and "NUL" in response.json()["msg"]
