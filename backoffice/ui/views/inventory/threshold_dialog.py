"""Set the low-stock threshold and reorder point of one variant at one location."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.stock import StockRow
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.records import MAX_QTY


def _spin(value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(0, MAX_QTY)
    box.setGroupSeparatorShown(True)
    box.setValue(value)
    return box


class ThresholdDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, row: StockRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.row = context, tasks, row
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(self.tr("Low-stock threshold"))
        self.setMinimumWidth(440)
        heading = QLabel(f"{row.sku} · {row.title}")
        heading.setObjectName("DetailsTitle")
        heading.setWordWrap(True)
        where = QLabel(self.tr("At {location}: {available} available now").format(
            location=row.location, available=format_qty(row.available)))
        where.setObjectName("Muted")
        self.use_defaults = QCheckBox(self.tr("Use the default rules (category, location, store)"))
        self.threshold = _spin(row.threshold if row.threshold is not None else 0)
        self.threshold.setToolTip(self.tr("An alert opens when the available stock falls to this number or below"))
        self.reorder_point = _spin(row.reorder_point or 0)
        self.use_defaults.toggled.connect(lambda on: self.threshold.setEnabled(not on))
        self.banner = MessageBanner()
        form = QFormLayout()
        form.addRow("", self.use_defaults)
        form.addRow(self.tr("Low at or below"), self.threshold)
        form.addRow(self.tr("Reorder point"), self.reorder_point)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(where)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)

    def save(self) -> None:
        row = self.row
        threshold = None if self.use_defaults.isChecked() else self.threshold.value()
        reorder = self.reorder_point.value()
        if self.runner.write(lambda ops: ops.alerts.set_threshold(row.variant_id, row.location_id, threshold=threshold,
                                                                  reorder_point=reorder),
                             self._on_saved, on_error=self._on_failed):
            self.save_button.setEnabled(False)

    def _on_saved(self, _result: object) -> None:
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.banner.show_message(self.tr("The threshold was not saved: {error}").format(error=error_text(exc)), "error")
