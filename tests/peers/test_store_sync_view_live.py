"""The Store sync view against a running Medusa: Sync now pushes the catalog and stock in the background
(the view shows the run with the calls the database logged), and a difference injected in Medusa is found
by Reconcile and fixed by Fix differences after the confirmation."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from backoffice.db import Database
from backoffice.services import store_links
from backoffice.services.users import ensure_user
from backoffice.ui.views.store_sync import StoreSyncView
from tests.conftest import STAFF_PASSWORD
from tests.peers.medusa import storefront
from tests.peers.medusa.server import MedusaServer
from tests.peers.test_store_sync import Shop
from tests.ui.conftest import connected_context, tasks  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.store_peer]


def test_sync_now_and_reconcile_from_the_view(qtbot, tasks, connected_context, sqlite_db: Database,  # noqa: F811
                                             medusa: MedusaServer) -> None:  # type: ignore[no-untyped-def]
    actor = ensure_user(sqlite_db, "tester", password=STAFF_PASSWORD)
    shop = Shop(sqlite_db, actor, medusa, products=4)
    view = StoreSyncView(connected_context(sqlite_db, actor), tasks)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    view.activate()
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=20_000)
    assert view.runs_model.rowCount() == 0

    qtbot.mouseClick(view.header.sync_button, Qt.MouseButton.LeftButton)
    assert view.tasks.pending >= 1                       # the click returned: the sync runs in the background
    qtbot.waitUntil(lambda: view.runs_model.rowCount() == 1 and view.tasks.pending == 0, timeout=120_000)
    run = shop.ops.connectors.runs("shop")[0]
    assert run.state == "ok" and run.summary["products_created"] == 4
    assert view.runs_model.row_at(0).state == "ok" and view.runs_model.row_at(0).calls == run.calls
    assert shop.count_in_store() == (4, len(shop.variants))
    assert view.header.linked.value.text() == str(len(shop.variants))

    sku = next(iter(shop.variants))
    link = store_links.variant_links(sqlite_db, shop.connection_id)[shop.variants[sku]]
    storefront.set_stock(medusa, link.inventory_item_id, medusa.location_ids[0], 55)
    confirmations: list[str] = []
    view.confirm = lambda title, text: confirmations.append(text) or True   # type: ignore[method-assign]
    qtbot.mouseClick(view.header.reconcile_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.reconcile_dialog is not None and view.tasks.pending == 0, timeout=120_000)
    dialog = view.reconcile_dialog
    assert dialog.report.difference_count == 1 and dialog.report.differences[0].sku == sku
    dialog.fix_button.click()
    qtbot.waitUntil(lambda: view.tasks.pending == 0 and shop.ops.connectors.runs("shop")[0].summary.get("fix"),
                    timeout=120_000)
    assert confirmations and shop.store_stock() == shop.our_stock()
