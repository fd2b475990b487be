"""Idempotency-Key on the store API, as every keyed POST uses it: the first answer is stored whole
(status, body and the headers that describe it) and replayed; keys belong to their user."""

from __future__ import annotations

from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import ApiRequest, Location
from tests.api_support import RunningServer


def _locations(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Location))


def test_a_replay_gets_the_first_answer_with_its_etag_and_location(api: RunningServer, db: Database) -> None:
    body = {"code": "BACK", "name": "Back room", "kind": "warehouse"}
    with api.as_user("warehouse", headers={"Idempotency-Key": "loc-1"}) as c:
        first = c.post("/v1/locations", json=body)
        again = c.post("/v1/locations", json=body)
    assert first.status_code == 201, first.text
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["etag"] == first.headers["etag"] and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert _locations(db) == 1


def test_keys_belong_to_their_user(api: RunningServer, db: Database) -> None:
    """Another user's request under the same key is a request of its own (and its own answer)."""
    with api.as_user("warehouse", headers={"Idempotency-Key": "shared"}) as c:
        mine = c.post("/v1/locations", json={"code": "A1", "name": "Aisle 1", "kind": "warehouse"})
    with api.as_user("manager", headers={"Idempotency-Key": "shared"}) as c:
        theirs = c.post("/v1/locations", json={"code": "A2", "name": "Aisle 2", "kind": "warehouse"})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["code"] == "A1" and theirs.json()["code"] == "A2"
    assert _locations(db) == 2
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(ApiRequest)) == 2


def test_an_answer_about_the_request_is_replayed_too_and_a_key_is_checked(api: RunningServer, db: Database) -> None:
    bad = {"code": "X", "name": "Nowhere", "kind": "moon"}
    with api.as_user("warehouse", headers={"Idempotency-Key": "bad-kind"}) as c:
        first = c.post("/v1/locations", json=bad)
        again = c.post("/v1/locations", json=bad)
    assert first.status_code == 422 and again.status_code == 422 and again.content == first.content
    with api.as_user("warehouse", headers={"Idempotency-Key": "x" * 201}) as c:
        too_long = c.post("/v1/locations", json={"code": "Y", "name": "Y", "kind": "warehouse"})
    assert too_long.status_code == 422 and "Idempotency-Key" in too_long.text
    assert _locations(db) == 0
