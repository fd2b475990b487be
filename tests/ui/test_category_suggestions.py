"""The "Suggest categories" dialog on a demo store: suggestions learnt in the background, the held-out
accuracy shown, untick some, Apply writes exactly the ticked ones as one changeset; the Merchandising
menu opens it; the item model alone."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Changeset, Product
from backoffice.services import changesets, classifier
from backoffice.services.base import Actor
from backoffice.services.changesets import RowChange
from backoffice.services.classifier import Suggestion
from backoffice.services.demo import generate_demo
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.category_suggestions import CategorySuggestionsDialog, SuggestionsModel

pytestmark = pytest.mark.skipif(not classifier.sklearn_available(), reason="scikit-learn is not installed")
WAIT = 60_000


def _suggestion(pid: int, category_id: int | None, tags: list[str]) -> Suggestion:
    return Suggestion(pid, 3, f"p-{pid}", f"Product {pid}", None, "", category_id,
                      "A > B" if category_id else "", 0.734, [], tags, [0.81] * len(tags),
                      "" if category_id else "already in the suggested category")


def test_model_shows_confidence_as_percent_and_accepts_the_ticked_rows(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = SuggestionsModel()
    model.set_rows([_suggestion(1, 7, []), _suggestion(2, None, ["sale"]), _suggestion(3, 9, ["new"])])
    assert model.rowCount() == 3
    assert model.data(model.index(0, SuggestionsModel.CONFIDENCE)).replace("\xa0", " ") == "73 %"
    assert model.data(model.index(1, SuggestionsModel.CONFIDENCE)) == ""      # no category suggested
    assert "sale" in model.data(model.index(1, SuggestionsModel.TAGS))
    from PySide6.QtCore import Qt

    model.setData(model.index(1, 0), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert [(a.product_id, a.category_id, a.tags) for a in model.accepted()] == [(1, 7, ()), (3, 9, ("new",))]
    model.set_all(False)
    assert model.accepted() == []


def test_dialog_suggests_shows_accuracy_and_applies_the_ticked_suggestions(  # type: ignore[no-untyped-def]
        qtbot, tasks: TaskManager, connected_context, sqlite_db: Database, sqlite_actor: Actor) -> None:
    db, actor = sqlite_db, sqlite_actor
    generate_demo(db, actor, products=300, seed=7, anchor=dt.date(2025, 6, 30))
    with db.read() as s:
        rows = s.execute(select(Product.id, Product.version).where(Product.id <= 30)).all()
    changesets.apply_changes(db, actor, [RowChange("product", pid, v, {"category_id": None}) for pid, v in rows],
                             description="categories removed")
    context = connected_context(db, actor)
    dialog = CategorySuggestionsDialog(context, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.capabilities is not None and dialog.suggest_button.isEnabled(), timeout=WAIT)
    dialog.suggest()
    assert dialog.cancel_button.isVisible()
    qtbot.waitUntil(lambda: dialog.run is not None and not dialog.busy, timeout=WAIT)
    run = dialog.run
    with db.read() as s:
        uncategorised = s.scalar(select(func.count()).select_from(Product).where(
            Product.category_id.is_(None), Product.status != "archived"))
    assert run.considered == uncategorised >= 20 and run.evaluation is not None
    assert "held out" in dialog.accuracy.text()
    assert dialog.model.rowCount() == len(run.suggestions) > 1
    # untick the first suggestion: it is not written
    dialog.model.checked[0] = False
    dialog._update_buttons()
    ticked = dialog.model.accepted()
    assert dialog.apply_button.text() == f"Apply {len(ticked)} suggestion" + ("s" if len(ticked) != 1 else "")
    with db.read() as s:
        before = s.scalar(select(func.count()).select_from(Changeset))
    dialog.apply()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Changeset)) == before + 1
        stored = dict(s.execute(select(Product.id, Product.category_id).where(Product.id <= 30)).all())
    assert all(stored[a.product_id] == a.category_id for a in ticked if a.category_id is not None)
    assert stored[run.suggestions[0].product_id] is None or run.suggestions[0].category_id is None
    assert dialog.banner.level == "success" and "as changeset" in dialog.banner.text.text()


def test_merchandising_menu_opens_the_dialog(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                             sqlite_db: Database, sqlite_actor: Actor) -> None:
    from PySide6.QtWidgets import QMenu

    from backoffice.ui.views.products.merchandising import fill_merchandising_menu

    from PySide6.QtWidgets import QWidget

    from backoffice.operations.catalog import VariantFilter

    class FakeView(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.context = connected_context(sqlite_db, sqlite_actor)
            self.tasks = tasks
            self.loader = type("L", (), {"filter": VariantFilter()})()
            self.model = type("M", (), {"total": 0})()
            self.dialog = None

        def selected_variant_ids(self) -> list[int]:
            return []

    view = FakeView()
    qtbot.addWidget(view)
    menu = QMenu()
    fill_merchandising_menu(view, menu)  # type: ignore[arg-type]
    action = next(a for a in menu.actions() if a.text() == "Suggest categories…")
    action.trigger()
    assert isinstance(view.dialog, CategorySuggestionsDialog)
    qtbot.waitUntil(lambda: view.dialog.capabilities is not None, timeout=WAIT)
    assert not view.dialog.filtered.isVisibleTo(view.dialog)     # no filter on the grid: not offered
    view.dialog.done(0)


def test_without_scikit_learn_the_dialog_says_what_is_needed(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                             sqlite_db: Database, sqlite_actor: Actor,
                                                             monkeypatch) -> None:
    """The desktop bundle leaves scikit-learn out: the dialog says so and offers nothing to run."""
    monkeypatch.setattr(classifier, "sklearn_available", lambda: False)
    dialog = CategorySuggestionsDialog(connected_context(sqlite_db, sqlite_actor), tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.capabilities is not None, timeout=WAIT)
    assert dialog.capabilities.suggestions is False
    assert dialog.banner.level == "error" and "pip" in dialog.banner.text.text()
    assert not dialog.suggest_button.isEnabled() and not dialog.apply_button.isEnabled()
