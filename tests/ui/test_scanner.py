"""The scan field (a USB scanner types a code, then Enter) and the in-order code resolver."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QPushButton, QVBoxLayout

from backoffice.ui.widgets.scanner import CodeResolver, ScanField


def test_enter_emits_the_code_and_clears_the_field(qtbot) -> None:  # type: ignore[no-untyped-def]
    field = ScanField()
    qtbot.addWidget(field)
    codes: list[str] = []
    field.scanned.connect(codes.append)
    qtbot.keyClicks(field, "  4006381333931 ")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert codes == ["4006381333931"]
    assert field.text() == ""
    qtbot.keyClicks(field, "MC-S")
    qtbot.keyClick(field, Qt.Key.Key_Enter)  # the keypad's Enter, as some scanners send
    assert codes == ["4006381333931", "MC-S"]
    qtbot.keyClick(field, Qt.Key.Key_Return)  # an empty Enter is no scan
    assert codes == ["4006381333931", "MC-S"]


def test_enter_in_a_dialog_does_not_press_its_default_button(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = QDialog()
    qtbot.addWidget(dialog)
    field = ScanField()
    ok = QPushButton("Post")
    ok.setDefault(True)
    pressed: list[bool] = []
    ok.clicked.connect(lambda: pressed.append(True))
    layout = QVBoxLayout(dialog)
    layout.addWidget(field)
    layout.addWidget(ok)
    dialog.show()
    field.setFocus()
    codes: list[str] = []
    field.scanned.connect(codes.append)
    qtbot.keyClicks(field, "MC-M")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert codes == ["MC-M"] and pressed == [] and dialog.isVisible()


def test_flash_error_beeps_and_turns_red_for_a_moment(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    beeps: list[bool] = []
    monkeypatch.setattr("backoffice.ui.widgets.scanner.QApplication.beep", lambda: beeps.append(True))
    field = ScanField()
    qtbot.addWidget(field)
    field.flash_error()
    assert beeps == [True] and field.scan_state == "error"
    qtbot.waitUntil(lambda: field.scan_state == "", timeout=3_000)


def test_resolver_answers_in_scan_order_and_caches(qtbot, tasks) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    threads: set[int] = set()

    def lookup(code: str):  # type: ignore[no-untyped-def]
        calls.append(code)
        threads.add(threading.get_ident())
        time.sleep(0.05 if code == "SLOW" else 0)
        return None if code == "NOPE" else {"code": code}

    resolver = CodeResolver(tasks, lookup)
    answers: list[tuple[str, object]] = []
    resolver.resolved.connect(lambda code, result: answers.append((code, result)))
    for code in ("SLOW", "A", "SLOW", "NOPE", "a", "SLOW"):
        resolver.submit(code)
    qtbot.waitUntil(lambda: len(answers) == 6, timeout=5_000)
    assert [c for c, _ in answers] == ["SLOW", "A", "SLOW", "NOPE", "a", "SLOW"]
    assert answers[3][1] is None and answers[4][1] == {"code": "A"}  # codes compare ignoring case
    assert calls == ["SLOW", "A", "NOPE"]  # each known code looked up once
    assert threading.get_ident() not in threads
    assert not resolver.busy
