"""File → Switch user…: on a shared database it asks the window's connector for someone else to sign in,
first asking whether to discard the Products view's staged edits when there are any; on a personal file
it is disabled (one owner). The sign-in itself is tested in test_sign_in_remember."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtWidgets import QMessageBox

from backoffice.config import ProfileStore
from backoffice.operations import LocalOperations
from backoffice.secrets import SecretStore
from backoffice.services.demo import generate_demo
from backoffice.ui.context import AppContext
from backoffice.ui.main_window import MainWindow
from backoffice.ui.views.products.columns import INDEX


@pytest.fixture
def window(qtbot, tasks, ui_settings, sqlite_db, sqlite_actor) -> MainWindow:  # type: ignore[no-untyped-def]
    generate_demo(sqlite_db, sqlite_actor, products=10, seed=5)
    context = AppContext()
    context.set_connected(LocalOperations(sqlite_db, sqlite_actor))
    context.personal_file = False          # as if on a shared database
    window = MainWindow(context, tasks, settings=ui_settings, profiles=ProfileStore(), secrets=SecretStore())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    view = window.view("products")
    qtbot.waitUntil(lambda: not view.is_loading() and view.model.total is not None, timeout=15_000)
    return window


def button(box: QMessageBox, text: str):  # type: ignore[no-untyped-def]
    return next(b for b in box.buttons() if b.text() == text)


def test_without_staged_edits_switching_asks_nothing(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    asked: list[bool] = []
    window.switch_user_requested.connect(lambda: asked.append(True))
    assert window.switch_user_action.isEnabled()
    window.switch_user_action.trigger()
    assert asked == [True] and getattr(window, "switch_confirmation", None) is None


def test_staged_edits_are_discarded_only_when_the_person_agrees(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    asked: list[bool] = []
    window.switch_user_requested.connect(lambda: asked.append(True))
    model = window.view("products").model
    model.setData(model.index(0, INDEX["price"]), Decimal("9.99"))
    assert len(model.pending) == 1

    window.switch_user_action.trigger()
    box = window.switch_confirmation
    assert box.isVisible() and box.text() == "The Products view has 1 staged change that is not applied yet."
    button(box, "Cancel").click()
    qtbot.waitUntil(lambda: window.switch_confirmation is None, timeout=2_000)
    assert asked == [] and len(model.pending) == 1

    window.switch_user_action.trigger()
    button(window.switch_confirmation, "Discard and switch user").click()
    qtbot.waitUntil(lambda: asked == [True], timeout=2_000)
