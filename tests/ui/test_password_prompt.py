"""The password prompt asked from a worker thread is shown on the GUI thread; the worker waits, not the GUI."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QWidget

from backoffice.ui.dialogs.password import PasswordDialog, PasswordPrompter

KEY = "postgresql://staff@db.shop.lan:5432/shop"


def test_a_worker_gets_the_password_typed_on_the_gui_thread(qtbot, tasks) -> None:  # type: ignore[no-untyped-def]
    parent = QWidget()
    qtbot.addWidget(parent)
    prompter = PasswordPrompter(parent)
    asked_from: list[int] = []
    answers: list[str | None] = []

    def worker() -> str | None:
        asked_from.append(threading.get_ident())
        return prompter(KEY)

    with qtbot.waitSignal(prompter.asked, timeout=5_000) as blocker:
        tasks.run_in_background(worker, answers.append)
    dialog: PasswordDialog = blocker.args[0]
    assert dialog.isVisible()
    assert asked_from[0] != threading.get_ident()
    assert tasks.pending == 1  # the worker is still waiting for the answer
    qtbot.keyClicks(dialog.password, "s3cret")
    dialog.accept()
    assert tasks.wait_idle(5_000)
    assert answers == ["s3cret"]
    assert prompter.wants_keyring(KEY)


def test_cancelling_the_dialog_answers_none(qtbot, tasks) -> None:  # type: ignore[no-untyped-def]
    prompter = PasswordPrompter()
    answers: list[str | None] = []
    with qtbot.waitSignal(prompter.asked, timeout=5_000) as blocker:
        tasks.run_in_background(lambda: prompter(KEY), answers.append)
    blocker.args[0].remember.setChecked(False)
    blocker.args[0].reject()
    assert tasks.wait_idle(5_000)
    assert answers == [None]
    assert not prompter.wants_keyring(KEY)


def test_cancel_all_releases_waiting_workers(qtbot, tasks) -> None:  # type: ignore[no-untyped-def]
    prompter = PasswordPrompter()
    answers: list[str | None] = []
    with qtbot.waitSignal(prompter.asked, timeout=5_000):
        tasks.run_in_background(lambda: prompter(KEY), answers.append)
    prompter.cancel_all()  # application exit
    assert tasks.wait_idle(5_000)
    assert answers == [None]
    assert prompter(KEY) is None  # and no new question is asked after that
