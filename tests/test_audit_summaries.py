"""The audit trail described for people (``audit.describe``): names instead of ids, document lines
compared line by line, the rows of a changeset, ids resolved in batches; and ``backoffice audit``."""

from __future__ import annotations

import re
import uuid

from click.testing import CliRunner
from sqlalchemy import event

from backoffice.cli.app import main
from backoffice.db import Database
from backoffice.services import alerts, audit, changesets, inventory, transfers
from backoffice.services.audit import AuditFilter
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine

RAW = re.compile(r"[{}\[\]]|'[a-z_]+':|\b[a-z]+_id\b")  # dict/list syntax, quoted keys, raw id field names


def op() -> str:
    return uuid.uuid4().hex


def ship_a_transfer(db: Database, actor: Actor, store) -> int:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt",
                         lines=[MoveLine(s, store.locations["SUP"], wh, 5), MoveLine(m, store.locations["SUP"], wh, 5)])
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(s, 2), (m, 1)])
    transfers.ship_transfer(db, actor, t.id, operation_id=op())
    return t.id


def described(db: Database, **filters) -> list[audit.AuditRow]:  # type: ignore[no-untyped-def]
    rows = audit.fetch_described_page(db, AuditFilter(**filters))
    assert rows and all(r.view is not None for r in rows)
    return rows


def test_a_transfer_reads_with_location_names_skus_and_titles(db: Database, actor: Actor, store) -> None:
    transfer_id = ship_a_transfer(db, actor, store)
    number = transfers.get_transfer(db, transfer_id).number
    created, = [r for r in described(db, entity="transfer") if r.action == "create"]
    view = created.view
    assert view is not None
    assert view.subject == f"{number} (WH1 → SHOP)" and view.item == number
    labels = {line.label: (line.before, line.after) for line in view.lines}
    assert labels["destination location"] == ("—", "SHOP · City store")
    assert labels["source location"] == ("—", "WH1 · Main warehouse")
    assert labels["line MC-S · Merino Crew"][1].startswith("quantity 2")
    assert labels["line MC-M · Merino Crew"][1].startswith("quantity 1")
    assert view.summary.startswith(f"created {number} (WH1 → SHOP)") and view.summary.endswith("2 lines")
    for text in [view.summary, *(f"{ln.label} {ln.before} {ln.after}" for ln in view.lines)]:
        assert not RAW.search(text), text

    shipped, = [r for r in described(db, entity="transfer") if r.action == "ship"]
    assert shipped.view is not None
    changed = [ln for ln in shipped.view.lines if ln.changed]
    assert {ln.label for ln in changed} == {"state", "line MC-S · Merino Crew", "line MC-M · Merino Crew"}
    assert shipped.view.summary == "state: draft → shipped; 2 lines changed"


def test_stock_levels_and_defaults_are_named(db: Database, actor: Actor, store) -> None:
    s = store.variant_ids[0]
    alerts.set_threshold(db, actor, variant_id=s, location_id=store.locations["WH1"], threshold=3)
    alerts.set_default(db, actor, threshold=2, location_id=store.locations["SHOP"])
    level, = described(db, entity="stock_level")
    assert level.view is not None
    assert level.view.subject == "MC-S · Merino Crew at WH1" and level.view.summary == "low stock threshold: — → 3"
    default, = described(db, entity="low_stock_default")
    assert default.view is not None and default.view.subject == "every category at SHOP"


def test_a_bulk_edit_links_to_its_changeset_rows(db: Database, actor: Actor, store) -> None:
    s, m, lg = store.variant_ids
    with db.read() as session:
        from backoffice.models import Variant

        versions = {v.id: v.version for v in session.query(Variant).filter(Variant.id.in_([s, m, lg]))}
    result = changesets.apply_changes(db, actor, [changesets.RowChange("variant", v, versions[v], {"price": "64.99"})
                                                  for v in (s, m)], description="Winter prices", kind="bulk")
    entry, = described(db, entity="changeset")
    view = entry.view
    assert view is not None
    assert (view.changeset_id, view.changeset_rows) == (result.changeset_id, 2)
    assert view.summary == f"Bulk edit #{result.changeset_id}: Winter prices · 2 rows changed"
    rows = audit.changeset_rows(db, result.changeset_id)
    assert rows.title == f"Bulk edit #{result.changeset_id}: Winter prices"
    assert (rows.total_entries, rows.shown_entries) == (2, 2)
    assert sorted((r.item, r.name, r.field, r.before, r.after) for r in rows.rows) == [
        ("MC-M", "Merino Crew", "price", "59.99", "64.99"),
        ("MC-S", "Merino Crew", "price", "59.99", "64.99")]
    capped = audit.changeset_rows(db, result.changeset_id, limit=1)
    assert (capped.total_entries, capped.shown_entries, len(capped.rows)) == (2, 1, 1)  # the total stays true


def test_names_are_resolved_in_batches_not_per_entry(db: Database, actor: Actor, store) -> None:
    def statements_to_describe(n_transfers: int) -> int:
        for _ in range(n_transfers):
            ship_a_transfer(db, actor, store)
        rows = audit.fetch_page(db, AuditFilter(), limit=500)
        seen: list[str] = []

        def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            audit.describe(db, rows)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    few = statements_to_describe(1)
    many = statements_to_describe(6)  # six times the entries, the same kinds of things to name
    assert many == few


def test_the_audit_command_prints_the_same_summaries(db: Database, actor: Actor, store) -> None:
    ship_a_transfer(db, actor, store)
    url = db.engine.url.render_as_string(hide_password=False)
    out = CliRunner().invoke(main, ["audit", "--entity", "transfer", "--db", url, "--user", "tester"])
    assert out.exit_code == 0, out.output
    rows = described(db, entity="transfer")
    lines = out.output.splitlines()
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        assert row.view is not None
        assert line.endswith(f"{row.view.subject}: {row.view.summary}")
        assert not RAW.search(line), line
