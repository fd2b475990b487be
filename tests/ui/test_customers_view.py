"""The Customers view on a real database: the list and its count as the service counts them, the search,
a customer's details and orders; an edit saved, an edit over someone else's newer save refused with the
conflict shown and the form read again; the data exported as JSON; erasure that clears the details and
keeps the orders. On SQLite: what these screens do does not depend on the database (tests/test_orders.py
runs the customer services on both)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import Customer, Order
from backoffice.services import customers, orders
from backoffice.services.base import Actor
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.customers import CustomersView
from backoffice.ui.views.customers.models import COL_EMAIL, COL_LAST, COL_NAME, COL_ORDERS, COL_VALUE


def add_customer(db: Database, email: str, name: str = "", *, order_totals: tuple[str, ...] = ()) -> int:
    """A customer as the store writes them, with orders of these totals."""
    with db.write() as session:
        row = Customer(email=email, name=name, country="FR", age_band="35-44", phone="+33 1 23 45 67 89",
                       address="1 rue de la Paix\n75002 Paris")
        session.add(row)
        session.flush()
        for i, total in enumerate(order_totals):
            session.add(Order(number=f"SO-{row.id:03d}{i}", customer_id=row.id, ordered_at=orders.utcnow(),
                              status="paid", total=Decimal(total), channel="web"))
        return row.id


def wait_idle(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=10_000)


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor: Actor, *, page_size: int = 200) -> CustomersView:
        view = CustomersView(connected_context(db, actor), tasks, page_size=page_size)
        qtbot.addWidget(view)
        view.resize(1200, 800)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        return view

    return open_


def test_the_list_counts_as_the_service_and_searches(qtbot, sqlite_db, sqlite_actor, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(sqlite_db, sqlite_actor)
    assert view.results.currentWidget() is view.empty and view.empty.title.text() == "No customers yet"
    ada = add_customer(sqlite_db, "ada@example.com", "Ada Lovelace", order_totals=("100.00", "1234.50"))
    add_customer(sqlite_db, "bob@example.com")
    add_customer(sqlite_db, "cy@shop.example", "Cy Young")
    view = open_view(sqlite_db, sqlite_actor, page_size=2)
    assert view.total == customers.count_customers(sqlite_db) == 3
    assert view.count_label.text() == "3 customers · 2 shown" and view.more_button.isVisible()
    view.load_more()
    wait_idle(qtbot, view)
    assert view.model.rowCount() == 3 and view.count_label.text() == "3 customers"
    row = view.model.row_of_id(ada)
    assert (view.model.display(row, COL_NAME), view.model.display(row, COL_EMAIL)) == ("Ada Lovelace", "ada@example.com")
    assert view.model.display(row, COL_ORDERS) == "2" and view.model.display(row, COL_VALUE) == "€1,334.50"
    assert view.model.display(row, COL_LAST) != "" and view.model.display(view.model.row_of_id(ada) - 1, COL_NAME) == "—"

    view.search.setText("EXAMPLE.COM")
    qtbot.waitUntil(lambda: view.total == 2 and not view.is_loading(), timeout=5_000)
    assert view.total == customers.count_customers(sqlite_db, search="EXAMPLE.COM") == view.model.rowCount()
    view.search.setText("nobody")
    qtbot.waitUntil(lambda: view.results.currentWidget() is view.empty, timeout=5_000)
    assert view.empty.title.text() == "No customer matches" and view.count_label.text() == "0 customers"
    view.empty.action.click()
    qtbot.waitUntil(lambda: view.total == 3 and not view.is_loading(), timeout=5_000)

    assert view.model.row_of_id(ada) < 0           # the oldest: on the second page again
    view.load_more()
    wait_idle(qtbot, view)
    view.select_customer(ada)
    wait_idle(qtbot, view)
    panel = view.panel
    assert panel.heading.text() == "Ada Lovelace" and panel.fields["phone"].text() == "+33 1 23 45 67 89"
    assert panel.stats.text() == "2 orders · lifetime value €1,334.50 · 0 returns"
    assert [r.customer_id for r in panel.orders.rows] == [ada, ada] and panel.orders.display(0, 4) == "1,234.50 EUR"


def test_an_edit_over_a_newer_save_shows_the_conflict_and_reads_the_customer_again(qtbot, sqlite_db, sqlite_actor,
                                                                                    open_view) -> None:  # type: ignore[no-untyped-def]
    cid = add_customer(sqlite_db, "ada@example.com", "Ada Lovelace")
    view = open_view(sqlite_db, sqlite_actor)
    panel = view.panel
    dialog = panel.open_edit()
    assert dialog.name.text() == "Ada Lovelace" and dialog.country.text() == "FR"
    customers.update_customer(sqlite_db, sqlite_actor, cid, expected_version=1, values={"name": "Ada King", "phone": "+44 20 1"})
    dialog.name.setText("Augusta Ada")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.name.text() == "Ada King", timeout=5_000)   # theirs, read again
    assert dialog.isVisible() and "Someone else changed Ada Lovelace" in dialog.banner.text.text()
    assert dialog.banner.level == "error" and dialog.phone.text() == "+44 20 1"
    assert customers.get_customer(sqlite_db, cid).name == "Ada King"                  # not written over
    dialog.name.setText("Augusta Ada King")
    assert dialog.changed_values() == {"name": "Augusta Ada King"}             # only what was changed
    dialog.save_button.click()
    wait_idle(qtbot, view)
    info = customers.get_customer(sqlite_db, cid)
    assert (info.name, info.phone, info.version) == ("Augusta Ada King", "+44 20 1", 3)
    assert panel.heading.text() == "Augusta Ada King" and "saved" in view.banner.text.text()
    assert view.model.display(view.model.row_of_id(cid), COL_NAME) == "Augusta Ada King"


def test_export_then_erase_clears_the_details_and_keeps_the_orders(qtbot, sqlite_db, sqlite_actor, open_view,
                                                                    tmp_path) -> None:  # type: ignore[no-untyped-def]
    keep = add_customer(sqlite_db, "bob@example.com", "Bob")
    cid = add_customer(sqlite_db, "ada@example.com", "Ada Lovelace", order_totals=("80.00",))
    view = open_view(sqlite_db, sqlite_actor)
    panel = view.panel
    assert panel.info.id == cid
    path = tmp_path / "ada.json"
    panel.export_to(str(path))
    wait_idle(qtbot, view)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["customer"]["email"] == "ada@example.com" and [o["total"] for o in data["orders"]] == ["80.00"]
    assert str(path) in view.banner.text.text()

    dialog = panel.open_erase()
    texts = " ".join(label.text() for label in dialog.findChildren(type(panel.heading)))
    assert "Removed:" in texts and "e-mail address" in texts and "Kept" in texts and "1 order " in texts
    dialog.erase_button.click()
    wait_idle(qtbot, view)
    with sqlite_db.read() as session:
        row = session.get(Customer, cid)
        assert (row.name, row.email, row.phone, row.address, row.country) == ("", None, "", "", "FR")
        assert row.erased_at is not None
        assert session.scalar(select(Order.total).where(Order.customer_id == cid)) == Decimal("80.00")
    assert panel.info.id == cid and panel.heading.text() == "Erased customer" and panel.erased_pill.isVisible()
    assert [panel.fields[k].text() for k in ("email", "phone", "address")] == ["—", "—", "—"]
    assert not panel.edit_button.isEnabled() and not panel.erase_button.isEnabled()
    assert [r.id for r in view.model.rows] == [keep] and view.total == 1   # erased customers are not listed
    view.show_erased.setChecked(True)
    wait_idle(qtbot, view)
    assert view.total == 2 and view.model.display(view.model.row_of_id(cid), COL_NAME) == "Erased customer"
