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

from backoffice.services import alerts
from backoffice.services.stock_query import StockRow
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.common import MAX_QTY, error_text, format_qty
from backoffice.ui.widgets.banner import MessageBanner


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
        db, actor, row = self.context.db, self.context.actor, self.row
        if db is None or actor is None:
            return
        threshold = None if self.use_defaults.isChecked() else self.threshold.value()
        reorder = self.reorder_point.value()
        self.save_button.setEnabled(False)
        self.tasks.run_in_background(
            lambda: alerts.set_threshold(db, actor, variant_id=row.variant_id, location_id=row.location_id,
                                         threshold=threshold, reorder_point=reorder),
            self._on_saved, self._on_failed, context=self)

    def _on_saved(self, _result: object) -> None:
        self.context.notify_data_changed()
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.banner.show_message(self.tr("The threshold was not saved: {error}").format(error=error_text(exc)), "error")
