"""Signing in to the store API: passwords buy tokens, tokens name the user, nothing else does; a
refresh token is used once; logout ends the session; API keys act as their user; rate limits answer 429."""

from __future__ import annotations

import pytest

from backoffice.db import Database
from backoffice.operations.local import LocalOperations
from backoffice.services.users import find_user
from tests.api_support import PASSWORD, RunningServer, start_server, url_of


def test_a_password_buys_tokens_and_the_token_names_the_user(api: RunningServer) -> None:
    with api.client() as c:
        r = c.post("/v1/auth/token", json={"username": "purchaser", "password": PASSWORD})
        assert r.status_code == 200, r.text
        pair = r.json()
        me = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["role"]) == ("purchaser", "purchaser")
    assert me.headers["content-type"] == "application/json"


@pytest.mark.parametrize("username,password", [("purchaser", "wrong password!"), ("nobody-here", PASSWORD)])
def test_a_wrong_password_and_an_unknown_name_get_the_same_401(api: RunningServer, username: str,
                                                                password: str) -> None:
    with api.client() as c:
        r = c.post("/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "access_token" not in r.text


def test_nothing_but_the_token_chooses_the_user(api: RunningServer) -> None:
    """A user name in a header, a query or a body is not identity: without a token every route is 401,
    and with one the caller is the token's user whatever else is sent."""
    with api.client() as c:
        assert c.get("/v1/auth/me", headers={"X-User": "admin"}, params={"user": "admin"}).status_code == 401
        assert c.get("/v1/auth/me", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
        assert c.get("/v1/auth/me", headers={"Authorization": "Basic YWRtaW46eA=="}).status_code == 401
    with api.as_user("warehouse", headers={"X-User": "admin"}) as c:
        assert c.get("/v1/auth/me", params={"username": "admin"}).json()["username"] == "warehouse"


def test_a_refresh_token_is_used_once_and_logout_ends_the_session(api: RunningServer) -> None:
    with api.client() as c:
        pair = c.post("/v1/auth/token", json={"username": "manager", "password": PASSWORD}).json()
        fresh = c.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert fresh.status_code == 200
        again = c.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 401                      # used up
        bearer = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
        assert c.get("/v1/auth/me", headers=bearer).status_code == 200
        assert c.post("/v1/auth/logout", headers=bearer).status_code == 204
        assert c.get("/v1/auth/me", headers=bearer).status_code == 401
        assert c.post("/v1/auth/refresh", json={"refresh_token": fresh.json()["refresh_token"]}).status_code == 401


def test_an_api_key_acts_as_its_user_until_revoked(api: RunningServer, db: Database) -> None:
    admin = LocalOperations(db, None, sign_in="admin", owns_database=False)
    key = admin.users.create_api_key("warehouse", "scanner integration")
    with api.client(headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.get("/v1/auth/me").json()["role"] == "warehouse"
        assert c.post("/v1/auth/logout").status_code == 204          # an API key presented to logout is revoked
        assert c.get("/v1/auth/me").status_code == 401


def test_a_deactivated_user_loses_every_token_at_once(api: RunningServer, db: Database) -> None:
    token = api.login("purchaser")
    admin = LocalOperations(db, None, sign_in="admin", owns_database=False)
    admin.users.deactivate("purchaser")
    with api.client(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/v1/auth/me").status_code == 401
        r = c.post("/v1/auth/token", json={"username": "purchaser", "password": PASSWORD})
    assert r.status_code == 401
    assert find_user(db, "purchaser")["active"] is False


def test_five_failures_lock_the_account_with_423_and_retry_after(api: RunningServer) -> None:
    with api.client() as c:
        codes = [c.post("/v1/auth/token", json={"username": "merchandiser", "password": "not it at all"}).status_code
                 for _ in range(5)]
        locked = c.post("/v1/auth/token", json={"username": "merchandiser", "password": PASSWORD})
    assert codes == [401] * 5
    assert locked.status_code == 423
    assert 1 <= int(locked.headers["retry-after"]) <= 61


def test_a_caller_over_the_rate_limit_gets_429_with_retry_after(db: Database) -> None:
    from backoffice.server import create_app_for_url
    from tests.api_support import add_staff

    add_staff(db)
    running, stop = start_server(create_app_for_url(url_of(db), rate=1, burst=3))
    try:
        with running.client() as c:
            token = c.post("/v1/auth/token", json={"username": "manager", "password": PASSWORD}).json()["access_token"]
            codes = [c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(6)]
            last = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        stop()
    assert codes[:3] == [200, 200, 200] and 429 in codes
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1
    assert last.headers["content-type"] == "application/problem+json"


def test_the_token_endpoint_takes_no_user_without_a_password(api: RunningServer) -> None:
    with api.client() as c:
        r = c.post("/v1/auth/token", json={"username": "admin"})
    assert r.status_code == 422
