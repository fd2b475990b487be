"""The strip at the bottom of the main window that shows the current long job, with a Cancel button."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from backoffice.ui.tasks import TaskManager, TaskState


class ProgressPanel(QFrame):
    """Follows the newest long job of a TaskManager; hidden when none runs.

    Only jobs started with ``run_in_background(..., state=...)`` appear; quick queries do not.
    """

    def __init__(self, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ProgressPanel")
        self._tasks = tasks
        self._state: TaskState | None = None

        self.title = QLabel()
        self.title.setObjectName("ProgressTitle")
        self.status = QLabel()
        self.status.setObjectName("Muted")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(280)
        self.percent = QLabel()
        self.percent.setObjectName("Muted")
        self.percent.setMinimumWidth(40)
        self.percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.status)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 10, 20, 10)
        layout.setSpacing(14)
        layout.addLayout(text, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.percent)
        layout.addWidget(self.cancel_button)

        tasks.job_started.connect(self._follow)
        tasks.job_finished.connect(self._on_finished)
        self.hide()

    @property
    def state(self) -> TaskState | None:
        return self._state

    def cancel(self) -> None:
        if self._state is not None:
            self._state.cancel()

    def _follow(self, state: TaskState) -> None:
        if self._state is not None and shiboken6.isValid(self._state):
            for signal, slot in ((self._state.progress_changed, self._on_progress),
                                 (self._state.status_changed, self.status.setText),
                                 (self._state.cancel_requested, self._on_cancel_requested)):
                signal.disconnect(slot)
        self._state = state
        state.progress_changed.connect(self._on_progress)
        state.status_changed.connect(self.status.setText)
        state.cancel_requested.connect(self._on_cancel_requested)
        self.title.setText(state.title)
        self.status.setText(state.status)
        self._on_progress(state.progress)
        self.cancel_button.setVisible(state.cancellable)
        self.cancel_button.setEnabled(not state.cancelled())
        self.cancel_button.setText(self.tr("Cancel"))
        self.show()

    def _on_progress(self, fraction: float) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.percent.setText(f"{fraction:.0%}")

    def _on_cancel_requested(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText(self.tr("Cancelling…"))

    def _on_finished(self, state: TaskState) -> None:
        if state is not self._state:
            return
        self._state = None
        remaining = [s for s in self._tasks.jobs if shiboken6.isValid(s)]
        if remaining:
            self._follow(remaining[-1])
        else:
            self.hide()
