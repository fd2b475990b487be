"""Adjustments, stock counts, low-stock thresholds and alerts, and the digest sent to a real SMTP server."""

from __future__ import annotations

import uuid

import pytest

from backoffice.db import Database
from backoffice.services import adjustments, alerts, catalog, inventory, settings, transfers
from backoffice.services.adjustments import CountStateError
from backoffice.services.alerts import MailError
from backoffice.services.base import Actor, ValidationError
from backoffice.services.inventory import InsufficientStock, MoveLine
from backoffice.services.settings import SmtpSettings
from tests import mail_server

smtp_server = mail_server.smtp_server   # a real SMTP server on loopback (the fixture)


def op() -> str:
    return uuid.uuid4().hex


def stock(db: Database, actor: Actor, store, variant: int, qty: int, at: str = "WH1") -> None:
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt",
                         lines=[MoveLine(variant, store.locations["SUP"], store.locations[at], qty)])


# -- adjustments and counts -----------------------------------------------------------------------------
def test_adjustment_moves_to_and_from_the_loss_location(db: Database, actor: Actor, store) -> None:
    a, b = store.variant_ids[:2]
    wh = store.locations["WH1"]
    stock(db, actor, store, a, 10)
    adjustments.adjust_stock(db, actor, location_id=wh, changes={a: -3, b: 2}, reason="count", operation_id="adj-1")
    adjustments.adjust_stock(db, actor, location_id=wh, changes={a: -3, b: 2}, reason="count", operation_id="adj-1")
    assert (inventory.on_hand(db, a, wh), inventory.on_hand(db, b, wh)) == (7, 2)
    with pytest.raises(InsufficientStock):
        adjustments.adjust_stock(db, actor, location_id=wh, changes={a: -8}, reason="damage", operation_id=op())
    with pytest.raises(ValidationError, match="'theft' is not one of"):
        adjustments.adjust_stock(db, actor, location_id=wh, changes={a: -1}, reason="theft", operation_id=op())
    with pytest.raises(ValidationError, match="supplier location"):
        adjustments.adjust_stock(db, actor, location_id=store.locations["SUP"], changes={a: 1}, reason="found",
                                 operation_id=op())
    assert inventory.ledger_mismatches(db) == []


def test_count_session_posts_differences_as_one_document(db: Database, actor: Actor, store) -> None:
    a, b, c = store.variant_ids
    wh = store.locations["WH1"]
    stock(db, actor, store, a, 10)
    stock(db, actor, store, b, 4)
    count = adjustments.start_count(db, actor, location_id=wh, note="aisle 3")
    assert count.number.startswith("SC-") and count.state == "open"
    count = adjustments.record_counts(db, actor, count.id, {a: 1}, add=True)   # three scans of a
    count = adjustments.record_counts(db, actor, count.id, {a: 1}, add=True)
    count = adjustments.record_counts(db, actor, count.id, {a: 1}, add=True)
    count = adjustments.record_counts(db, actor, count.id, {b: 4, c: 2})
    assert {ln.sku: (ln.counted, ln.on_hand, ln.difference) for ln in count.lines} == {
        "MC-S": (3, 10, -7), "MC-M": (4, 4, 0), "MC-L": (2, 0, 2)}
    stock(db, actor, store, a, 1)  # a receipt while counting: the posting uses the books at posting time
    posted = adjustments.post_count(db, actor, count.id, operation_id="count-1")
    again = adjustments.post_count(db, actor, count.id, operation_id="count-1")
    assert posted.state == again.state == "posted"
    assert (inventory.on_hand(db, a, wh), inventory.on_hand(db, b, wh), inventory.on_hand(db, c, wh)) == (3, 4, 2)
    assert {ln.sku: ln.difference for ln in posted.differences} == {"MC-S": -8, "MC-L": 2}
    with pytest.raises(CountStateError, match="only an open count"):
        adjustments.record_counts(db, actor, count.id, {a: 1})
    with pytest.raises(ValidationError, match="must be a whole number"):
        adjustments.record_counts(db, actor, adjustments.start_count(db, actor, location_id=wh).id, {a: -1})
    assert inventory.ledger_mismatches(db) == []


def test_a_retried_count_step_applies_once(db: Database, actor: Actor, store) -> None:
    """Starting a count, a scan and cancelling, each retried under its operation id, happen once."""
    from sqlalchemy import func, select

    from backoffice.models import StockCount

    a = store.variant_ids[0]
    wh = store.locations["WH1"]
    first = adjustments.start_count(db, actor, location_id=wh, operation_id="start-1")
    again = adjustments.start_count(db, actor, location_id=wh, operation_id="start-1")
    assert again.id == first.id
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(StockCount)) == 1
    for _ in range(3):          # one scan, sent three times
        scanned = adjustments.record_counts(db, actor, first.id, {a: 1}, add=True, operation_id="scan-1")
    assert [ln.counted for ln in scanned.lines] == [1]
    assert adjustments.cancel_count(db, actor, first.id, operation_id="cancel-1").state == "cancelled"
    assert adjustments.cancel_count(db, actor, first.id, operation_id="cancel-1").state == "cancelled"
    with pytest.raises(CountStateError):
        adjustments.cancel_count(db, actor, first.id, operation_id="cancel-2")


# -- thresholds and alerts ------------------------------------------------------------------------------
def test_thresholds_resolve_from_most_specific_rule(db: Database, actor: Actor, store) -> None:
    a, b, _ = store.variant_ids
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    apparel = catalog.create_category(db, actor, name="Apparel").entity_id
    knit = catalog.create_category(db, actor, name="Knitwear", parent_id=apparel).entity_id
    product = catalog.get_product(db, store.product.entity_id)
    catalog.update_product(db, actor, store.product.entity_id, expected_version=product["version"],
                           values={"category_id": knit})
    assert alerts.thresholds_for(db, wh, [a]) == {a: None}
    alerts.set_default(db, actor, threshold=1)                                   # store-wide
    alerts.set_default(db, actor, threshold=2, location_id=shop)                 # the shop
    alerts.set_default(db, actor, threshold=5, category_id=apparel)              # an ancestor category
    assert alerts.thresholds_for(db, wh, [a]) == {a: 5}
    alerts.set_default(db, actor, threshold=7, category_id=apparel, location_id=wh)
    assert alerts.thresholds_for(db, wh, [a]) == {a: 7}
    assert alerts.thresholds_for(db, shop, [a]) == {a: 5}
    alerts.set_threshold(db, actor, variant_id=b, location_id=wh, threshold=0)   # own threshold wins, even 0
    assert alerts.thresholds_for(db, wh, [a, b]) == {a: 7, b: 0}
    alerts.set_default(db, actor, threshold=None, category_id=apparel)           # removing a rule
    alerts.set_default(db, actor, threshold=None, category_id=apparel, location_id=wh)
    assert alerts.thresholds_for(db, wh, [a]) == {a: 1}
    assert alerts.thresholds_for(db, shop, [a]) == {a: 2}
    with pytest.raises(ValidationError, match="must be a whole number"):
        alerts.set_threshold(db, actor, variant_id=a, location_id=wh, threshold=-1)


def test_each_crossing_opens_one_alert(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    stock(db, actor, store, a, 10)
    alerts.set_threshold(db, actor, variant_id=a, location_id=wh, threshold=3)
    assert alerts.evaluate(db).opened == 0
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 8)])
    transfers.ship_transfer(db, actor, t.id, operation_id=op())
    first = alerts.evaluate(db)
    second = alerts.evaluate(db)
    assert (first.opened, second.opened, second.open_now) == (1, 0, 1)
    [row] = alerts.open_alerts(db)
    assert (row.sku, row.location, row.available, row.threshold) == ("MC-S", "WH1", 2, 3)
    stock(db, actor, store, a, 5)  # back above: the alert closes
    assert alerts.evaluate(db).closed == 1 and alerts.open_alert_count(db) == 0
    adjustments.adjust_stock(db, actor, location_id=wh, changes={a: -6}, reason="damage", operation_id=op())
    assert alerts.evaluate(db).opened == 1  # a new crossing, a new alert


def low_everywhere(db: Database, actor: Actor, store) -> int:
    """Every variant of the small store at 1 in WH1 and SHOP, threshold 4: that many pairs are low."""
    lines = [MoveLine(v, store.locations["SUP"], store.locations[at], 1)
             for v in store.variant_ids for at in ("WH1", "SHOP")]
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt", lines=lines)
    alerts.set_default(db, actor, threshold=4)
    return len(lines)


def test_a_store_never_checked_is_told_apart_from_one_with_no_low_stock(db: Database, actor: Actor, store) -> None:
    low = low_everywhere(db, actor, store)
    before = alerts.overview(db)
    assert (before.checked, before.checked_at, before.open_total, before.rows) == (False, None, 0, [])
    assert alerts.last_check(db) is None
    ev = alerts.evaluate(db)
    after = alerts.overview(db)
    assert after.checked and after.checked_at == ev.checked_at == alerts.last_check(db)
    assert after.open_total == ev.open_now == low
    # a check that finds nothing low is still a check
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], store.locations[at], 10)
                                for v in store.variant_ids for at in ("WH1", "SHOP")])
    second = alerts.evaluate(db)
    assert (second.open_now, second.closed) == (0, low)
    assert alerts.last_check(db) == second.checked_at and second.checked_at >= ev.checked_at
    assert alerts.overview(db).open_total == 0


def test_counts_are_true_counts_whatever_the_row_limit(db: Database, actor: Actor, store) -> None:
    low = low_everywhere(db, actor, store)
    ev = alerts.evaluate(db)
    shown = alerts.overview(db, limit=4)
    assert len(shown.rows) == 4 and shown.truncated
    assert shown.open_total == shown.unsent_total == ev.open_now == alerts.open_alert_count(db) == low == 6
    assert len(alerts.open_alerts(db, limit=4)) == 4
    everything = alerts.overview(db, limit=100)
    assert len(everything.rows) == everything.open_total and not everything.truncated
    assert [r.id for r in shown.rows] == [r.id for r in everything.rows[:4]]  # the newest first, same order


# -- the digest through a real SMTP server ---------------------------------------------------------------
def test_digest_mails_each_crossing_once(db: Database, actor: Actor, store, smtp_server) -> None:
    inbox, port = smtp_server
    a, b, _ = store.variant_ids
    wh = store.locations["WH1"]
    stock(db, actor, store, a, 2)
    alerts.set_default(db, actor, threshold=4)
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="none", sender="stock@shop.test",
                        recipients=("buyer@shop.test", "floor@shop.test"))
    settings.save_smtp(db, actor, smtp)
    assert settings.get_smtp(db) == smtp
    alerts.evaluate(db)
    result = alerts.send_digest(db, actor, settings.get_smtp(db), None)
    assert result.sent == 1 and len(inbox.messages) == 1
    sender, rcpts, msg = inbox.messages[0]
    assert sender == "stock@shop.test" and rcpts == ["buyer@shop.test", "floor@shop.test"]
    assert msg["Subject"].endswith("1 item low on stock")
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "MC-S" in body and "WH1" in body
    # nothing new: no second message
    alerts.evaluate(db)
    assert alerts.send_digest(db, actor, smtp, None).sent == 0 and len(inbox.messages) == 1
    # a new crossing (b gets a level at WH1 below the threshold) is mailed on its own
    stock(db, actor, store, b, 1)
    alerts.evaluate(db)
    assert alerts.send_digest(db, actor, smtp, None).sent == 1
    assert len(inbox.messages) == 2 and "MC-M" in inbox.messages[1][2].get_body(preferencelist=("plain",)).get_content()
    assert "MC-S" not in inbox.messages[1][2].get_body(preferencelist=("plain",)).get_content()
    _ = wh


def test_digest_failure_marks_nothing(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    stock(db, actor, store, a, 1)
    alerts.set_default(db, actor, threshold=4)
    alerts.evaluate(db)
    dead = SmtpSettings(host="127.0.0.1", port=mail_server.free_port(), security="none", sender="stock@shop.test",
                        recipients=("buyer@shop.test",), timeout_s=2)
    with pytest.raises(MailError, match="could not send through 127.0.0.1"):
        alerts.send_digest(db, actor, dead, None)
    assert [r.notified_at for r in alerts.open_alerts(db)] == [None]
    with pytest.raises(ValidationError, match="is not an e-mail address"):
        alerts.send_digest(db, actor, SmtpSettings(host="x", sender="nobody", recipients=("a@b.c",)), None)


def test_a_digest_longer_than_its_list_states_the_true_count(db: Database, actor: Actor, store, smtp_server) -> None:
    inbox, port = smtp_server
    low = low_everywhere(db, actor, store)
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="none", sender="stock@shop.test",
                        recipients=("buyer@shop.test",))
    alerts.evaluate(db)
    result = alerts.send_digest(db, actor, smtp, None, max_rows=2)
    assert (result.sent, result.listed) == (low, 2)
    [(_, _, msg)] = inbox.messages
    assert msg["Subject"].endswith(f"{low} items low on stock")
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith(f"{low} items fell to or below their low-stock threshold.")
    assert f"The first 2 are listed below; all {low} are in the Alerts tab" in body
    assert f"… and {low - 2} more." in body
    listed = [line for line in body.splitlines() if line.startswith("MC-")]
    assert len(listed) == 2
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert f"{low} items fell" in html and html.count("<tr>") == 3  # heading row + the 2 listed
    # every alert of the digest is marked as mailed, not only the listed ones
    assert alerts.overview(db).unsent_total == 0
    assert alerts.send_digest(db, actor, smtp, None, max_rows=2).sent == 0 and len(inbox.messages) == 1
