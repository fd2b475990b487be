"""Staff accounts over the store API: only an admin creates, promotes or deactivates (the table decides,
per route), a new account's audit row names the admin who made it, a deactivated account's token dies at
once, the last active admin stays one, passwords are one's own (or an admin's to set), API keys and reset
tokens are shown once, and sessions can be listed and ended."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from backoffice.db import Database
from tests.api_support import PASSWORD, RunningServer


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def scalar(db: Database, sql: str, **params: object) -> object:
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def active_admins(db: Database) -> int:
    return int(scalar(db, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = :t", t=True))


def test_a_warehouse_token_cannot_create_an_admin(api: RunningServer, db: Database) -> None:
    users = scalar(db, "SELECT COUNT(*) FROM users")
    with api.as_user("warehouse") as c:
        r = c.post("/v1/users", json={"username": "mallory", "role": "admin", "password": "x" * 12}, headers=key())
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert c.get("/v1/users").status_code == 403
        assert c.patch("/v1/users/warehouse", json={"role": "admin"}, headers={"If-Match": '"1"'}).status_code == 403
        assert c.post("/v1/users/warehouse/api-keys", json={"name": "mine"}, headers=key()).status_code == 403
    assert scalar(db, "SELECT COUNT(*) FROM users") == users
    assert scalar(db, "SELECT role FROM users WHERE username = 'warehouse'") == "warehouse"


def test_an_admin_creates_a_user_once_per_key_and_the_audit_names_the_admin(api: RunningServer,
                                                                           db: Database) -> None:
    users = scalar(db, "SELECT COUNT(*) FROM users")
    keyed = key()
    body = {"username": "nina", "role": "purchaser", "display_name": "Nina B."}
    with api.as_user("admin") as c:
        made = c.post("/v1/users", json=body, headers=keyed)
        assert made.status_code == 201, made.text
        created = made.json()
        assert (created["username"], created["role"], created["active"]) == ("nina", "purchaser", True)
        token = created["reset_token"]
        assert token and made.headers["location"] == "/v1/users/nina"
        again = c.post("/v1/users", json=body, headers=keyed)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == created["id"] and again.json()["reset_token"] is None   # shown once
        assert c.post("/v1/users", json={**body, "role": "admin"}, headers=keyed).status_code == 422
        assert c.post("/v1/users", json=body, headers=key()).status_code == 409           # the name is taken
        assert c.post("/v1/users", json={**body, "username": "x", "role": "boss"}, headers=key()).status_code == 422
        shown = c.get("/v1/users/nina")
        assert shown.status_code == 200 and shown.headers["etag"] == f'"{shown.json()["version"]}"'
        assert c.get("/v1/users/nobody").status_code == 404
        assert "nina" in [u["username"] for u in c.get("/v1/users").json()["items"]]
    assert scalar(db, "SELECT COUNT(*) FROM users") == users + 1
    with api.client() as c:                                     # the reset token sets a password, once
        assert c.post("/v1/auth/reset", json={"reset_token": token, "password": PASSWORD + "!"}).status_code == 204
        assert c.post("/v1/auth/reset", json={"reset_token": token, "password": PASSWORD + "?"}).status_code == 401
        assert c.post("/v1/auth/token", json={"username": "nina", "password": PASSWORD + "!"}).status_code == 200
    with api.as_user("manager") as c:
        rows = c.get("/v1/audit", params={"entity": "user", "action": "create"}).json()["items"]
    made_rows = [r for r in rows if r["entity_id"] == str(created["id"])]
    assert [r["username"] for r in made_rows] == ["admin"]


def test_reset_tokens_and_api_keys_are_never_stored_in_clear(api: RunningServer, db: Database) -> None:
    with api.as_user("admin") as c:
        token = c.post("/v1/users", json={"username": "otto", "role": "warehouse"}, headers=key()).json()["reset_token"]
        secret = c.post("/v1/users/otto/api-keys", json={"name": "till"}, headers=key()).json()["api_key"]
    with db.engine.connect() as conn:
        stored = [str(v) for table in ("api_requests", "users", "auth_tokens", "audit_log")
                  for row in conn.execute(text(f"SELECT * FROM {table}")).all() for v in row]
    assert scalar(db, "SELECT COUNT(*) FROM api_requests") >= 2          # both answers were kept, without them
    assert token and secret and not any(token in v or secret in v for v in stored)


def test_deactivating_a_user_ends_their_token_at_once(api: RunningServer, db: Database) -> None:
    purchaser = api.as_user("purchaser")
    assert purchaser.get("/v1/auth/me").status_code == 200
    with api.as_user("admin") as c:
        shown = c.get("/v1/users/purchaser")
        assert c.patch("/v1/users/purchaser", json={"active": False}).status_code == 428
        done = c.patch("/v1/users/purchaser", json={"active": False}, headers={"If-Match": shown.headers["etag"]})
        assert done.status_code == 200, done.text
        assert done.json()["active"] is False and done.headers["etag"] != shown.headers["etag"]
        stale = c.patch("/v1/users/purchaser", json={"role": "manager"}, headers={"If-Match": shown.headers["etag"]})
        assert stale.status_code == 412 and stale.json()["current"]["active"] is False
        assert c.patch("/v1/users/purchaser", json={"active": True},
                       headers={"If-Match": done.headers["etag"]}).status_code == 422
    assert purchaser.get("/v1/auth/me").status_code == 401
    assert purchaser.get("/v1/purchase-orders").status_code == 401
    purchaser.close()
    assert scalar(db, "SELECT role FROM users WHERE username = 'purchaser'") == "purchaser"


def test_the_last_active_admin_cannot_be_demoted(api: RunningServer, db: Database) -> None:
    assert active_admins(db) == 1
    with api.as_user("admin") as c:
        me = c.get("/v1/users/admin")
        r = c.patch("/v1/users/admin", json={"role": "manager"}, headers={"If-Match": me.headers["etag"]})
        assert r.status_code == 403 and "last active admin" in r.json()["detail"]
        r = c.patch("/v1/users/admin", json={"active": False}, headers={"If-Match": me.headers["etag"]})
        assert r.status_code == 403
        assert active_admins(db) == 1
        manager = c.get("/v1/users/manager")
        promoted = c.patch("/v1/users/manager", json={"role": "admin"}, headers={"If-Match": manager.headers["etag"]})
        assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
        assert active_admins(db) == 2
        me = c.get("/v1/users/admin")
        demoted = c.patch("/v1/users/admin", json={"role": "manager"}, headers={"If-Match": me.headers["etag"]})
        assert demoted.status_code == 200 and demoted.json()["role"] == "manager"
    assert active_admins(db) == 1


def test_passwords_are_ones_own_unless_an_admin_sets_them(api: RunningServer) -> None:
    with api.as_user("warehouse") as c:
        assert c.put("/v1/users/purchaser/password", json={"password": "taken over!"}).status_code == 403
        assert c.put("/v1/users/warehouse/password", json={"password": "a new secret"}).status_code == 204
        assert c.get("/v1/auth/me").status_code == 401           # setting a password ends the sessions
    with api.client() as c:
        assert c.post("/v1/auth/token", json={"username": "purchaser", "password": PASSWORD}).status_code == 200
        assert c.post("/v1/auth/token", json={"username": "warehouse", "password": PASSWORD}).status_code == 401
        assert c.post("/v1/auth/token", json={"username": "warehouse", "password": "a new secret"}).status_code == 200
    with api.as_user("admin") as c:
        assert c.put("/v1/users/merchandiser/password", json={"password": "set by admin"}).status_code == 204
        assert c.put("/v1/users/nobody/password", json={"password": "whatever"}).status_code == 404


def test_api_keys_are_shown_once_and_sessions_can_be_ended(api: RunningServer) -> None:
    with api.as_user("admin") as c:
        keyed = key()
        made = c.post("/v1/users/warehouse/api-keys", json={"name": "scanner"}, headers=keyed)
        assert made.status_code == 201, made.text
        secret = made.json()["api_key"]
        again = c.post("/v1/users/warehouse/api-keys", json={"name": "scanner"}, headers=keyed)
        assert again.status_code == 201 and again.json() == {**made.json(), "api_key": None}   # shown once
        assert c.post("/v1/users/warehouse/api-keys", json={"name": "scanner"}).status_code == 428
        assert c.post("/v1/users/nobody/api-keys", json={"name": "x"}, headers=key()).status_code == 404
        keys = [s for s in c.get("/v1/sessions", params={"username": "warehouse"}).json()["items"]
                if s["kind"] == "api_key"]
        assert [s["name"] for s in keys] == ["scanner"]                      # made once
    with api.client(headers={"Authorization": f"Bearer {secret}"}) as k:
        assert k.get("/v1/auth/me").json()["username"] == "warehouse"
        own = k.get("/v1/sessions").json()["items"]
        assert {s["username"] for s in own} == {"warehouse"} and "scanner" in [s["name"] for s in own]
        assert secret not in str(own)
    with api.as_user("merchandiser") as c:
        mine = c.get("/v1/sessions").json()["items"]
        assert {s["username"] for s in mine} == {"merchandiser"}
        key_id = next(s["id"] for s in own if s["name"] == "scanner")
        assert c.delete(f"/v1/sessions/{key_id}").status_code == 403       # another user's key
    with api.as_user("admin") as c:
        everyone = c.get("/v1/sessions").json()["items"]
        assert {"warehouse", "merchandiser", "admin"} <= {s["username"] for s in everyone}
        assert c.delete(f"/v1/sessions/{key_id}").status_code == 204
        assert c.delete(f"/v1/sessions/{key_id}").status_code == 404
    with api.client(headers={"Authorization": f"Bearer {secret}"}) as k:
        assert k.get("/v1/auth/me").status_code == 401
