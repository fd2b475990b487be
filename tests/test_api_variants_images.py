"""The variants and images resources of the store API, on a real loopback server over both engines:
the generator's plan is what its apply creates (once per Idempotency-Key), repricing applies what its
preview showed, roles are enforced before anything is written, uploaded files come back by content hash
with caching headers, and stale or malformed writes get exact 4xx answers."""

from __future__ import annotations

import hashlib
import io
import uuid
from decimal import Decimal

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from backoffice.db import Database
from backoffice.services.users import ensure_user
from tests.api_support import RunningServer
from tests.conftest import SmallStore

PROBLEM = "application/problem+json"


@pytest.fixture
def shop(api: RunningServer, db: Database) -> SmallStore:
    """The small store (merino-crew with sizes S/M/L), made by the server's admin account."""
    return SmallStore(db, ensure_user(db, "admin"))


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def scalar(db: Database, sql: str, **params: object) -> object:
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(db: Database, sql: str, **params: object) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def money(value: object) -> Decimal:
    """A price as the database returns it (NUMERIC, or a float on SQLite), to the cent."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def png(size: tuple[int, int] = (48, 32), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def upload(client: httpx.Client, product_id: int, files: list[tuple[str, bytes, str]],
           headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(f"/v1/products/{product_id}/images", headers=headers if headers is not None else key(),
                       files=[("files", f) for f in files])


def is_problem(r: httpx.Response, status: int) -> bool:
    return (r.status_code == status and r.headers["content-type"].startswith(PROBLEM)
            and r.json()["status"] == status)


GENERATION = {"options": {"size": ["S", "M", "L"], "color": ["Red", "Blue"]}, "sku_pattern": "MC-{size}-{color}",
              "price": "45.00"}


# -- attributes and the generator -----------------------------------------------------------------------------
def test_the_generator_applies_exactly_its_plan_once_per_idempotency_key(api: RunningServer, db: Database,
                                                                          shop: SmallStore) -> None:
    """Also: attribute edits need their ETag, and a stale one gets 412 with the current attribute."""
    pid = shop.product.entity_id
    count = "SELECT count(*) FROM variants WHERE product_id = :pid"
    with api.as_user("merchandiser") as c:
        made = c.post("/v1/attributes", json={"code": "color", "name": "Colour", "values": ["Red", "Blue"]},
                      headers=key())
        assert made.status_code == 201, made.text
        assert [v["value"] for v in made.json()["values"]] == ["Red", "Blue"]
        assert made.headers["etag"] == f'"{made.json()["version"]}"'

        body = {"product_ids": [pid], **GENERATION}
        before = scalar(db, count, pid=pid)
        plan = c.post("/v1/variant-generation/plan", json=body)
        assert plan.status_code == 200, plan.text
        planned = sorted(n["sku"] for p in plan.json()["products"] for n in p["create"])
        assert plan.json()["problems"] == [] and plan.json()["to_create"] == len(planned) == 6
        assert {n["price"] for p in plan.json()["products"] for n in p["create"]} == {"45.00"}
        assert scalar(db, count, pid=pid) == before          # the plan wrote nothing

        once = key()
        first = c.post("/v1/variant-generation/apply", json=body, headers=once)
        assert first.status_code == 201, first.text
        assert first.json()["created"] == len(planned) and sorted(first.json()["skus"]) == planned
        assert scalar(db, count, pid=pid) == before + len(planned)
        stored = {sku for (sku,) in rows(db, "SELECT sku FROM variants WHERE product_id = :pid", pid=pid)}
        assert set(planned) <= stored

        replay = c.post("/v1/variant-generation/apply", json=body, headers=once)
        assert (replay.status_code, replay.content) == (first.status_code, first.content)
        assert replay.headers["idempotent-replayed"] == "true"
        assert scalar(db, count, pid=pid) == before + len(planned)

        other = c.post("/v1/variant-generation/apply", json={**body, "prune": True}, headers=once)
        assert is_problem(other, 422)                      # the same key for another request
        again = c.post("/v1/variant-generation/apply", json=body, headers=key())
        assert again.status_code == 200 and again.json()["created"] == 0     # nothing left to create
        assert scalar(db, count, pid=pid) == before + len(planned)
        assert c.post("/v1/variant-generation/plan", json=body).json()["to_create"] == 0

        no_key = c.post("/v1/variant-generation/apply", json=body)
        assert is_problem(no_key, 428)
        wrong = {**body, "options": {"nope": ["X"]}}
        unknown = c.post("/v1/variant-generation/plan", json=wrong)
        assert unknown.status_code == 200 and {"row": "attribute nope", "field": "", "message": "does not exist"} \
            in unknown.json()["problems"]
        refused = c.post("/v1/variant-generation/apply", json=wrong, headers=key())
        assert is_problem(refused, 422) and refused.json()["errors"] == unknown.json()["problems"]
        assert scalar(db, count, pid=pid) == before + len(planned)

        got = c.get("/v1/attributes/size")
        assert got.status_code == 200 and got.json()["code"] == "size"
        assert c.get(f"/v1/attributes/{got.json()['id']}").json() == got.json()       # by id too
        tag = got.headers["etag"]
        assert is_problem(c.patch("/v1/attributes/size", json={"name": "Size (EU)"}), 428)
        renamed = c.patch("/v1/attributes/size", json={"name": "Size (EU)"}, headers={"If-Match": tag})
        assert renamed.status_code == 200, renamed.text
        assert renamed.headers["etag"] != tag and renamed.json()["name"] == "Size (EU)"
        stale = c.patch("/v1/attributes/size", json={"name": "Größe"}, headers={"If-Match": tag})
        assert is_problem(stale, 412)
        assert stale.json()["current"]["name"] == "Size (EU)"
        assert stale.headers["etag"] == renamed.headers["etag"]
        assert scalar(db, "SELECT name FROM attributes WHERE code = 'size'") == "Size (EU)"

        values = c.post("/v1/attributes/size/values", json={"values": ["XL"]}, headers=key())
        assert values.status_code == 201 and [v["value"] for v in values.json()["values"]] == ["S", "M", "L", "XL"]
        ids = [v["id"] for v in values.json()["values"]]
        order = c.put("/v1/attributes/size/values/order", json={"value_ids": ids[::-1]},
                      headers={"If-Match": values.headers["etag"]})
        assert order.status_code == 200, order.text
        assert [v["value"] for v in order.json()["values"]] == ["XL", "L", "M", "S"]
        xl = c.get(f"/v1/attributes/size/values/{ids[3]}")
        gone = c.delete(f"/v1/attributes/size/values/{ids[3]}", headers={"If-Match": xl.headers["etag"]})
        assert gone.status_code == 200 and gone.json()["action"] == "delete"       # nothing carried it
        assert c.get(f"/v1/attributes/size/values/{ids[3]}").status_code == 404
        assert is_problem(c.get("/v1/attributes/nosuch"), 404)
        color = c.get("/v1/attributes/color")
        archived = c.delete("/v1/attributes/color", headers={"If-Match": color.headers["etag"]})
        assert archived.status_code == 200 and archived.json()["action"] == "archive"    # variants carry it
        assert c.get("/v1/attributes/color").json()["archived"] is True
        assert "color" not in {a["code"] for a in c.get("/v1/attributes?include_archived=false").json()["items"]}
        back = c.post("/v1/attributes/color/restore")
        assert back.status_code == 200 and back.json()["archived"] is False
        assert is_problem(c.post("/v1/attributes", json={"code": "Bad Code"}, headers=key()), 422)


# -- repricing and roles --------------------------------------------------------------------------------------
def test_repricing_applies_what_its_preview_showed_and_other_roles_change_nothing(
        api: RunningServer, db: Database, shop: SmallStore) -> None:
    pid = shop.product.entity_id
    prices = "SELECT sku, price FROM variants WHERE product_id = :pid ORDER BY sku"
    with api.as_user("merchandiser") as c:
        assert c.put(f"/v1/products/{pid}/base-price", json={"base_price": "50.00"}).json()["base_price"] == "50.00"
        rule = c.post("/v1/price-rules", json={"attribute": "size", "value": "L", "kind": "amount", "amount": "5.00"},
                      headers=key())
        assert rule.status_code == 201, rule.text
        assert [r["id"] for r in c.get("/v1/price-rules").json()["items"]] == [rule.json()["id"]]
        preview = c.post("/v1/repricing/preview", json={"product_ids": [pid]})
        assert preview.status_code == 200, preview.text
        shown = preview.json()
        assert (shown["considered"], shown["affected"], shown["invalid"]) == (3, 3, [])
        assert {s["sku"]: s["new_price"] for s in shown["sample"]} == {"MC-S": "50.00", "MC-M": "50.00",
                                                                        "MC-L": "55.00"}
        assert [money(p) for _, p in rows(db, prices, pid=pid)] == [Decimal("59.99")] * 3   # nothing written
        read_before = c.get(f"/v1/products/{pid}/matrix").json()

    state = ("SELECT (SELECT count(*) FROM variants), (SELECT sum(price) FROM variants), "
             "(SELECT count(*) FROM product_images), (SELECT count(*) FROM attributes), "
             "(SELECT count(*) FROM changesets)")
    before = rows(db, state)
    with api.as_user("warehouse") as w:
        assert w.get("/v1/attributes/size").status_code == 200          # reading is for everyone
        refused = [
            w.post("/v1/repricing/apply", json={"product_ids": [pid], "stamp": shown["stamp"]}, headers=key()),
            w.post("/v1/variant-generation/apply", json={"product_ids": [pid], **GENERATION}, headers=key()),
            w.post("/v1/attributes", json={"code": "fit", "values": ["Slim"]}, headers=key()),
            upload(w, pid, [("MC-S.png", png(), "image/png")]),
        ]
    assert [r.status_code for r in refused] == [403] * 4
    assert all(is_problem(r, 403) for r in refused)
    assert rows(db, state) == before

    with api.as_user("warehouse") as w:                  # reorder points are the warehouse's to set
        target = {"target": {"filter": {"product_ids": [pid]}}, "threshold": 4}
        levels = w.post("/v1/thresholds/preview", json=target)
        assert levels.status_code == 200, levels.text
        assert levels.json()["considered"] == 3 and levels.json()["affected"] == 6      # 3 variants × WH1, SHOP
        assert is_problem(w.post("/v1/thresholds/preview", json={"target": {}, "threshold": 4}), 422)
        set_ = w.post("/v1/thresholds/apply", json={**target, "stamp": levels.json()["stamp"]}, headers=key())
        assert set_.status_code == 200 and set_.json()["applied_rows"] == 6, set_.text
    assert scalar(db, "SELECT count(*) FROM stock_levels WHERE low_stock_threshold = 4") == 6

    with api.as_user("merchandiser") as c:
        applied = c.post("/v1/repricing/apply", json={"product_ids": [pid], "stamp": shown["stamp"]}, headers=key())
        assert applied.status_code == 200, applied.text
        assert applied.json()["applied_rows"] == shown["affected"] and applied.json()["conflicts"] == []
        assert {sku: money(p) for sku, p in rows(db, prices, pid=pid)} == {
            s["sku"]: Decimal(s["new_price"]) for s in shown["sample"]}
        assert c.post("/v1/repricing/preview", json={"product_ids": [pid]}).json()["affected"] == 0

        # the matrix shows the new prices; a cell saved with the versions read before the repricing is a
        # conflict (nothing written), with the versions read now it is written
        grid = c.get(f"/v1/products/{pid}/matrix").json()
        assert {sku: price for cell in grid["cells"] for sku, price in zip(cell["skus"], cell["prices"])} == {
            s["sku"]: s["new_price"] for s in shown["sample"]}

        def versions(matrix: dict) -> dict[str, int]:
            return {str(v): n for cell in matrix["cells"] for v, n in zip(cell["variant_ids"], cell["versions"])}

        cells = [{"row": "S", "column": "", "price": "70.00"}]
        stale = c.post(f"/v1/products/{pid}/matrix/prices", json={"cells": cells, "versions": versions(read_before)},
                       headers=key())
        assert stale.status_code == 200 and stale.json()["applied_rows"] == 0
        assert [x["label"] for x in stale.json()["conflicts"]] == ["MC-S"]
        saved = c.post(f"/v1/products/{pid}/matrix/prices", json={"cells": cells, "versions": versions(grid)},
                       headers=key())
        assert saved.status_code == 200 and saved.json()["applied_rows"] == 1 and saved.json()["conflicts"] == []
        assert money(dict(rows(db, prices, pid=pid))["MC-S"]) == Decimal("70.00")


# -- images ------------------------------------------------------------------------------------------------------
def test_an_uploaded_image_is_served_by_its_hash_with_caching_headers(api: RunningServer, db: Database,
                                                                      shop: SmallStore) -> None:
    """Then its edits: a stale If-Match gets 412 with the current image."""
    pid = shop.product.entity_id
    data = png()
    digest = hashlib.sha256(data).hexdigest()
    with api.as_user("merchandiser") as c:
        once = key()
        first = upload(c, pid, [("MC-M.png", data, "image/png")], once)
        assert first.status_code == 201, first.text
        assert first.json()["added"] == 1 and first.json()["refused"] == []
        image = first.json()["images"][0]
        assert image["variant_ids"] == [shop.variant_ids[1]]            # the name is MC-M's SKU
        replay = upload(c, pid, [("MC-M.png", data, "image/png")], once)
        assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
        assert scalar(db, "SELECT count(*) FROM product_images WHERE product_id = :pid", pid=pid) == 1

    with api.as_user("warehouse") as w:                                 # every role may look at images
        gallery = w.get(f"/v1/products/{pid}/images")
        assert [i["id"] for i in gallery.json()["items"]] == [image["id"]]
        original = w.get(f"/v1/images/content/{digest}")
        assert original.status_code == 200
        assert original.content == data
        assert original.headers["content-type"] == "image/png"
        assert original.headers["etag"] == f'"{digest}"'
        assert original.headers["cache-control"] == "public, max-age=31536000, immutable"
        cached = w.get(f"/v1/images/content/{digest}", headers={"If-None-Match": f'"{digest}"'})
        assert cached.status_code == 304 and cached.content == b""
        assert cached.headers["etag"] == f'"{digest}"'
        other = w.get(f"/v1/images/content/{digest}", headers={"If-None-Match": '"0000"'})
        assert other.status_code == 200 and other.content == data

        web = w.get(image["web_url"])
        assert web.status_code == 200 and web.headers["content-type"] == "image/jpeg"
        assert hashlib.sha256(web.content).hexdigest() == image["web_hash"]
        assert w.get(image["thumb_url"]).status_code == 200
        assert is_problem(w.get(f"/v1/images/content/{'0' * 64}"), 404)
        assert is_problem(w.get("/v1/images/content/not-a-hash"), 422)
        assert w.get(f"/v1/images/{image['id']}/versions").json()["items"][0]["number"] == 1

    with api.as_user("merchandiser") as c:
        image_id = image["id"]
        got = c.get(f"/v1/images/{image_id}")
        tag = got.headers["etag"]
        assert is_problem(c.patch(f"/v1/images/{image_id}", json={"alt_text": "Red"}), 428)
        edited = c.patch(f"/v1/images/{image_id}", json={"alt_text": "A red jumper"}, headers={"If-Match": tag})
        assert edited.status_code == 200, edited.text
        assert edited.json()["alt_text"] == "A red jumper" and edited.headers["etag"] != tag
        stale = c.patch(f"/v1/images/{image_id}", json={"alt_text": "Blue"}, headers={"If-Match": tag})
        assert is_problem(stale, 412)
        assert stale.json()["current"]["alt_text"] == "A red jumper"
        assert stale.json()["current"]["version"] == edited.json()["version"]
        assert stale.headers["etag"] == edited.headers["etag"]
        assert scalar(db, "SELECT alt_text FROM product_images WHERE id = :i", i=image_id) == "A red jumper"

        rotated = c.post(f"/v1/images/{image_id}/edits", json={"edits": [{"op": "rotate", "degrees": 90}]},
                         headers={"If-Match": edited.headers["etag"]})
        assert rotated.status_code == 200, rotated.text
        assert (rotated.json()["web_width"], rotated.json()["web_height"]) == (32, 48)
        restored = c.post(f"/v1/images/{image_id}/versions/1/restore", headers={"If-Match": rotated.headers["etag"]})
        assert restored.status_code == 200 and restored.json()["web_width"] == 48
        assert len(c.get(f"/v1/images/{image_id}/versions").json()["items"]) == 3
        bad_edit = c.post(f"/v1/images/{image_id}/edits", json={"edits": [{"op": "rotate", "degrees": 45}]},
                          headers={"If-Match": restored.headers["etag"]})
        assert is_problem(bad_edit, 422)
        assert c.delete(f"/v1/images/{image_id}", headers={"If-Match": tag}).status_code == 412
        assert c.delete(f"/v1/images/{image_id}", headers={"If-Match": restored.headers["etag"]}).status_code == 204
        assert is_problem(c.get(f"/v1/images/{image_id}"), 404)


def test_a_malformed_upload_gets_a_4xx_problem_and_adds_nothing(api: RunningServer, db: Database,
                                                                shop: SmallStore) -> None:
    pid = shop.product.entity_id
    with api.as_user("merchandiser") as c:
        not_image = upload(c, pid, [("MC-S.png", b"this is not a picture", "image/png")])
        assert is_problem(not_image, 422) and not_image.json()["errors"][0]["row"] == "MC-S.png"
        empty = upload(c, pid, [("MC-S.png", b"", "image/png")])
        assert is_problem(empty, 422) and "empty" in empty.json()["errors"][0]["message"]
        nothing = c.post(f"/v1/products/{pid}/images", headers=key(), data={"pattern": "auto"})
        assert is_problem(nothing, 422)
        as_json = c.post(f"/v1/products/{pid}/images", headers=key(), json={"files": []})
        assert is_problem(as_json, 422)
        truncated = upload(c, pid, [("MC-L.png", png()[:40], "image/png")])
        assert is_problem(truncated, 422)
        sneaky = upload(c, pid, [("../../etc/passwd.png", png(), "image/png")])
        assert sneaky.status_code == 201 and sneaky.json()["images"][0]["filename"] == "passwd.png"
        long = upload(c, pid, [("é" * 300 + ".png", png(color=(1, 2, 3)), "image/png")])
        assert long.status_code == 201, long.text
        assert long.json()["images"][0]["filename"] == "é" * 98 + ".png"          # 200 bytes of name
        assert is_problem(upload(c, 999_999, [("x.png", png(), "image/png")]), 404)
        assert is_problem(c.get("/v1/products/999999/images"), 404)
        assert is_problem(upload(c, pid, [("x.png", png(), "image/png")], headers={}), 428)
    assert scalar(db, "SELECT count(*) FROM product_images") == 2
