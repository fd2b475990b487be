"""Typed change notifications: a write run through the GUI's Runner tells every view what it changed, and
each view reloads only when that concerns what it shows. Shipping a transfer moves stock: the Inventory
view reloads its rows, while the Reports view, open on the same connection, does not re-run its query."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from backoffice.db import Database
from backoffice.operations import Changes
from backoffice.operations.alerts import SmtpSettings
from backoffice.operations.changes import REPORTS, SETTINGS, STOCK, TRANSFERS
from backoffice.operations.reports import ReportOperations
from backoffice.operations.stock import StockOperations
from backoffice.services import inventory
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory import InventoryView
from backoffice.ui.views.reports import ReportsView


class Calls:
    """Counts the calls of one method of an operations area (patched on its class)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, area: type, name: str) -> None:
        self.count = 0
        original = getattr(area, name)

        def counted(area_self: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(area_self, *args, **kwargs)

        monkeypatch.setattr(area, name, counted)


def wait_idle(qtbot, *views: QWidget) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: all(not v.is_loading() for v in views) and views[0].tasks.pending == 0, timeout=20_000)


def on_hand(view: InventoryView) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r.sku, r.location): (r.on_hand, r.in_transit) for r in view.model.rows}


@pytest.fixture
def shown_views(qtbot, tasks: TaskManager, connected_context, db: Database, actor: Actor, store):  # type: ignore[no-untyped-def]
    """The Inventory and Reports views, both showing, on one connection: 10 MC-S at WH1."""
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[MoveLine(store.variant_ids[0], store.locations["SUP"], store.locations["WH1"], 10)])
    context = connected_context(db, actor)
    stock_view, reports_view = InventoryView(context, tasks), ReportsView(context, tasks)
    for view in (stock_view, reports_view):
        qtbot.addWidget(view)
        view.resize(1200, 700)
        view.show()
        view.activate()
    wait_idle(qtbot, stock_view, reports_view)
    assert reports_view.current is not None and reports_view.table_model.columns   # its query ran once
    return context, stock_view, reports_view


def test_a_shipped_transfer_reloads_inventory_and_leaves_reports_alone(qtbot, monkeypatch, tasks, store,  # type: ignore[no-untyped-def]
                                                                      shown_views) -> None:
    context, stock_view, reports_view = shown_views
    wh, shop, mc_s = store.locations["WH1"], store.locations["SHOP"], store.variant_ids[0]
    assert on_hand(stock_view) == {("MC-S", "WH1"): (10, 0)}
    draft = context.ops.transfers.create(source_location_id=wh, destination_location_id=shop, lines=[(mc_s, 4)])

    levels, level_counts = Calls(monkeypatch, StockOperations, "levels"), Calls(monkeypatch, StockOperations,
                                                                                 "count_levels")
    report_runs, report_lists = Calls(monkeypatch, ReportOperations, "run"), Calls(monkeypatch, ReportOperations,
                                                                                  "library")
    told: list[Changes] = []
    context.data_changed.connect(told.append)
    runner = Runner(context, tasks, stock_view)
    with qtbot.waitSignal(context.data_changed, timeout=10_000):
        runner.write(lambda ops: ops.transfers.ship(draft.id, op_id="ship-notified"))

    # the write said what it changed: stock at both ends and the transfer, nothing of the reports
    assert len(told) == 1
    changes = told[0]
    assert changes.concerns(STOCK) and changes.concerns(TRANSFERS) and not changes.concerns(REPORTS)
    assert changes.ids_of("location") == {wh, shop} and changes.ids_of("variant") == {mc_s}

    # the Inventory view re-ran its load and shows the stock that left WH1 (and is on its way to SHOP)
    qtbot.waitUntil(lambda: on_hand(stock_view).get(("MC-S", "WH1")) == (6, 0), timeout=10_000)
    wait_idle(qtbot, stock_view, reports_view)
    assert levels.count >= 1 and level_counts.count == 1
    assert on_hand(stock_view).get(("MC-S", "SHOP")) == (0, 4)
    # the Reports view did not re-run its query, nor reload its list
    assert report_runs.count == 0 and report_lists.count == 0

    # a write that concerns neither view (the mail server) reloads neither
    loads = levels.count
    with qtbot.waitSignal(context.data_changed, timeout=10_000) as settings_written:
        runner.write(lambda ops: ops.alerts.save_mail_settings(
            SmtpSettings(host="mail.example.com", sender="stock@shop.test", recipients=("buyer@shop.test",))))
    assert settings_written.args[0].concerns(SETTINGS) and not settings_written.args[0].concerns(STOCK, REPORTS)
    wait_idle(qtbot, stock_view, reports_view)
    assert levels.count == loads and report_runs.count == 0 and report_lists.count == 0
