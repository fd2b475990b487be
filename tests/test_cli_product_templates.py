"""``backoffice products templates …``, ``products new --template`` and ``products revert`` end to end with
click's CliRunner (SQLite and PostgreSQL), and the product_templates area over a real store-API server."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Changeset, Product, ProductTemplate
from backoffice.services import catalog
from tests.api_support import PASSWORD
from tests.conftest import SmallStore


def run(db: Database, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--user", "tester", *args, "--db", db.engine.url.render_as_string(hide_password=False)])


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.output


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_templates_new_product_and_bad_input(db: Database, actor, store: SmallStore) -> None:
    assert "No product templates yet" in ok(run(db, "products", "templates", "list"))
    ok(run(db, "products", "templates", "save", "Crews", "--vendor", "Norda", "--option", "size=S,L",
           "--price", "29.00", "--description", "{{ title }}: {{ attributes.size }}"))
    ok(run(db, "products", "templates", "save", "crews", "--tags", "wool"))          # the same one, changed
    shown = json.loads(ok(run(db, "products", "templates", "show", "Crews", "--json")))
    assert (shown["vendor"], shown["tags"], shown["attributes"], shown["default_price"]) == (
        "Norda", ["wool"], {"size": ["S", "L"]}, "29.00")
    assert count(db, ProductTemplate) == 1

    dry = ok(run(db, "products", "new", "--template", "Crews", "--title", "Alpaca Crew", "--dry-run"))
    assert "ALPACA-CREW-S" in dry and "ALPACA-CREW-L" in dry and count(db, Product) == 1
    ok(run(db, "products", "new", "--template", "Crews", "--title", "Alpaca Crew", "--price", "31.00"))
    with db.read() as s:
        product = s.scalars(select(Product).where(Product.handle == "alpaca-crew")).one()
        assert product.description == "Alpaca Crew: S, L"
        assert sorted((v.sku, str(v.price)) for v in product.variants) == [("ALPACA-CREW-L", "31.00"),
                                                                          ("ALPACA-CREW-S", "31.00")]

    again = run(db, "products", "new", "--template", "Crews", "--title", "Alpaca Crew")
    assert again.exit_code == 1 and "handle" in again.stderr and count(db, Product) == 2
    bad = run(db, "products", "templates", "save", "Other", "--price", "-2")
    assert bad.exit_code == 1 and "default_price" in bad.stderr and count(db, ProductTemplate) == 1
    missing = run(db, "products", "new", "--template", "Nope", "--title", "X")
    assert missing.exit_code == 1 and "Crews" in missing.stderr     # names the templates there are
    ok(run(db, "products", "templates", "delete", "Crews"))
    assert count(db, ProductTemplate) == 0


def test_revert_dry_run_then_apply_then_nothing_more(db: Database, actor, store: SmallStore) -> None:
    moment = dt.datetime.now(dt.timezone.utc)      # after the product was made, before the edit below
    from backoffice.services import changesets
    from backoffice.services.changesets import RowChange

    pid = store.product.entity_id
    v1 = store.variant_ids[0]
    changesets.apply_changes(db, actor, [RowChange("variant", v1, 1, {"price": "10.00"}),
                                         RowChange("product", pid, 1, {"vendor": "Other"})], description="later")
    stamp = moment.isoformat()
    dry = ok(run(db, "products", "revert", "merino-crew", "--to", stamp, "--dry-run"))
    assert "2 fields on 2 rows" in dry and "10.00 → 59.99" in dry and "Other → Norda" in dry
    assert catalog.get_product(db, pid)["vendor"] == "Other"
    before = count(db, Changeset)
    assert "Applied as changeset" in ok(run(db, "products", "revert", "merino-crew", "--to", stamp))
    data = catalog.get_product(db, pid)
    assert data["vendor"] == "Norda" and data["variants"][0]["price"] == "59.99"
    assert "Nothing to change" in ok(run(db, "products", "revert", "merino-crew", "--to", stamp))
    assert count(db, Changeset) == before + 1
    bad = run(db, "products", "revert", "merino-crew", "--to", "last week")
    assert bad.exit_code != 0 and "ISO date" in bad.output


@pytest.mark.postgres
def test_templates_and_revert_over_the_store_api(pg_db: Database) -> None:
    """One read and writes of the area through RemoteOperations against a real server on loopback."""
    from backoffice.remote.session import sign_in
    from backoffice.server import create_app_for_url
    from backoffice.services import users
    from tests.api_support import add_staff, start_server, url_of

    add_staff(pg_db)
    SmallStore(pg_db, users.sign_in(pg_db, "admin"))
    running, stop = start_server(create_app_for_url(url_of(pg_db), rate=10_000, burst=10_000))
    try:
        ops = sign_in(running.base_url, "merchandiser", PASSWORD)
        try:
            saved = ops.product_templates.save({"name": "Tees", "attributes": {"size": ["S", "M"]},
                                                "default_price": "15.00"})
            assert [t.name for t in ops.product_templates.list()] == ["Tees"]
            plan = ops.product_templates.plan_product("Tees", title="Cotton Tee")
            assert [v.sku for v in plan.variants] == ["COTTON-TEE-S", "COTTON-TEE-M"] and plan.problems == []
            created = ops.product_templates.create_product(str(saved.id), title="Cotton Tee")
            assert len(created.variant_ids) == 2
            product = ops.product_templates.find_product("merino-crew")
            moment = dt.datetime.now(dt.timezone.utc)
            assert ops.product_templates.plan_revert(product.id, moment).fields == []
            catalog.update_product(pg_db, users.sign_in(pg_db, "admin"), product.id, expected_version=product.version,
                                   values={"vendor": "Elsewhere"})
            revert = ops.product_templates.plan_revert(product.id, moment)
            assert [(f.field, f.now, f.then) for f in revert.fields] == [("vendor", "Elsewhere", "Norda")]
            done = ops.product_templates.apply_revert(product.id, moment, versions=revert.versions)
            assert done.changeset_id is not None and catalog.get_product(pg_db, product.id)["vendor"] == "Norda"
        finally:
            ops.close()
        warehouse = sign_in(running.base_url, "warehouse", PASSWORD)
        try:
            from backoffice.operations import PermissionDenied

            with pytest.raises(PermissionDenied):
                warehouse.product_templates.save({"name": "Nope"})
        finally:
            warehouse.close()
    finally:
        stop()
    assert count(pg_db, ProductTemplate) == 1
