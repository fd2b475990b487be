"""Barcode scanning: a field a USB scanner types into, and an in-order resolver of the scanned codes.

A USB barcode scanner is a keyboard: it types the code and presses Enter, often faster than a person
can read. :class:`ScanField` turns each Enter into one :attr:`ScanField.scanned` signal and is empty
again at once, ready for the next code. :class:`CodeResolver` looks codes up in the background and
hands the answers back in the order the codes were scanned, with a cache so that scanning the same item
ten times makes one query, not ten.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from backoffice.ui import resources, theme
from backoffice.ui.tasks import TaskManager

FLASH_MS = 700


class ScanField(QLineEdit):
    """A line edit for a scanner (or a person typing a SKU): Enter emits :attr:`scanned` with the code
    and clears the field. :meth:`flash_error` beeps and turns the field red for a moment."""

    scanned = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ScanField")
        self.setPlaceholderText(self.tr("Scan a barcode or type a SKU, then Enter"))
        self.setClearButtonEnabled(True)
        self.addAction(resources.icon("search", theme.TEXT_MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.setProperty("scanState", "")
        self._reset = QTimer(self)
        self._reset.setSingleShot(True)
        self._reset.setInterval(FLASH_MS)
        self._reset.timeout.connect(lambda: self._set_state(""))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            # Taken here, not passed on: in a dialog, Enter would also press the default button.
            event.accept()
            self._on_return()
            return
        super().keyPressEvent(event)

    def _on_return(self) -> None:
        code = self.text().strip()
        self.clear()
        if code:
            self.scanned.emit(code)

    @property
    def scan_state(self) -> str:
        """"" normally, "error" while the field flashes red after an unknown code."""
        return str(self.property("scanState") or "")

    def flash_error(self) -> None:
        QApplication.beep()
        self._set_state("error")
        self._reset.start()

    def _set_state(self, state: str) -> None:
        self.setProperty("scanState", state)
        self.style().unpolish(self)
        self.style().polish(self)


class CodeResolver(QObject):
    """Resolves scanned codes with ``lookup(code)`` on a worker, one at a time, and emits
    :attr:`resolved` ``(code, result)`` in scan order (``result`` None for an unknown code).

    Known answers are cached (and can be seeded with :meth:`remember`), so a burst of scans of codes
    already seen is answered at once, still in order behind any lookup under way."""

    resolved = Signal(str, object)
    failed = Signal(str, object)      # (code, exception): the lookup itself went wrong
    busy_changed = Signal(bool)

    def __init__(self, tasks: TaskManager, lookup: Callable[[str], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._lookup = lookup
        self._cache: dict[str, Any] = {}
        self._queue: deque[str] = deque()
        self._inflight = False

    @staticmethod
    def _key(code: str) -> str:
        return code.strip().casefold()

    def remember(self, code: str | None, result: Any) -> None:
        if code:
            self._cache[self._key(code)] = result

    def forget_all(self) -> None:
        self._cache.clear()

    @property
    def busy(self) -> bool:
        return self._inflight or bool(self._queue)

    def submit(self, code: str) -> None:
        was_busy = self.busy
        self._queue.append(code)
        self._pump()
        if self.busy != was_busy:
            self.busy_changed.emit(self.busy)

    def _pump(self) -> None:
        while self._queue and not self._inflight:
            code = self._queue[0]
            key = self._key(code)
            if key in self._cache:
                self._queue.popleft()
                self.resolved.emit(code, self._cache[key])
                continue
            self._inflight = True
            self._tasks.run_in_background(partial(self._lookup, code), self._on_result, self._on_error, context=self)

    def _on_result(self, result: Any) -> None:
        code = self._queue.popleft()
        self._inflight = False
        if result is not None:  # an unknown code may be created meanwhile: ask again next time
            self._cache[self._key(code)] = result
        self.resolved.emit(code, result)
        self._after()

    def _on_error(self, exc: BaseException) -> None:
        code = self._queue.popleft()
        self._inflight = False
        self.failed.emit(code, exc)
        self._after()

    def _after(self) -> None:
        self._pump()
        if not self.busy:
            self.busy_changed.emit(False)
