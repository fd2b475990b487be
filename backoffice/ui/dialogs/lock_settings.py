"""How long the window may sit without input before it locks itself (File → Lock settings…)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QVBoxLayout, QWidget

from backoffice.ui.lock import MAX_IDLE_MINUTES
from backoffice.ui.widgets.rows import heading, muted


class LockSettingsDialog(QDialog):
    """One spin box: minutes without input before locking (0: never). The caller saves :meth:`minutes`
    when the dialog is accepted."""

    def __init__(self, minutes: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Lock settings"))
        self.setMinimumWidth(420)
        self.spin = QSpinBox()
        self.spin.setRange(0, MAX_IDLE_MINUTES)
        self.spin.setSuffix(self.tr(" min"))
        self.spin.setSpecialValueText(self.tr("Never"))
        self.spin.setValue(minutes)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        form = QFormLayout()
        form.addRow(self.tr("Lock after idle for"), self.spin)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(heading(self.tr("Lock the window when idle")))
        layout.addWidget(muted(self.tr("Without keyboard or mouse input for this long, the window locks; your "
                                       "password unlocks it with everything as you left it. 0 never locks.")))
        layout.addLayout(form)
        layout.addWidget(buttons)

    def minutes(self) -> int:
        return self.spin.value()
