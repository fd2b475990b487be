"""The bulk edit dialog's words and warnings: numbers written out in full in what is stored, counts that
agree with their nouns, and rows priced below cost listed, counted and confirmed before Apply writes."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtWidgets import QMessageBox

from backoffice.db import Database
from backoffice.services import catalog, changesets
from backoffice.services.base import Actor
from backoffice.services.bulk import PriceStep, Target
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.bulk_dialog import BulkEditDialog, filter_label, selection_label
from backoffice.ui.views.products.bulk_editors import describe_operation, describe_step
from backoffice.ui.views.products.pending import PendingEdit, PendingEdits

D = Decimal
WAIT = 15_000


@settings(max_examples=300)
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=D("0"), max_value=D("99.99"), places=3),
       st.sampled_from(["percent", "from_cost", "add", "set", "round_step", "floor"]))
def test_steps_in_words_never_show_an_exponent(qapp, value, op) -> None:  # type: ignore[no-untyped-def]
    text = describe_step(PriceStep(op, value.normalize()))
    [number] = re.findall(r"\d[\d.]*", text)
    assert "E" not in text and D(number) == value
    if "." in number:
        decimals = number.split(".")[1]
        assert not decimals.endswith("0") or (op not in ("percent", "from_cost") and len(decimals) == 2)


@pytest.mark.parametrize("value", ["10", "20", "30", "100", "1000"])
def test_round_percentages_read_as_written(qapp, value) -> None:  # type: ignore[no-untyped-def]
    from backoffice.services.bulk import BulkOperation

    op = BulkOperation("money", "price", steps=(PriceStep("percent", D(value).normalize()),
                                                PriceStep("round_ending", D("0.99"))))
    assert describe_operation(op, "Price", {}) == f"Price: raise by {value} %, then round to ending .99"


def test_target_labels_agree_with_their_count(qapp) -> None:  # type: ignore[no-untyped-def]
    assert [selection_label(n) for n in (1, 5, 1234)] == \
        ["1 selected variant", "5 selected variants", "1,234 selected variants"]
    assert filter_label(1) == "the 1 variant matching the filter"
    assert filter_label(300) == "all 300 variants matching the filter"
    assert filter_label(None) == "all variants matching the filter"


def test_grid_edit_summary_agrees_with_its_count(qapp) -> None:  # type: ignore[no-untyped-def]
    pending = PendingEdits()
    a = PendingEdit("variant", 1, "price", "price", "SKU A", D("1.00"), D("2.00"), 1)
    pending.put([(a.key, a)])
    assert pending.summary() == "Grid edit of price on 1 row"
    b = PendingEdit("variant", 2, "price", "price", "SKU B", D("1.00"), D("2.00"), 1)
    pending.put([(b.key, b)])
    assert pending.summary() == "Grid edit of price on 2 rows"


def _open(qtbot, tasks, context, target: Target, label: str) -> BulkEditDialog:  # type: ignore[no-untyped-def]
    dialog = BulkEditDialog(context, tasks, target, label)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _wait_plan(qtbot, dialog: BulkEditDialog):  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: dialog.plan is not None and not dialog._planning and not dialog._debounce.isActive(),
                    timeout=WAIT)
    return dialog.plan


def test_description_of_a_selection_has_balanced_words(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                      db: Database, actor: Actor, store,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    context = connected_context(db, actor)
    ids = tuple(store.variant_ids)
    dialog = _open(qtbot, tasks, context, Target(variant_ids=ids), selection_label(len(ids)))
    dialog.money.rows[0].value.setText("10")
    plan = _wait_plan(qtbot, dialog)
    assert plan.affected == 3 and plan.below_cost == []
    assert dialog.summary.text() == "3 of 3 variants will change"
    assert not dialog.tabs.isTabVisible(3)
    with qtbot.waitSignal(context.data_changed, timeout=WAIT):
        dialog.apply_button.click()
    [latest] = changesets.list_changesets(db, limit=1)
    assert latest.description == "Price: raise by 10 % · 3 selected variants"
    assert "(s)" not in latest.description and latest.description.count("(") == latest.description.count(")")

    # the revert question quotes it: one pair of parentheses, closed once
    from backoffice.ui.views.products.changesets_panel import ChangesetsPanel

    panel = ChangesetsPanel(context, tasks)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.list_model.rowCount() == 1 and not panel.is_loading(), timeout=WAIT)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text)
                        or QMessageBox.StandardButton.Cancel)
    panel.revert_button.click()
    assert asked[0].splitlines()[0] == f"Revert changeset #{latest.id} (Price: raise by 10 % · 3 selected variants)?"


def test_prices_below_cost_are_counted_listed_and_confirmed(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                           db: Database, actor: Actor, store,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cap = catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap"},
                                 variants=[{"sku": "CAP-1", "price": "15.00", "cost": "5.00"}])
    ids = (*store.variant_ids, cap.children[0].entity_id)
    context = connected_context(db, actor)
    dialog = _open(qtbot, tasks, context, Target(variant_ids=ids), selection_label(len(ids)))
    dialog.money.rows[0].kind.setCurrentIndex(dialog.money.rows[0].kind.findData("set"))
    dialog.money.rows[0].value.setText("20")     # below the 21.00 cost of MC-*, above the 5.00 of CAP-1
    plan = _wait_plan(qtbot, dialog)
    assert plan.affected == 4 and len(plan.below_cost) == 3
    # counted and listed, a warning (not an error): Apply stays enabled
    assert dialog.tabs.isTabVisible(3) and dialog.tabs.tabText(3) == "Below cost (3)"
    assert dialog.tabs.currentWidget() is dialog.below_cost_table
    assert [r[0] for r in dialog.below_cost_model.rows] == ["SKU MC-S", "SKU MC-M", "SKU MC-L"]
    assert dialog.banner.property("level") == "warning"
    assert "3 rows would be priced below their cost" in dialog.banner.text.text()
    assert dialog.apply_button.isEnabled()

    asked: list[str] = []

    def refuse(parent, title, text, *args):  # type: ignore[no-untyped-def]
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "warning", refuse)
    dialog.apply_button.click()
    assert len(asked) == 1 and "SKU MC-S" in asked[0] and "Apply the change anyway?" in asked[0]
    assert changesets.list_changesets(db) == []      # refused: nothing written
    assert "Nothing was applied" in dialog.banner.text.text()

    monkeypatch.setattr(QMessageBox, "warning", lambda *args: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(context.data_changed, timeout=WAIT):
        dialog.apply_button.click()
    assert dialog.result is not None and dialog.result.applied_rows == 4
    prices = {v["sku"]: v["price"] for v in catalog.get_product(db, store.product.entity_id)["variants"]}
    assert prices == {"MC-S": "20.00", "MC-M": "20.00", "MC-L": "20.00"}


def test_one_row_reads_in_the_singular(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                       db: Database, actor: Actor, store) -> None:
    dialog = _open(qtbot, tasks, connected_context(db, actor), Target(variant_ids=(store.variant_ids[0],)),
                   selection_label(1))
    assert dialog.target_text.text() == "1 selected variant"
    dialog.money.rows[0].kind.setCurrentIndex(dialog.money.rows[0].kind.findData("set"))
    dialog.money.rows[0].value.setText("20")      # below the 21.00 cost
    _wait_plan(qtbot, dialog)
    assert dialog.summary.text() == "1 of 1 variant will change"
    assert dialog.apply_button.text() == "Apply to 1 row"
    assert "1 row would be priced below its cost." in dialog.banner.text.text()
