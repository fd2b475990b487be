"""The stock, adjustments and alerts areas of the operations contract: plain values out, and each write
notes what it changed (kinds and ids) so the open views reload only what concerns them."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from backoffice.db import Database
from backoffice.operations import collecting, merge
from backoffice.operations.alerts import SmtpSettings
from backoffice.operations.changes import ADJUSTMENTS, ALERTS, AUDIT, SETTINGS, STOCK, THRESHOLDS, TRANSFERS
from backoffice.operations.local import LocalOperations
from backoffice.operations.stock import StockFilter
from backoffice.services import alerts, inventory
from backoffice.services.base import Actor, ValidationError
from backoffice.services.inventory import MoveLine


@pytest.fixture
def ops(db: Database, actor: Actor) -> LocalOperations:
    return LocalOperations(db, actor)


def receive(db: Database, actor: Actor, store, variant: int, qty: int, at: str = "WH1") -> None:  # type: ignore[no-untyped-def]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[MoveLine(variant, store.locations["SUP"], store.locations[at], qty)])


def test_levels_history_and_pickers_are_plain_values(db, actor, store, ops) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    receive(db, actor, store, s, 10)
    receive(db, actor, store, m, 2, "SHOP")
    page = ops.stock.levels(StockFilter(), limit=1)
    assert [(r.sku, r.location, r.on_hand) for r in page] == [("MC-S", "WH1", 10)]
    assert [r.sku for r in ops.stock.levels(StockFilter(), after=page[0].key)] == ["MC-M"]
    assert ops.stock.count_levels(StockFilter(location_id=store.locations["SHOP"])) == 1
    assert [(r.location, r.available) for r in ops.stock.availability(s)] == [("WH1", 10)]
    assert ops.stock.levels_at(store.locations["WH1"], [s, m]) == {s: (10, 0), m: (0, 0)}
    assert [(h.quantity, h.reason) for h in ops.stock.history(variant_id=s, location_id=store.locations["WH1"])] \
        == [(10, "receipt")]
    assert len(ops.stock.all_history(s)) == 1
    assert ops.stock.location_by_code("wh1")["id"] == store.locations["WH1"]
    assert {loc["code"] for loc in ops.stock.locations()} >= {"WH1", "SHOP", "SUP"}
    assert ops.stock.category_choices() == []
    for row in page:
        assert dataclasses.is_dataclass(row)


def test_an_adjustment_notes_the_stock_it_moved_and_posts_once(db, actor, store, ops) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    wh = store.locations["WH1"]
    receive(db, actor, store, s, 10)
    with collecting() as noted:
        first = ops.adjustments.adjust(wh, {s: -2, m: 3}, reason="count", op_id="adj-ops-1")
    changes = merge(noted)
    assert changes.concerns(STOCK) and changes.concerns(ADJUSTMENTS) and not changes.concerns(TRANSFERS)
    assert changes.ids_of("location") == {wh} and changes.ids_of("variant") == {s, m}
    assert first.applied and {(lv.variant_id, lv.on_hand) for lv in first.levels if lv.location_id == wh} \
        == {(s, 8), (m, 3)}
    again = ops.adjustments.adjust(wh, {s: -2, m: 3}, reason="count", op_id="adj-ops-1")
    assert not again.applied and inventory.on_hand(db, s, wh) == 8


def test_a_count_through_the_contract(db, actor, store, ops) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    wh = store.locations["WH1"]
    receive(db, actor, store, s, 10)
    with collecting() as noted:
        count = ops.adjustments.start_count(wh, note="aisle 3")
        ops.adjustments.record_counts(count.id, {s: 1}, add=True)
        ops.adjustments.record_counts(count.id, {s: 6, m: 0})
    assert not merge(noted).concerns(STOCK) and merge(noted).concerns(ADJUSTMENTS)
    assert [c.number for c in ops.adjustments.open_counts(location_id=wh)] == [count.number]
    with collecting() as noted:
        posted = ops.adjustments.post_count(count.id, op_id="count-ops-1")
    changes = merge(noted)
    assert posted.state == "posted" and inventory.on_hand(db, s, wh) == 6
    assert changes.concerns(STOCK) and changes.ids_of("variant") == {s} and changes.ids_of("location") == {wh}
    other = ops.adjustments.start_count(wh)
    assert ops.adjustments.cancel_count(other.id).state == "cancelled"
    assert ops.adjustments.open_counts() == []


def test_thresholds_alerts_and_mail_settings(db, actor, store, ops) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    wh = store.locations["WH1"]
    receive(db, actor, store, s, 2)
    with collecting() as noted:
        ops.alerts.set_threshold(s, wh, threshold=3, reorder_point=6)
    changes = merge(noted)
    assert changes.concerns(THRESHOLDS) and not changes.concerns(STOCK, ALERTS)
    assert changes.ids_of("variant") == {s} and changes.ids_of("location") == {wh}
    assert alerts.thresholds_for(db, wh, [s, m]) == {s: 3, m: None}
    before = ops.alerts.overview()
    assert not before.checked and before.open_total == 0
    with collecting() as noted:
        evaluation = ops.alerts.check_now()
    assert merge(noted).concerns(ALERTS) and evaluation.opened == 1
    assert ops.alerts.open_count() == 1 and ops.alerts.overview().rows[0].sku == "MC-S"

    assert not ops.alerts.mail_settings().configured
    smtp = SmtpSettings(host="mail.example.com", sender="stock@shop.test", recipients=("buyer@shop.test",))
    with collecting() as noted:
        saved = ops.alerts.save_mail_settings(smtp, op_id="smtp-ops-1")
    assert saved == smtp == ops.alerts.mail_settings()
    assert merge(noted).kinds == {SETTINGS, AUDIT}
    with pytest.raises(ValidationError) as problems:
        ops.alerts.send_test_message(SmtpSettings(sender="nobody"))
    assert {p[1] for p in problems.value.problems} >= {"host", "sender", "recipients"}
