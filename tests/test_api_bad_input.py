"""Bad input to the store API gets a clear 4xx naming what is wrong, never a 500, and writes nothing:
the inputs a fuzzer found that once reached the database or broke a header."""

from __future__ import annotations

from urllib.parse import unquote

from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import StockLevel, User
from backoffice.services import suppliers
from backoffice.services.users import ensure_user
from tests.api_support import PASSWORD, RunningServer


def _count(db: Database, model) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_stamp_that_no_preview_made_is_a_422(api: RunningServer, store) -> None:  # type: ignore[no-untyped-def]
    body = {"operation": {"kind": "set", "field": "vendor", "value": "Nobody"},
            "target": {"variant_ids": store.variant_ids}, "stamp": "Ù"}
    with api.as_user("merchandiser", headers={"Idempotency-Key": "bad-stamp"}) as c:
        r = c.post("/v1/bulk/apply", json=body)
        thresholds = c.post("/v1/thresholds/apply", headers={"Idempotency-Key": "bad-stamp-2"},
                            json={"target": {"variant_ids": store.variant_ids}, "threshold": 3, "stamp": "G\u0015"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "stamp" and "preview again" in r.json()["errors"][0]["message"]
    assert thresholds.status_code in (403, 422)     # merchandisers keep no reorder points; either way no 500


def test_thresholds_for_variants_that_do_not_exist_name_them(api: RunningServer, db: Database, store) -> None:  # type: ignore[no-untyped-def]
    before = _count(db, StockLevel)
    with api.as_user("warehouse", headers={"Idempotency-Key": "ghosts"}) as c:
        r = c.post("/v1/thresholds/apply", json={"target": {"variant_ids": [store.variant_ids[0], 987654]},
                                                  "threshold": 4})
    assert r.status_code == 422, r.text
    assert {"row": "variant 987654", "field": "variant", "message": "does not exist"} in r.json()["errors"]
    assert _count(db, StockLevel) == before


def test_a_user_name_beyond_latin_1_gets_a_location_that_names_it(api: RunningServer, db: Database) -> None:
    with api.as_user("admin", headers={"Idempotency-Key": "zoe"}) as c:
        r = c.post("/v1/users", json={"username": "zoë-Ω", "role": "warehouse", "password": PASSWORD})
        assert r.status_code == 201, r.text
        assert unquote(r.headers["location"]) == "/v1/users/zoë-Ω"
        assert c.get(r.headers["location"]).json()["username"] == "zoë-Ω"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.username == "zoë-Ω")) == 1


def test_a_nul_character_anywhere_is_a_422(api: RunningServer, db: Database) -> None:
    admin = ensure_user(db, "admin")
    made = suppliers.create_supplier(db, admin, {"name": "Norda Mills"})
    supplier_id = made.entity_id if hasattr(made, "entity_id") else made["id"]
    with api.client() as c:
        token = c.post("/v1/auth/token", json={"username": "ad\u0000min", "password": PASSWORD})
    assert token.status_code == 422
    with api.as_user("purchaser") as c:
        current = c.get(f"/v1/suppliers/{supplier_id}")
        patched = c.patch(f"/v1/suppliers/{supplier_id}", json={"name": "x\u0000y"},
                          headers={"If-Match": current.headers["etag"]})
        assert patched.status_code == 422, patched.text
        assert c.get(f"/v1/suppliers/{supplier_id}").json()["name"] == "Norda Mills"
