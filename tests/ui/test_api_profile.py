"""The desktop on a store API profile, against a real loopback server over the test's database: signing
in through the dialog, the first load of the local copy, the product grid showing the server's rows, a
bulk edit previewed and applied through the API, an inline edit sent through the outbox, and offline:
an edit saved while the server is down waits (the status bar says so), then goes once, when it is back.
The Pending changes dialog: a waiting entry, and a conflict merged with the theirs / yours dialog."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QSettings

from backoffice.config import ProfileStore
from backoffice.db import Database
from backoffice.operations import LocalOperations
from backoffice.operations.catalog import RowChange
from backoffice.remote.session import sign_in
from backoffice.secrets import SecretStore
from backoffice.server import create_app_for_url
from backoffice.services import catalog_grid, changesets
from backoffice.services.bulk import Target
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.demo import generate_demo
from backoffice.ui.app import Gui, start_gui
from backoffice.ui.views.products.bulk_dialog import BulkEditDialog
from backoffice.ui.views.products.columns import INDEX
from backoffice.ui.views.products.conflicts import REBASE
from backoffice.ui.widgets.status_bar import freshness_text, outbox_text
from tests.api_support import PASSWORD, RunningServer, add_staff, start_server, url_of

D = Decimal
WAIT = 30_000
PRICE = INDEX["price"]


class Server:
    """The store API over ``db``, that a test can stop and start again at the same address."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.running: RunningServer | None = None
        self._stop = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = create_app_for_url(url_of(self.db), rate=10_000, burst=10_000)
        self.running, self._stop = start_server(app, self.port)
        self.port = int(self.running.base_url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


@pytest.fixture
def server(db: Database) -> Iterator[Server]:
    add_staff(db)
    admin = LocalOperations(db, None, sign_in="admin", owns_database=False)
    generate_demo(db, admin.actor, products=12, seed=5)
    admin.close()
    running = Server(db)
    yield running
    running.stop()


@pytest.fixture
def open_window(qtbot, server: Server, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``open_window(signed_in=True)``: the GUI on an API profile of ``server`` as the merchandiser,
    connected and done with its first load. Polling is slow here: each test starts its rounds."""
    guis: list[Gui] = []
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    settings.setValue("sync/interval_seconds", 600)

    def open_(*, signed_in: bool = True, username: str = "merchandiser") -> Gui:
        profile, _ = ProfileStore().save("shop-api", server.url, username=username)
        if signed_in:
            sign_in(server.url, username, PASSWORD, secrets=SecretStore()).close()
        gui = start_gui(db_url=profile.url, profile=profile, settings=settings, secrets=SecretStore(),
                        profiles=ProfileStore())
        guis.append(gui)
        if not signed_in:
            qtbot.waitUntil(lambda: gui.connector.sign_in_dialog is not None, timeout=WAIT)
            dialog = gui.connector.sign_in_dialog
            assert dialog.username.text() == "merchandiser" and dialog.username.isReadOnly()
            assert not dialog.remember.isVisible()
            dialog.password.setText(PASSWORD)
            dialog.submit()
        qtbot.waitUntil(lambda: gui.context.connected, timeout=WAIT)
        wait_round(qtbot, gui)
        assert gui.window.sync.synced_at is not None
        return gui

    yield open_
    for gui in guis:
        gui.shutdown()
        gui.window.close()
        gui.window.deleteLater()


def wait_round(qtbot, gui: Gui) -> None:  # type: ignore[no-untyped-def]
    """Until the controller is idle with nothing asked for (a round after a write included)."""
    sync = gui.window.sync
    qtbot.waitUntil(lambda: not sync.syncing and not sync._soon.isActive() and not sync._again
                    and gui.tasks.pending == 0, timeout=WAIT)


def open_products(qtbot, gui: Gui):  # type: ignore[no-untyped-def]
    gui.window.show_view("products")
    view = gui.window.view("products")
    qtbot.waitUntil(lambda: not view.is_loading() and view.model.total is not None, timeout=WAIT)
    return view


def price_of(db: Database, variant_id: int) -> Decimal:
    return catalog_grid.rows_by_id(db, [variant_id])[variant_id].price


def grid_skus(qtbot, view, rows: int) -> list[str]:  # type: ignore[no-untyped-def]
    view.model.request_rows(0, rows - 1)
    qtbot.waitUntil(lambda: all(view.model.row_at(r) is not None for r in range(rows)), timeout=WAIT)
    return [view.model.row_at(r).sku for r in range(rows)]


# -- pure parts of the status bar ---------------------------------------------------------------------------
def test_freshness_and_outbox_texts() -> None:
    now = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.timezone.utc)
    before = now - dt.timedelta(seconds=12)
    assert freshness_text(now, before, syncing=False, loading=False, offline=False) == ("Synced 12 s ago", "ok")
    assert freshness_text(now, before, syncing=True, loading=False, offline=False)[0] == "Syncing…"
    assert freshness_text(now, now - dt.timedelta(minutes=3), syncing=False, loading=False, offline=True) == (
        "Offline — last synced 3 min ago", "warning")
    assert outbox_text(0, 0) == ("All changes sent", "ok")
    assert outbox_text(2, 0) == ("2 changes waiting", "warning")
    assert outbox_text(1, 1)[0] == "1 change waiting · 1 needs you"


# -- online ------------------------------------------------------------------------------------------------
def test_signing_in_loads_the_copy_and_the_grid_shows_the_servers_rows(qtbot, open_window, db) -> None:  # type: ignore[no-untyped-def]
    gui = open_window(signed_in=False)
    ops = gui.context.ops
    assert ops.remote and ops.replica_reads is not None and ops.outbox is not None
    assert gui.window.sync_action.isVisible() and gui.window.pending_action.isVisible()
    status = gui.window.sync_status
    assert status.freshness.text().startswith("Synced ") and status.outbox.text() == "All changes sent"
    assert "Store API" in gui.window.session_status.connection.text()

    view = open_products(qtbot, gui)
    expected = catalog_grid.ordered_ids(db, VariantFilter())
    assert view.model.total == len(expected)
    server_rows = catalog_grid.rows_by_id(db, expected[:20])
    assert grid_skus(qtbot, view, 20) == [server_rows[i].sku for i in expected[:20]]


def test_a_bulk_edit_and_an_inline_edit_go_through_the_api(qtbot, open_window, db) -> None:  # type: ignore[no-untyped-def]
    gui = open_window()
    view = open_products(qtbot, gui)
    vendor = catalog_grid.facets(db)["vendors"][0]
    flt = VariantFilter(vendors=(vendor,))
    ids = catalog_grid.ordered_ids(db, flt)
    before = {r.sku: r.price for r in catalog_grid.rows_by_id(db, ids).values()}

    dialog = BulkEditDialog(gui.context, gui.tasks, Target(filter=flt), f"all {len(before)} variants")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.money.rows[0].value.setText("10")
    qtbot.waitUntil(lambda: dialog.plan is not None and not dialog._planning and not dialog._debounce.isActive(),
                    timeout=WAIT)
    assert dialog.plan.considered == len(before) and dialog.plan.affected > 0
    with qtbot.waitSignal(gui.context.data_changed, timeout=WAIT):
        dialog.apply_button.click()
    assert dialog.result is not None and dialog.result.applied_rows == dialog.plan.affected
    after = {r.sku: r.price for r in catalog_grid.rows_by_id(db, ids).values()}
    assert all(after[s] == (before[s] * D("1.10")).quantize(D("0.01")) for s in before)
    wait_round(qtbot, gui)

    # an inline edit: staged, applied, sent through the outbox, which is empty again afterwards
    row = view.model.row_at(0)
    view.model.setData(view.model.index(0, PRICE), D("77.70"))
    view.apply_pending()
    qtbot.waitUntil(lambda: not view.applier.busy, timeout=WAIT)
    assert len(view.model.pending) == 0
    assert price_of(db, row.variant_id) == D("77.70")
    wait_round(qtbot, gui)
    assert gui.window.sync.pending == 0
    assert gui.window.sync_status.outbox.text() == "All changes sent"
    # read back from the synced copy: the round that brings the change makes the grid reload that row
    qtbot.waitUntil(lambda: view.model.row_at(0).price == D("77.70"), timeout=WAIT)


# -- offline -----------------------------------------------------------------------------------------------
def test_an_edit_made_offline_waits_then_goes_once(qtbot, open_window, server, db) -> None:  # type: ignore[no-untyped-def]
    gui = open_window()
    view = open_products(qtbot, gui)
    row = view.model.row_at(0)
    old_price = row.price
    edits_before = len(changesets.list_changesets(db, limit=1000))
    server.stop()

    view.model.setData(view.model.index(0, PRICE), D("12.34"))
    view.apply_pending()
    qtbot.waitUntil(lambda: not view.applier.busy, timeout=WAIT)
    assert len(view.model.pending) == 0                   # not staged any more: it is not sent twice
    assert "Saved offline" in view.banner.text.text()
    assert view.model.row_at(0).price == D("12.34")
    qtbot.waitUntil(lambda: gui.window.sync_status.outbox.text() == "1 change waiting", timeout=WAIT)
    assert price_of(db, row.variant_id) == old_price              # nothing reached the server

    gui.window.sync.sync_now()                            # a round while the server is down: offline
    qtbot.waitUntil(lambda: gui.window.sync.offline, timeout=WAIT)
    wait_round(qtbot, gui)
    status = gui.window.sync_status
    status.refresh()
    assert status.freshness.text().startswith("Offline — last synced")
    assert status.outbox.text() == "1 change waiting"

    server.start()
    gui.window.sync.sync_now()
    qtbot.waitUntil(lambda: not gui.window.sync.offline and gui.window.sync.pending == 0, timeout=WAIT)
    wait_round(qtbot, gui)
    assert status.outbox.text() == "All changes sent"
    assert price_of(db, row.variant_id) == D("12.34")
    assert len(changesets.list_changesets(db, limit=1000)) == edits_before + 1    # applied once
    gui.window.sync.sync_now()                            # another round sends nothing again
    wait_round(qtbot, gui)
    assert len(changesets.list_changesets(db, limit=1000)) == edits_before + 1


# -- the Pending changes dialog --------------------------------------------------------------------------
def test_pending_changes_lists_and_resolves_a_conflict(qtbot, open_window, server, db) -> None:  # type: ignore[no-untyped-def]
    gui = open_window()
    view = open_products(qtbot, gui)
    row = view.model.row_at(0)
    # someone else changes the row after it was read: the save comes back as a conflict
    admin = LocalOperations(db, None, sign_in="admin", owns_database=False)
    admin.catalog.save_edits([RowChange("variant", row.variant_id, row.variant_version, {"price": D("50.00")},
                                        {"price": row.price})], description="elsewhere")
    admin.close()
    server.stop()
    view.model.setData(view.model.index(0, PRICE), D("60.00"))
    view.apply_pending()
    qtbot.waitUntil(lambda: not view.applier.busy, timeout=WAIT)
    server.start()
    gui.window.sync.sync_now()
    qtbot.waitUntil(lambda: gui.window.sync.attention == 1 and not gui.window.sync.syncing, timeout=WAIT)
    assert "1 needs you" in gui.window.sync_status.outbox.text()

    gui.window.sync_status.outbox_clicked.emit()
    dialog = gui.window.pending_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: len(dialog.entries) == 1, timeout=WAIT)
    (entry,) = dialog.entries
    assert entry.status == "conflict" and entry.operation == "catalog.save_edits"
    assert dialog.table.item(0, 1).text() == "Conflict"
    dialog.select_entry(entry.id)
    assert dialog.resolve_button.isEnabled() and dialog.retry_button.isEnabled()
    dialog.resolve_button.click()
    qtbot.waitUntil(lambda: dialog.conflict_dialog is not None, timeout=WAIT)
    merge = dialog.conflict_dialog
    assert merge.tree.topLevelItem(0).text(2) == "€50.00" and merge.tree.topLevelItem(0).text(3) == "€60.00"
    merge.set_all(REBASE)
    merge.accept()
    qtbot.waitUntil(lambda: not dialog.entries and gui.window.sync.attention == 0, timeout=WAIT)
    assert price_of(db, row.variant_id) == D("60.00")
    assert dialog.empty.isVisible() or not dialog.isVisible()


# -- a transfer draft made offline ----------------------------------------------------------------------
def test_a_transfer_draft_made_offline_is_created_once_when_the_server_is_back(qtbot, open_window, server,
                                                                                db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with db.read() as session:
        sku, source = session.execute(text(
            "SELECT v.sku, l.id FROM stock_levels s JOIN variants v ON v.id = s.variant_id "
            "JOIN locations l ON l.id = s.location_id WHERE l.kind = 'warehouse' AND s.on_hand > 2 "
            "ORDER BY v.id, l.id LIMIT 1")).one()
        destination = session.execute(text("SELECT id FROM locations WHERE kind IN ('warehouse', 'store') "
                                           "AND id <> :s ORDER BY id LIMIT 1"), {"s": source}).scalar_one()
        before = session.execute(text("SELECT count(*) FROM transfers")).scalar_one()
    gui = open_window(username="warehouse")
    gui.window.show_view("transfers")
    view = gui.window.view("transfers")
    qtbot.waitUntil(lambda: not view.is_loading() and gui.tasks.pending == 0, timeout=WAIT)
    editor = view.editor
    editor.source.setCurrentIndex(editor.source.findData(source))
    editor.destination.setCurrentIndex(editor.destination.findData(destination))
    server.stop()

    qtbot.keyClicks(editor.scan, sku)                    # looked up in this computer's copy: works offline
    qtbot.keyClick(editor.scan, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: [(ln.sku, ln.quantity) for ln in editor.lines] == [(sku, 1)], timeout=WAIT)
    editor.save_draft()
    qtbot.waitUntil(lambda: "Saved offline" in editor.banner.text.text(), timeout=WAIT)
    assert editor.document is None and editor.lines == [] and not editor.dirty    # never submitted twice
    gui.window.sync.sync_now()                            # the next round (offline) counts what waits
    qtbot.waitUntil(lambda: gui.window.sync.offline, timeout=WAIT)
    wait_round(qtbot, gui)
    gui.window.sync_status.refresh()
    assert gui.window.sync_status.outbox.text() == "1 change waiting"

    server.start()
    gui.window.sync.sync_now()
    qtbot.waitUntil(lambda: not gui.window.sync.offline and gui.window.sync.pending == 0, timeout=WAIT)
    wait_round(qtbot, gui)
    with db.read() as session:
        made = session.execute(text(
            "SELECT t.state, t.source_location_id, t.destination_location_id, v.sku, tl.quantity FROM transfers t "
            "JOIN transfer_lines tl ON tl.transfer_id = t.id JOIN variants v ON v.id = tl.variant_id "
            "WHERE t.id = (SELECT max(id) FROM transfers)")).all()
        after = session.execute(text("SELECT count(*) FROM transfers")).scalar_one()
    assert after == before + 1
    assert [tuple(r) for r in made] == [("draft", source, destination, sku, 1)]
