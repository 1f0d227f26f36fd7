"""The auth (GoTrue) and data (PostgREST) HTTP API, driven by the unmodified PyPI `supabase` client.

Every test talks to its own fresh server, makes its own users, and checks what it cannot see
through the API (nothing written, hidden columns) in the SQLite file, read-only.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
from postgrest import APIError
from supabase_auth.errors import AuthApiError, AuthError

from helpers import (
    PASSWORD,
    TIMESTAMP,
    UUID_V4,
    Account,
    api_error,
    db_count,
    db_row,
    db_rows,
    future,
    jwt_claims,
    make_profile,
    make_room,
    new_client,
    raw_refresh,
    refused_or_empty,
    rest_headers,
    room_fields,
    service_client,
    sign_in,
    sign_up,
    unique_email,
    user_token,
    user_with_profile,
)

ADMIN = ("admin@praxis.test", "praxis-admin-demo")
ASHA = ("asha.patel@praxis.test", "practice-demo-1")
ROOM_COLUMNS = {
    "id", "host_id", "guest_id", "datetime_utc", "first_round_id", "second_round_id", "type", "room_url",
    "stage", "private", "created_at", "updated_at",
}
BRIEF_COLUMNS = {"candidate_brief", "actor_brief"}


def auth_error(call) -> AuthError:
    try:
        call()
    except AuthError as error:
        return error
    raise AssertionError("expected an auth error")


def room_in_db(server, room_id: str) -> dict | None:
    return db_row(server, "practice_rooms", "id", room_id)


# ====================================================================== auth


def test_sign_up_returns_a_session_at_once(server):
    email = unique_email("signup")
    client = new_client(server)
    result = client.auth.sign_up({
        "email": email,
        "password": PASSWORD,
        "options": {"data": {"full_name": "Nia Mensah", "profession": "nursing"}},
    })
    session = result.session
    assert session is not None
    assert session.access_token and session.refresh_token
    assert session.expires_in > 0
    assert session.token_type.lower() == "bearer"
    user = result.user
    assert UUID_V4.match(user.id)
    assert user.email == email
    assert session.user.id == user.id
    assert user.user_metadata.get("full_name") == "Nia Mensah"
    assert user.user_metadata.get("profession") == "nursing"

    claims = jwt_claims(session.access_token)
    assert claims["sub"] == user.id and claims["role"] == "authenticated"
    assert claims["exp"] > claims["iat"]

    # The account is stored with what the app sent.
    row = db_row(server, "users", "id", user.id)
    assert row is not None
    assert row["email"] == email and row["full_name"] == "Nia Mensah" and row["profession"] == "nursing"
    assert row["role"] == "user"
    assert row["hashed_password"] != PASSWORD and PASSWORD not in row["hashed_password"]

    # The client now acts as the user: it reads its own users row.
    own = client.table("users").select("id, email, full_name").execute().data
    assert own == [{"id": user.id, "email": email, "full_name": "Nia Mensah"}]

    # The session signs in again with the same password.
    again = sign_in(server, email, PASSWORD)
    assert again.id == user.id


def test_sign_up_refuses_a_short_password(server):
    email = unique_email("short")
    error = auth_error(lambda: new_client(server).auth.sign_up({"email": email, "password": "12345"}))
    assert error.status in (400, 422)
    assert db_count(server, "users", "email = ?", (email,)) == 0
    # Six characters is enough.
    assert sign_up(server, email, password="123456").email == email


def test_sign_up_refuses_a_taken_email_in_any_case(server):
    email = unique_email("dup")
    first = sign_up(server, email)
    error = auth_error(lambda: new_client(server).auth.sign_up({"email": email, "password": PASSWORD}))
    assert 400 <= error.status < 500
    error = auth_error(lambda: new_client(server).auth.sign_up({"email": email.upper(), "password": "other-pass-9"}))
    assert 400 <= error.status < 500
    assert db_count(server, "users", "lower(email) = lower(?)", (email,)) == 1
    # The original account is untouched: its password still works.
    assert sign_in(server, email, PASSWORD).id == first.id


def test_sign_in_matches_email_in_any_case(server):
    email = unique_email("foo")
    account = sign_up(server, email)
    mixed = email[0].upper() + email[1:].replace("example.test", "Example.TEST")
    assert mixed != email
    signed_in = sign_in(server, mixed, PASSWORD)
    assert signed_in.id == account.id
    # A user who signed up with capitals signs in with lower case too.
    upper = "Foo-" + unique_email("Bar").replace("example.test", "Example.test")
    other = sign_up(server, upper)
    assert sign_in(server, upper.lower(), PASSWORD).id == other.id


def test_wrong_password_and_unknown_email_get_the_same_error(server):
    account = sign_up(server)
    for email, password in [(account.email, "wrong-password-1"), (unique_email("nobody"), PASSWORD)]:
        error = auth_error(lambda: new_client(server).auth.sign_in_with_password(
            {"email": email, "password": password}))
        assert isinstance(error, AuthApiError)
        assert error.message == "Invalid login credentials"
        assert error.status == 400


def test_refresh_session_rotates_the_refresh_token(server):
    account = sign_up(server)
    refreshed = account.client.auth.refresh_session()
    session = refreshed.session
    assert session is not None
    assert session.refresh_token and session.refresh_token != account.refresh_token
    assert session.access_token and session.user.id == account.id
    assert jwt_claims(session.access_token)["sub"] == account.id

    # The new tokens work: the access token for the data API, the refresh token once more.
    assert account.client.table("users").select("id").execute().data == [{"id": account.id}]
    again = raw_refresh(server, session.refresh_token)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["access_token"] and body["refresh_token"] not in ("", session.refresh_token)
    assert body["user"]["id"] == account.id

    # The old refresh tokens are spent. (What a reuse does to the rest of the session is
    # left open: ending it, as GoTrue's reuse detection does, is allowed.)
    for spent in (account.refresh_token, session.refresh_token):
        reused = raw_refresh(server, spent)
        assert reused.status_code == 400, reused.text


def test_get_user_and_update_user(server):
    account = sign_up(server)
    got = account.client.auth.get_user()
    assert got is not None and got.user.id == account.id and got.user.email == account.email

    updated = account.client.auth.update_user({"data": {"full_name": "Renamed Person"}})
    assert updated.user.id == account.id
    assert updated.user.user_metadata.get("full_name") == "Renamed Person"
    assert db_row(server, "users", "id", account.id)["full_name"] == "Renamed Person"

    # get_user with an explicit token answers the same user.
    again = new_client(server).auth.get_user(account.access_token)
    assert again.user.id == account.id
    assert again.user.user_metadata.get("full_name") == "Renamed Person"


def test_sign_out_revokes_the_refresh_token(server):
    account = sign_up(server)
    account.client.auth.sign_out()
    assert account.client.auth.get_session() is None
    response = raw_refresh(server, account.refresh_token)
    assert 400 <= response.status_code < 500, response.text
    error = auth_error(lambda: new_client(server).auth.refresh_session(account.refresh_token))
    assert isinstance(error, AuthApiError)


def test_expired_token_is_refused(server):
    account = sign_up(server)
    expired = user_token(server, account.id, account.email, expires_in=-600)

    response = httpx.get(f"{server.url}/rest/v1/profiles", headers=rest_headers(server, expired))
    assert response.status_code == 401
    assert "JWT expired" in response.text
    assert isinstance(response.json(), dict)

    response = httpx.get(f"{server.url}/auth/v1/user", headers=rest_headers(server, expired))
    assert response.status_code in (401, 403)

    # The same claims, not expired, are accepted: only the expiry made the difference.
    fresh = user_token(server, account.id, account.email, expires_in=600)
    response = httpx.get(f"{server.url}/rest/v1/profiles", headers=rest_headers(server, fresh))
    assert response.status_code == 200 and response.json() == []

    # Through the client, the error carries the message.
    client = new_client(server, headers={"Authorization": f"Bearer {expired}"})
    error = api_error(lambda: client.table("profiles").select("*").execute())
    assert "JWT expired" in (error.message or "")


def test_token_signed_with_another_secret_is_refused(server):
    account = sign_up(server)
    forged = user_token(server, account.id, account.email, expires_in=600, secret="not-the-secret-" + "x" * 40)
    response = httpx.get(f"{server.url}/rest/v1/profiles", headers=rest_headers(server, forged))
    assert response.status_code == 401
    response = httpx.get(f"{server.url}/auth/v1/user", headers=rest_headers(server, forged))
    assert response.status_code in (401, 403)
    # A forged token writes nothing either.
    response = httpx.post(f"{server.url}/rest/v1/profiles", headers=rest_headers(server, forged),
                          json={"first_name": "F", "last_name": "G", "training_level": "x"})
    assert response.status_code == 401
    assert db_count(server, "profiles") == 0


def test_repeated_failed_logins_are_rate_limited(server):
    account = sign_up(server)
    bystander = sign_up(server)
    client = new_client(server)
    statuses = []
    for attempt in range(12):
        error = auth_error(lambda: client.auth.sign_in_with_password(
            {"email": account.email, "password": f"wrong-{attempt}"}))
        assert isinstance(error, AuthApiError)
        statuses.append(error.status)
    assert statuses[:10] == [400] * 10, statuses
    assert statuses[-1] == 429, statuses
    assert set(statuses) <= {400, 429}
    # Another account is not locked out by it.
    assert sign_in(server, bystander.email, PASSWORD).id == bystander.id


# ====================================================================== profiles


def test_profile_insert_defaults_to_the_caller_and_everyone_reads_it(server):
    account = sign_up(server)
    rows = account.client.table("profiles").insert(
        {"first_name": "Amara", "last_name": "Obi", "training_level": "registrar"}).execute().data
    assert len(rows) == 1
    profile = rows[0]
    assert profile["user_id"] == account.id
    assert profile["first_name"] == "Amara" and profile["avatar"] is None
    assert TIMESTAMP.match(profile["created_at"]) and TIMESTAMP.match(profile["updated_at"])

    other = sign_up(server)
    for reader in (new_client(server), other.client, service_client(server)):
        seen = reader.table("profiles").select("*").eq("user_id", account.id).execute().data
        assert seen == [profile]


def test_profile_for_someone_else_is_refused(server):
    me = sign_up(server)
    them = sign_up(server)
    error = api_error(lambda: me.client.table("profiles").insert(
        {"user_id": them.id, "first_name": "X", "last_name": "Y", "training_level": "z"}).execute())
    assert error.code == "42501"
    assert db_count(server, "profiles") == 0
    # Anonymous callers create no profile at all.
    api_error(lambda: new_client(server).table("profiles").insert(
        {"user_id": them.id, "first_name": "X", "last_name": "Y", "training_level": "z"}).execute())
    assert db_count(server, "profiles") == 0


def test_profile_update_only_own(server):
    me = sign_up(server)
    them = sign_up(server)
    make_profile(me, first_name="Mine")
    theirs = make_profile(them, first_name="Theirs")

    updated = me.client.table("profiles").update({"first_name": "Changed"}).eq("user_id", me.id).execute().data
    assert len(updated) == 1 and updated[0]["first_name"] == "Changed" and updated[0]["user_id"] == me.id

    refused_or_empty(lambda: me.client.table("profiles").update({"first_name": "Hacked"})
                     .eq("user_id", them.id).execute())
    refused_or_empty(lambda: new_client(server).table("profiles").update({"first_name": "Anon"})
                     .eq("user_id", them.id).execute())
    assert db_row(server, "profiles", "user_id", them.id)["first_name"] == "Theirs"
    assert them.client.table("profiles").select("*").eq("user_id", them.id).execute().data == [theirs]
    # An update without a filter touches only the caller's own row.
    refused_or_empty(lambda: new_client(server).table("profiles").update({"last_name": "Anon"})
                     .neq("user_id", "00000000-0000-4000-8000-000000000000").execute())
    everyone = me.client.table("profiles").update({"last_name": "Everyone"}) \
        .neq("user_id", "00000000-0000-4000-8000-000000000000").execute().data
    assert [row["user_id"] for row in everyone] == [me.id]
    assert db_row(server, "profiles", "user_id", them.id)["last_name"] == "Person"


# ====================================================================== practice rooms


def test_room_insert_defaults(server):
    host = user_with_profile(server, "host")
    fields = room_fields(type="Communication")
    room = host.client.table("practice_rooms").insert(fields).execute().data[0]
    assert set(room) == ROOM_COLUMNS
    assert UUID_V4.match(room["id"])
    assert room["host_id"] == host.id
    assert room["guest_id"] is None and room["first_round_id"] is None and room["second_round_id"] is None
    assert room["stage"] == 1
    assert room["private"] is False
    assert room["type"] == "Communication"
    assert room["room_url"] == fields["room_url"]
    assert room["datetime_utc"] == fields["datetime_utc"]
    assert TIMESTAMP.match(room["created_at"]) and TIMESTAMP.match(room["updated_at"])
    stored = room_in_db(server, room["id"])
    assert stored["host_id"] == host.id and stored["private"] == 0 and stored["stage"] == 1

    private = make_room(host, private=True)
    assert private["private"] is True


def test_room_datetime_objects_are_stored_in_utc(server):
    host = user_with_profile(server, "host")
    local = datetime(2030, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    room = host.client.table("practice_rooms").insert(room_fields(datetime_utc=local)).execute().data[0]
    assert room["datetime_utc"] == "2030-05-01T10:00:00.000000Z"
    found = host.client.table("practice_rooms").select("id").eq("datetime_utc", "2030-05-01T10:00:00.000000Z") \
        .execute().data
    assert found == [{"id": room["id"]}]


def test_room_for_another_host_is_refused(server):
    me = user_with_profile(server, "me")
    them = user_with_profile(server, "them")
    api_error(lambda: me.client.table("practice_rooms").insert(room_fields(host_id=them.id)).execute())
    api_error(lambda: new_client(server).table("practice_rooms").insert(room_fields(host_id=them.id)).execute())
    # A new room has no guest yet: the guest signs up to it.
    api_error(lambda: me.client.table("practice_rooms").insert(room_fields(guest_id=them.id)).execute())
    assert db_count(server, "practice_rooms") == 0


def test_users_cannot_set_stage_or_rounds(server):
    host = user_with_profile(server, "host")
    api_error(lambda: host.client.table("practice_rooms").insert(room_fields(stage=2)).execute())
    assert db_count(server, "practice_rooms") == 0
    room = make_room(host)
    for change in ({"stage": 2}, {"stage": 3}, {"first_round_id": "6f1c1b8e-3c1a-4d7e-9a55-2f0c8e4b7a10"},
                   {"second_round_id": "6f1c1b8e-3c1a-4d7e-9a55-2f0c8e4b7a10"}):
        api_error(lambda: host.client.table("practice_rooms").update(change).eq("id", room["id"]).execute())
    stored = room_in_db(server, room["id"])
    assert stored["stage"] == 1 and stored["first_round_id"] is None and stored["second_round_id"] is None


def test_duplicate_room_url_is_a_conflict(server):
    host = user_with_profile(server, "host")
    other = user_with_profile(server, "other")
    room = make_room(host)
    error = api_error(lambda: other.client.table("practice_rooms")
                      .insert(room_fields(room_url=room["room_url"])).execute())
    assert error.code == "23505"
    response = httpx.post(
        f"{server.url}/rest/v1/practice_rooms",
        headers=rest_headers(server, host.client.auth.get_session().access_token, Prefer="return=representation"),
        json=room_fields(room_url=room["room_url"]),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "23505"
    assert db_count(server, "practice_rooms") == 1
    # Changing a room's url onto another's is a conflict too.
    second = make_room(host)
    error = api_error(lambda: host.client.table("practice_rooms").update({"room_url": room["room_url"]})
                      .eq("id", second["id"]).execute())
    assert error.code == "23505"
    assert room_in_db(server, second["id"])["room_url"] == second["room_url"]


def test_room_visibility(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    stranger = user_with_profile(server, "stranger")
    public = make_room(host)
    private = make_room(host, private=True)
    anon = new_client(server)

    def ids(client, query=None):
        builder = client.table("practice_rooms").select("id")
        if query:
            builder = query(builder)
        return sorted(row["id"] for row in builder.execute().data)

    assert ids(host.client) == sorted([public["id"], private["id"]])
    assert ids(guest.client) == [public["id"]]
    assert ids(stranger.client) == [public["id"]]
    assert ids(anon) == [public["id"]]
    assert ids(service_client(server)) == sorted([public["id"], private["id"]])

    # Asking by id is no way around it.
    assert ids(stranger.client, lambda q: q.eq("id", private["id"])) == []
    assert ids(anon, lambda q: q.eq("id", private["id"])) == []
    # Nor is a pattern on the url: only the exact link opens a private room.
    assert ids(stranger.client, lambda q: q.like("room_url", "room-%")) == [public["id"]]
    assert ids(stranger.client, lambda q: q.ilike("room_url", "%" + private["room_url"][-8:])) == []
    # The link: filtering on the exact room_url finds it, for anyone.
    for client in (guest.client, stranger.client, anon):
        found = client.table("practice_rooms").select("*").eq("room_url", private["room_url"]).execute().data
        assert [row["id"] for row in found] == [private["id"]]
        assert found[0]["private"] is True

    # The guest who signs up through the link then sees the room on their board.
    joined = guest.client.table("practice_rooms").update({"guest_id": guest.id}) \
        .eq("room_url", private["room_url"]).execute()
    assert [row["guest_id"] for row in joined.data] == [guest.id]
    assert ids(guest.client) == sorted([public["id"], private["id"]])
    assert ids(stranger.client) == [public["id"]]


def test_guest_signs_up_and_gives_the_seat_back(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    late = user_with_profile(server, "late")
    room = make_room(host)

    taken = guest.client.table("practice_rooms").update({"guest_id": guest.id}).eq("id", room["id"]).execute().data
    assert len(taken) == 1
    assert taken[0]["guest_id"] == guest.id and taken[0]["host_id"] == host.id and taken[0]["id"] == room["id"]
    assert room_in_db(server, room["id"])["guest_id"] == guest.id

    # The seat is taken: a second guest does not get it, nor can they throw the guest out.
    refused_or_empty(lambda: late.client.table("practice_rooms").update({"guest_id": late.id})
                     .eq("id", room["id"]).execute())
    refused_or_empty(lambda: late.client.table("practice_rooms").update({"guest_id": None})
                     .eq("id", room["id"]).execute())
    assert room_in_db(server, room["id"])["guest_id"] == guest.id

    # The guest gives the seat back before round 1.
    back = guest.client.table("practice_rooms").update({"guest_id": None}).eq("id", room["id"]).execute().data
    assert len(back) == 1 and back[0]["guest_id"] is None
    assert room_in_db(server, room["id"])["guest_id"] is None

    # Now the late peer takes it; the host may clear it.
    assert late.client.table("practice_rooms").update({"guest_id": late.id}).eq("id", room["id"]) \
        .execute().data[0]["guest_id"] == late.id
    cleared = host.client.table("practice_rooms").update({"guest_id": None}).eq("id", room["id"]).execute().data
    assert cleared[0]["guest_id"] is None
    assert room_in_db(server, room["id"])["guest_id"] is None


def test_nobody_seats_someone_else(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    other = user_with_profile(server, "other")
    room = make_room(host)
    # The host cannot be the guest of their own room.
    api_error(lambda: host.client.table("practice_rooms").update({"guest_id": host.id})
              .eq("id", room["id"]).execute())
    # Nor seat anybody: the guest signs up themselves.
    refused_or_empty(lambda: host.client.table("practice_rooms").update({"guest_id": guest.id})
                     .eq("id", room["id"]).execute())
    refused_or_empty(lambda: other.client.table("practice_rooms").update({"guest_id": guest.id})
                     .eq("id", room["id"]).execute())
    refused_or_empty(lambda: new_client(server).table("practice_rooms").update({"guest_id": guest.id})
                     .eq("id", room["id"]).execute())
    assert room_in_db(server, room["id"])["guest_id"] is None


def test_non_hosts_change_nothing_else(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    stranger = user_with_profile(server, "stranger")
    room = make_room(host)
    guest.client.table("practice_rooms").update({"guest_id": guest.id}).eq("id", room["id"]).execute()
    before = room_in_db(server, room["id"])
    changes = [
        {"type": "Communication"},
        {"datetime_utc": future(30)},
        {"private": True},
        {"room_url": "stolen-" + room["room_url"]},
        {"host_id": stranger.id},
        {"guest_id": guest.id, "type": "Communication"},
    ]
    for client in (guest.client, stranger.client, new_client(server)):
        for change in changes:
            refused_or_empty(lambda: client.table("practice_rooms").update(change).eq("id", room["id"]).execute())
        refused_or_empty(lambda: client.table("practice_rooms").delete().eq("id", room["id"]).execute())
    assert room_in_db(server, room["id"]) == before


def test_host_updates_and_deletes_own_room(server):
    host = user_with_profile(server, "host")
    room = make_room(host)
    change = {"datetime_utc": future(48), "type": "Communication", "private": True, "room_url": "moved-" + room["room_url"]}
    updated = host.client.table("practice_rooms").update(change).eq("id", room["id"]).execute().data
    assert len(updated) == 1
    for key, value in change.items():
        assert updated[0][key] == value
    assert updated[0]["host_id"] == host.id and updated[0]["stage"] == 1
    assert updated[0]["created_at"] == room["created_at"]
    assert TIMESTAMP.match(updated[0]["updated_at"])
    stored = room_in_db(server, room["id"])
    assert stored["private"] == 1 and stored["room_url"] == change["room_url"]

    deleted = host.client.table("practice_rooms").delete().eq("id", room["id"]).execute().data
    assert [row["id"] for row in deleted] == [room["id"]]
    assert room_in_db(server, room["id"]) is None


def test_guest_keeps_the_seat_once_round_one_exists(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    started = make_room(host)
    staged = make_room(host)
    for room in (started, staged):
        guest.client.table("practice_rooms").update({"guest_id": guest.id}).eq("id", room["id"]).execute()
    service = service_client(server)
    round_row = service.table("practice_rounds").insert(
        {"room_id": started["id"], "round": 1, "candidate_id": host.id, "transcript": []}).execute().data[0]
    service.table("practice_rooms").update({"first_round_id": round_row["id"]}).eq("id", started["id"]).execute()
    service.table("practice_rooms").update({"stage": 2}).eq("id", staged["id"]).execute()
    assert room_in_db(server, started["id"])["first_round_id"] == round_row["id"]
    assert room_in_db(server, staged["id"])["stage"] == 2
    for room in (started, staged):
        before = room_in_db(server, room["id"])
        assert before["guest_id"] == guest.id
        refused_or_empty(lambda: guest.client.table("practice_rooms").update({"guest_id": None})
                         .eq("id", room["id"]).execute())
        assert room_in_db(server, room["id"]) == before


# ====================================================================== query options


def _rooms_for_queries(server) -> tuple[Account, Account, list[dict]]:
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    rows = [
        room_fields(datetime_utc=future(1), type="Clinical", room_url=f"q-alpha-{host.id[:8]}", private=False),
        room_fields(datetime_utc=future(2), type="Communication", room_url=f"q-beta-{host.id[:8]}", private=False),
        room_fields(datetime_utc=future(3), type="Clinical", room_url=f"Q-GAMMA-{host.id[:8]}", private=True),
        room_fields(datetime_utc=future(4), type="Communication", room_url=f"q-delta-{host.id[:8]}", private=False),
        room_fields(datetime_utc=future(5), type="Clinical", room_url=f"q-epsilon-{host.id[:8]}", private=False),
    ]
    inserted = host.client.table("practice_rooms").insert(rows).execute().data
    assert len(inserted) == 5
    assert [row["room_url"] for row in inserted] == [row["room_url"] for row in rows]
    assert all(row["host_id"] == host.id and row["stage"] == 1 for row in inserted)
    guest.client.table("practice_rooms").update({"guest_id": guest.id}).eq("id", inserted[1]["id"]).execute()
    return host, guest, inserted


def test_select_columns_filters_and_order(server):
    host, guest, rooms = _rooms_for_queries(server)
    table = lambda: host.client.table("practice_rooms")  # noqa: E731
    urls = [room["room_url"] for room in rooms]

    def select_urls(builder):
        return [row["room_url"] for row in builder.order("datetime_utc").execute().data]

    only = table().select("id, type").eq("id", rooms[0]["id"]).execute().data
    assert only == [{"id": rooms[0]["id"], "type": "Clinical"}]
    star = table().select("*").eq("id", rooms[0]["id"]).execute().data
    assert set(star[0]) == ROOM_COLUMNS

    assert select_urls(table().select("room_url").eq("type", "Clinical")) == [urls[0], urls[2], urls[4]]
    assert select_urls(table().select("room_url").neq("type", "Clinical")) == [urls[1], urls[3]]
    assert select_urls(table().select("room_url").gt("datetime_utc", future(3))) == urls[3:]
    assert select_urls(table().select("room_url").gte("datetime_utc", future(3))) == urls[2:]
    assert select_urls(table().select("room_url").lt("datetime_utc", future(3))) == urls[:2]
    assert select_urls(table().select("room_url").lte("datetime_utc", future(3))) == urls[:3]
    assert select_urls(table().select("room_url").like("room_url", "q-%a-%")) == [urls[0], urls[1], urls[3]]
    assert select_urls(table().select("room_url").like("room_url", "q-gamma%")) == []
    assert select_urls(table().select("room_url").ilike("room_url", "q-gamma%")) == [urls[2]]
    assert select_urls(table().select("room_url").is_("guest_id", "null")) == [urls[0], urls[2], urls[3], urls[4]]
    assert select_urls(table().select("room_url").eq("guest_id", guest.id)) == [urls[1]]
    assert select_urls(table().select("room_url").is_("private", True)) == [urls[2]]
    assert select_urls(table().select("room_url").eq("private", False)) == [urls[0], urls[1], urls[3], urls[4]]
    assert select_urls(table().select("room_url").eq("stage", 1)) == urls
    assert select_urls(table().select("room_url").gt("stage", 1)) == []
    assert select_urls(table().select("room_url").in_("id", [rooms[4]["id"], rooms[0]["id"]])) == [urls[0], urls[4]]
    assert select_urls(table().select("room_url").in_("type", ["Communication"])) == [urls[1], urls[3]]
    assert select_urls(table().select("room_url").eq("type", "Clinical").lt("datetime_utc", future(4))) \
        == [urls[0], urls[2]]

    descending = table().select("room_url").order("datetime_utc", desc=True).execute().data
    assert [row["room_url"] for row in descending] == urls[::-1]
    by_type = table().select("type, room_url").order("type").order("datetime_utc", desc=True).execute().data
    assert [row["room_url"] for row in by_type] == [urls[4], urls[2], urls[0], urls[3], urls[1]]
    nulls_first = table().select("room_url").order("guest_id", nullsfirst=True).order("datetime_utc").execute().data
    assert [row["room_url"] for row in nulls_first] == [urls[0], urls[2], urls[3], urls[4], urls[1]]
    nulls_last = table().select("room_url").order("guest_id", nullsfirst=False).order("datetime_utc").execute().data
    assert [row["room_url"] for row in nulls_last] == [urls[1], urls[0], urls[2], urls[3], urls[4]]


def test_limit_offset_and_count(server):
    host, _, rooms = _rooms_for_queries(server)
    urls = [room["room_url"] for room in rooms]
    table = lambda: host.client.table("practice_rooms")  # noqa: E731

    page = table().select("room_url").order("datetime_utc").limit(2).execute().data
    assert [row["room_url"] for row in page] == urls[:2]
    page = table().select("room_url").order("datetime_utc").limit(2).offset(2).execute().data
    assert [row["room_url"] for row in page] == urls[2:4]
    page = table().select("room_url").order("datetime_utc").range(3, 10).execute().data
    assert [row["room_url"] for row in page] == urls[3:]
    assert table().select("room_url").order("datetime_utc").offset(5).execute().data == []

    counted = table().select("id", count="exact").order("datetime_utc").limit(2).execute()
    assert counted.count == 5 and len(counted.data) == 2
    counted = table().select("*", count="exact").eq("type", "Clinical").execute()
    assert counted.count == 3 and len(counted.data) == 3
    counted = table().select("*", count="exact").eq("type", "Nothing").execute()
    assert counted.count == 0 and counted.data == []
    # What a stranger counts is what they may see: the private room is not counted.
    stranger = new_client(server)
    counted = stranger.table("practice_rooms").select("id", count="exact").eq("host_id", host.id).execute()
    assert counted.count == 4 and len(counted.data) == 4


def test_single_and_maybe_single(server):
    host, _, rooms = _rooms_for_queries(server)
    table = lambda: host.client.table("practice_rooms")  # noqa: E731
    one = table().select("*").eq("id", rooms[2]["id"]).single().execute()
    assert isinstance(one.data, dict) and one.data["id"] == rooms[2]["id"] and one.data["private"] is True

    error = api_error(lambda: table().select("*").eq("id", "00000000-0000-4000-8000-000000000000").single().execute())
    assert error.code == "PGRST116"
    error = api_error(lambda: table().select("*").eq("type", "Clinical").single().execute())
    assert error.code == "PGRST116"
    # A private room a stranger cannot see is zero rows for them.
    error = api_error(lambda: new_client(server).table("practice_rooms").select("*")
                      .eq("id", rooms[2]["id"]).single().execute())
    assert error.code == "PGRST116"

    maybe = table().select("id").eq("id", rooms[0]["id"]).maybe_single().execute()
    assert maybe is not None and maybe.data == {"id": rooms[0]["id"]}
    assert table().select("id").eq("id", "00000000-0000-4000-8000-000000000000").maybe_single().execute() is None

    response = httpx.get(
        f"{server.url}/rest/v1/practice_rooms",
        params={"select": "id", "id": "eq.00000000-0000-4000-8000-000000000000"},
        headers=rest_headers(server, host.client.auth.get_session().access_token,
                             Accept="application/vnd.pgrst.object+json"),
    )
    assert response.status_code == 406
    assert response.json()["code"] == "PGRST116"


def test_insert_many_and_returning_minimal(server):
    host = user_with_profile(server, "host")
    rows = [room_fields(datetime_utc=future(hour)) for hour in range(1, 4)]
    minimal = host.client.table("practice_rooms").insert(rows, returning="minimal").execute()
    assert minimal.data == []
    assert db_count(server, "practice_rooms", "host_id = ?", (host.id,)) == 3
    stored = sorted(row[0] for row in db_rows(server, "SELECT room_url FROM practice_rooms"))
    assert stored == sorted(row["room_url"] for row in rows)

    # A batch with one bad row writes none of it.
    batch = [room_fields(), room_fields(type="Surgery")]
    api_error(lambda: host.client.table("practice_rooms").insert(batch).execute())
    assert db_count(server, "practice_rooms") == 3
    # A batch whose second row duplicates the first's url writes none of it either.
    twin = room_fields()
    api_error(lambda: host.client.table("practice_rooms").insert([twin, dict(twin)]).execute())
    assert db_count(server, "practice_rooms") == 3

    # Minimal updates and deletes answer no rows but do their work.
    room = make_room(host)
    assert host.client.table("practice_rooms").update({"type": "Communication"}, returning="minimal") \
        .eq("id", room["id"]).execute().data == []
    assert room_in_db(server, room["id"])["type"] == "Communication"
    assert host.client.table("practice_rooms").delete(returning="minimal").eq("id", room["id"]).execute().data == []
    assert room_in_db(server, room["id"]) is None


# ====================================================================== case briefs and admin


def test_case_briefs_without_brief_texts_for_everyone_else(demo_server):
    server = demo_server
    published = db_count(server, "case_briefs", "status = 'published'")
    user = sign_in(server, *ASHA)
    for client in (new_client(server), user.client):
        rows = client.table("case_briefs").select("*").execute().data
        assert len(rows) == published >= 40
        for row in rows:
            assert not (BRIEF_COLUMNS & set(row)), row.keys()
            assert row["status"] == "published"
            assert isinstance(row["patient_persona"], dict)
            assert isinstance(row["is_ai_generated"], bool)
        some = client.table("case_briefs").select("id, case_name, domain").eq("domain", "Clinical").limit(3) \
            .execute().data
        assert len(some) == 3 and all(set(row) == {"id", "case_name", "domain"} for row in some)
        for columns in ("candidate_brief", "id, actor_brief", "actor_brief, candidate_brief"):
            error = api_error(lambda: client.table("case_briefs").select(columns).execute())
            assert error.code == "42501"
        # Nor can a filter on a brief text probe it.
        refused_or_empty(lambda: client.table("case_briefs").select("id").like("candidate_brief", "%").execute())

    response = httpx.get(f"{server.url}/rest/v1/case_briefs", params={"select": "id,candidate_brief"},
                         headers=rest_headers(server, user.access_token))
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "42501"

    # The service role reads everything.
    full = service_client(server).table("case_briefs").select("id, candidate_brief, actor_brief").limit(3) \
        .execute().data
    assert len(full) == 3 and all(row["candidate_brief"] and row["actor_brief"] for row in full)


def test_admin_manages_cases_and_every_write_is_audited(demo_server):
    server = demo_server
    admin = sign_in(server, *ADMIN)
    user = sign_in(server, *ASHA)

    briefs = admin.client.table("case_briefs").select("id, candidate_brief, actor_brief").limit(2).execute().data
    assert len(briefs) == 2 and all(row["candidate_brief"] and row["actor_brief"] for row in briefs)

    case = {
        "category": "Test category",
        "condition": "Test condition",
        "case_name": "Audited case",
        "case_name_internal": f"audited-{admin.id[:8]}",
        "domain": "Clinical",
        "candidate_brief": "You are the doctor.",
        "actor_brief": "You are the patient.",
        "target_profession": "medicine",
        "clinical_area": "general practice",
        "difficulty_level": "medium",
        "patient_persona": {"age": 54, "concerns": ["pain", "work"]},
        "status": "draft",
    }
    created = admin.client.table("case_briefs").insert(case).execute().data
    assert len(created) == 1
    case_id = created[0]["id"]
    assert UUID_V4.match(case_id)
    assert created[0]["patient_persona"] == case["patient_persona"]
    assert created[0]["candidate_brief"] == case["candidate_brief"]
    assert created[0]["status"] == "draft" and created[0]["is_ai_generated"] is False

    # A draft is the admin's alone.
    assert user.client.table("case_briefs").select("id").eq("id", case_id).execute().data == []
    assert new_client(server).table("case_briefs").select("id").eq("id", case_id).execute().data == []
    assert admin.client.table("case_briefs").select("id").eq("id", case_id).execute().data == [{"id": case_id}]

    updated = admin.client.table("case_briefs").update({"status": "published", "difficulty_level": "hard"}) \
        .eq("id", case_id).execute().data
    assert updated[0]["difficulty_level"] == "hard" and updated[0]["status"] == "published"
    seen = user.client.table("case_briefs").select("*").eq("id", case_id).execute().data
    assert len(seen) == 1 and not (BRIEF_COLUMNS & set(seen[0]))

    # Deleting archives: the row stays.
    admin.client.table("case_briefs").delete().eq("id", case_id).execute()
    stored = db_row(server, "case_briefs", "id", case_id)
    assert stored is not None and stored["status"] == "archived"
    assert user.client.table("case_briefs").select("id").eq("id", case_id).execute().data == []

    audit = admin.client.table("audit_logs").select("*").eq("target_entity_id", case_id).execute().data
    assert len(audit) == 3
    assert all(row["admin_id"] == admin.id and row["ip_address"] == "127.0.0.1" for row in audit)
    assert all(isinstance(row["action"], str) and row["action"] for row in audit)
    assert len({row["action"] for row in audit}) == 3
    assert all(TIMESTAMP.match(row["timestamp"]) for row in audit)
    assert db_count(server, "audit_logs", "target_entity_id = ?", (case_id,)) == 3

    # Others read no audit log.
    for client in (user.client, new_client(server)):
        refused_or_empty(lambda: client.table("audit_logs").select("*").execute())


def test_non_admins_do_not_write_cases(demo_server):
    server = demo_server
    user = sign_in(server, *ASHA)
    target = db_rows(server, "SELECT id, case_name FROM case_briefs WHERE status = 'published' LIMIT 1")[0]
    count = db_count(server, "case_briefs")
    audits = db_count(server, "audit_logs")
    case = {
        "category": "c", "condition": "c", "case_name": "Mine", "case_name_internal": "mine-1",
        "domain": "Clinical", "candidate_brief": "x", "actor_brief": "y", "target_profession": "medicine",
        "clinical_area": "gp", "difficulty_level": "easy",
    }
    for client in (user.client, new_client(server)):
        api_error(lambda: client.table("case_briefs").insert(case).execute())
        refused_or_empty(lambda: client.table("case_briefs").update({"case_name": "Hijacked"})
                         .eq("id", target[0]).execute())
        refused_or_empty(lambda: client.table("case_briefs").delete().eq("id", target[0]).execute())
    assert db_count(server, "case_briefs") == count
    assert db_count(server, "audit_logs") == audits
    stored = db_row(server, "case_briefs", "id", target[0])
    assert stored["case_name"] == target[1] and stored["status"] == "published"


# ====================================================================== rounds, users, service role


def test_rounds_are_read_by_the_room_participants_only(server):
    host = user_with_profile(server, "host")
    guest = user_with_profile(server, "guest")
    stranger = user_with_profile(server, "stranger")
    room = make_room(host)
    guest.client.table("practice_rooms").update({"guest_id": guest.id}).eq("id", room["id"]).execute()

    transcript = [
        {"seq": 1, "round": 1, "speaker": host.id, "role": "candidate", "text": "Hello, I'm the doctor."},
        {"seq": 2, "round": 1, "speaker": guest.id, "role": "interlocutor", "text": "Hi doctor."},
    ]
    row = {"room_id": room["id"], "round": 1, "candidate_id": host.id, "transcript": transcript}
    # Users cannot write rounds: the server does.
    api_error(lambda: host.client.table("practice_rounds").insert(row).execute())
    assert db_count(server, "practice_rounds") == 0

    inserted = service_client(server).table("practice_rounds").insert(row).execute().data
    assert len(inserted) == 1 and UUID_V4.match(inserted[0]["id"])
    assert inserted[0]["transcript"] == transcript

    for participant in (host, guest):
        rounds = participant.client.table("practice_rounds").select("*").execute().data
        assert len(rounds) == 1
        assert rounds[0]["id"] == inserted[0]["id"] and rounds[0]["transcript"] == transcript
        assert rounds[0]["room_id"] == room["id"] and rounds[0]["round"] == 1
        assert rounds[0]["assessment"] is None
    assert stranger.client.table("practice_rounds").select("*").execute().data == []
    assert stranger.client.table("practice_rounds").select("*").eq("id", inserted[0]["id"]).execute().data == []
    assert new_client(server).table("practice_rounds").select("*").execute().data == []
    refused_or_empty(lambda: host.client.table("practice_rounds").update({"transcript": []})
                     .eq("id", inserted[0]["id"]).execute())
    assert db_row(server, "practice_rounds", "id", inserted[0]["id"])["round"] == 1


def test_users_read_their_own_row_and_admins_all(demo_server):
    server = demo_server
    me = sign_up(server)
    rows = me.client.table("users").select("*").execute().data
    assert len(rows) == 1
    assert rows[0]["id"] == me.id and rows[0]["email"] == me.email and rows[0]["role"] == "user"
    assert "hashed_password" not in rows[0]
    assert isinstance(rows[0]["is_email_verified"], bool)
    try:
        explicit = me.client.table("users").select("id, hashed_password").execute().data
    except APIError:
        pass
    else:
        assert all("hashed_password" not in row for row in explicit)
    refused_or_empty(lambda: new_client(server).table("users").select("*").execute())

    admin = sign_in(server, *ADMIN)
    everyone = admin.client.table("users").select("*").execute().data
    assert len(everyone) == db_count(server, "users") >= 5
    assert me.id in {row["id"] for row in everyone}
    assert all("hashed_password" not in row for row in everyone)


def test_service_role_bypasses_the_rules(server):
    host = user_with_profile(server, "host")
    private = make_room(host, private=True)
    service = service_client(server)
    assert [row["id"] for row in service.table("practice_rooms").select("id").execute().data] == [private["id"]]
    assert [row["id"] for row in service.table("users").select("id").execute().data] == [host.id]
    # It writes rows no user may: a room for a host, a stage.
    other = user_with_profile(server, "other")
    room = service.table("practice_rooms").insert(room_fields(host_id=other.id)).execute().data[0]
    assert room["host_id"] == other.id
    staged = service.table("practice_rooms").update({"stage": 2}).eq("id", room["id"]).execute().data
    assert staged[0]["stage"] == 2
    assert room_in_db(server, room["id"])["stage"] == 2
