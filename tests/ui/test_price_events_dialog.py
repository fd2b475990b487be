"""The Price events dialog: the list and timeline show what the database holds, the planner previews
(prices before → after, a clash refusing the save) and saves an event, cancelling and running what is due
go through the contract, conflicts are resolved from their own dialog; the window's background runner
starts a due event once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import QMessageBox

from backoffice.db import Database
from backoffice.operations.events import EventDraft, PriceStep, Target, VariantFilter
from backoffice.services import catalog, price_events
from backoffice.services.base import Actor
from backoffice.services.changesets import RowChange, apply_changes
from backoffice.ui.format import format_money
from backoffice.ui.price_event_runs import PriceEventRuns
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.price_event_planner import ConflictsDialog, EventPlanner
from backoffice.ui.views.products.price_events import PriceEventsDialog

WAIT = 15_000
UTC = dt.timezone.utc
LOWER_20 = (PriceStep("percent", Decimal("-20")), PriceStep("round_ending", Decimal("0.99")))


def small_catalog(db: Database, actor: Actor) -> list[int]:
    product = catalog.create_product(
        db, actor, values={"handle": "merino-crew", "title": "Merino Crew", "vendor": "Norda", "status": "active"},
        variants=[{"sku": f"MC-{s}", "price": "59.99", "cost": "21.00"} for s in ("S", "M", "L")])
    return [c.entity_id for c in product.children]


def test_plan_run_and_resolve_from_the_dialogs(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                               sqlite_db: Database, sqlite_actor: Actor, monkeypatch) -> None:
    ids = small_catalog(sqlite_db, sqlite_actor)
    now = dt.datetime.now(UTC)
    price_events.plan_event(sqlite_db, sqlite_actor, EventDraft(
        "Weekend", Target(variant_ids=(ids[0],)), LOWER_20, now - dt.timedelta(minutes=5), now + dt.timedelta(days=2),
        "UTC"))
    context = connected_context(sqlite_db, sqlite_actor)
    dialog = PriceEventsDialog(context, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1 and not dialog.runner.busy, timeout=WAIT)
    assert dialog.model.rows[0][:2] == ("Weekend", "Planned") and dialog.timeline.events[0].name == "Weekend"
    assert dialog.summary.text().startswith("1 planned · 0 running")

    # the planner: a clash with "Weekend" on MC-S is shown and blocks the save
    planner = EventPlanner(context, tasks, [("All", Target(variant_ids=tuple(ids)))], dialog)
    qtbot.addWidget(planner)
    planner.show()
    planner.name.setText("Flash")
    planner.start.setDateTime(QDateTime.fromSecsSinceEpoch(int((now + dt.timedelta(hours=1)).timestamp())))
    planner.end.setDateTime(QDateTime.fromSecsSinceEpoch(int((now + dt.timedelta(hours=5)).timestamp())))
    planner.run_preview()
    qtbot.waitUntil(lambda: planner.preview is not None and not planner.runner.busy, timeout=WAIT)
    assert planner.model.rows[0][:3] == ("MC-S", format_money("59.99"), format_money("47.99"))
    assert not planner.save_button.isEnabled() and "Weekend" in planner.problems.rows[0][0]
    planner.target.addItem("Two", Target(variant_ids=tuple(ids[1:])))
    planner.target.setCurrentIndex(1)
    assert not planner.save_button.isEnabled()          # changed since the preview: preview again first
    planner.run_preview()
    qtbot.waitUntil(lambda: planner.save_button.isEnabled(), timeout=WAIT)
    planner.save()
    qtbot.waitUntil(lambda: planner.saved is not None, timeout=WAIT)
    assert price_events.get_event(sqlite_db, "Flash").variants == 2

    # the window's runner starts the due event, once
    runs = PriceEventRuns(context, tasks, interval_s=3600)
    results: list = []
    runs.ran.connect(results.append)
    assert runs.run_now()
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT)
    assert results[0].started == ["Weekend"]
    dialog.reload()
    qtbot.waitUntil(lambda: ("Weekend", "Running") in [r[:2] for r in dialog.model.rows], timeout=WAIT)

    # a price edited during the event, then the event cancelled: a conflict, resolved in its dialog
    with sqlite_db.read() as session:
        from backoffice.models import Variant
        version = session.get(Variant, ids[0]).version
    apply_changes(sqlite_db, sqlite_actor, [RowChange("variant", ids[0], version, {"price": Decimal("44.00")})],
                  description="by hand")
    dialog.reload()
    qtbot.waitUntil(lambda: not dialog.runner.busy, timeout=WAIT)
    row = next(i for i, r in enumerate(dialog.model.rows) if r[0] == "Weekend")
    dialog.table.selectRow(row)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.cancel_selected()
    qtbot.waitUntil(lambda: not dialog.runner.busy and dialog.conflicts_button.isEnabled(), timeout=WAIT)
    assert "1 conflict to resolve" in dialog.summary.text()
    conflicts = ConflictsDialog(context, tasks, "Weekend")
    qtbot.addWidget(conflicts)
    conflicts.show()
    qtbot.waitUntil(lambda: conflicts.model.rowCount() == 1, timeout=WAIT)
    assert conflicts.model.rows[0] == ("MC-S", *(format_money(v) for v in ("47.99", "44.00", "59.99")))
    conflicts.resolve(keep_current=False)
    qtbot.waitUntil(lambda: conflicts.model.rowCount() == 0 and not conflicts.runner.busy, timeout=WAIT)
    with sqlite_db.read() as session:
        assert session.get(Variant, ids[0]).price == Decimal("59.99")
    dialog.resize(1100, 640)
    dialog.grab()      # paints the timeline with every state


def test_the_merchandising_menu_opens_it_with_the_grid_selection_and_filter(  # type: ignore[no-untyped-def]
        qtbot, tasks: TaskManager, connected_context, sqlite_db: Database, sqlite_actor: Actor) -> None:
    from PySide6.QtWidgets import QMenu, QWidget

    from backoffice.ui.views.products.merchandising import fill_merchandising_menu

    ids = small_catalog(sqlite_db, sqlite_actor)
    grid_filter = VariantFilter(vendors=("Norda",))

    class FakeView(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.context = connected_context(sqlite_db, sqlite_actor)
            self.tasks = tasks
            self.loader = type("L", (), {"filter": grid_filter})()
            self.model = type("M", (), {"total": 3})()
            self.dialog = None

        def selected_variant_ids(self) -> list[int]:
            return ids[:2]

    view = FakeView()
    qtbot.addWidget(view)
    menu = QMenu()
    fill_merchandising_menu(view, menu)  # type: ignore[arg-type]
    next(a for a in menu.actions() if a.text() == "Price events…").trigger()
    dialog = view.dialog
    assert isinstance(dialog, PriceEventsDialog)
    qtbot.waitUntil(lambda: not dialog.runner.busy, timeout=WAIT)
    assert dialog.model.rowCount() == 0 and not dialog.cancel_button.isEnabled()
    dialog.open_planner()
    planner = dialog.child
    assert [planner.target.itemText(i) for i in range(planner.target.count())] == \
        ["The 2 selected variants", "All 3 variants matching the grid's filter"]
    assert planner.target.itemData(0).variant_ids == tuple(ids[:2]) and planner.target.itemData(1).filter == grid_filter
    planner.done(0)
    dialog.done(0)
