"""How reorder points are computed, store-wide: what counts as demand (units shipped or units ordered),
the sales window and how fast old days fade, the service
level behind the safety stock, the review period, the lead time used when no supplier gives one, and the
location that store orders ship from, and how many days of cover a line may order before it is flagged.
Read and saved in the background through the operations contract."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.replenishment import ReplenishmentSettings, SavedSettings
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner


def _days(low: int, high: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSuffix(" d")
    return spin


class ReplenishmentSettingsDialog(QDialog):
    saved = Signal(object)   # the ReplenishmentSettings now in force

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(self.tr("Reorder point settings"))
        self.setMinimumWidth(460)
        self.banner = MessageBanner()
        intro = QLabel(self.tr("Daily demand is the weighted mean of the window's sales, newer days counting more; "
                               "safety stock = z × σ × √(lead time) for the service level. Levels set by hand on "
                               "an item still win."))
        intro.setWordWrap(True)
        intro.setObjectName("Muted")
        self.window = _days(7, 730)
        self.half_life = QDoubleSpinBox()
        self.half_life.setRange(1, 365)
        self.half_life.setDecimals(1)
        self.half_life.setSuffix(" d")
        self.service_level = QDoubleSpinBox()
        self.service_level.setRange(50.0, 99.9)
        self.service_level.setDecimals(1)
        self.service_level.setSuffix(" %")
        self.z_label = QLabel()
        self.z_label.setObjectName("Muted")
        self.service_level.valueChanged.connect(self._show_z)
        self.review = _days(0, 365)
        self.lead_time = _days(0, 730)
        self.max_cover = _days(1, 3650)
        self.max_cover.setToolTip(self.tr("A suggested line that lasts longer than this at the daily demand (or that "
                                          "has no demand at all) is flagged with the reason"))
        self.fulfilment = QComboBox()
        self.fulfilment.addItem(self.tr("The first active warehouse"), None)
        self.basis = QComboBox()
        self.basis.addItem(self.tr("Units shipped, where they left from"), "fulfilled")
        self.basis.addItem(self.tr("Units ordered, where they are reserved or shipped"), "ordered")
        self.basis.setToolTip(self.tr("Shipped: every move to a customer, on the day it left (returns are not "
                                      "negative demand). Ordered: order lines on the day they were placed, cancelled "
                                      "units left out; units not yet reserved or shipped count at the location store "
                                      "orders ship from"))
        form = QFormLayout()
        form.addRow(self.tr("Demand"), self.basis)
        form.addRow(self.tr("Sales window"), self.window)
        form.addRow(self.tr("Half-life of a day's weight"), self.half_life)
        form.addRow(self.tr("Service level"), self.service_level)
        form.addRow("", self.z_label)
        form.addRow(self.tr("Review period"), self.review)
        form.addRow(self.tr("Lead time without a supplier's"), self.lead_time)
        form.addRow(self.tr("Store orders ship from"), self.fulfilment)
        form.addRow(self.tr("Flag lines with more cover than"), self.max_cover)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.buttons.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._load()

    def is_loading(self) -> bool:
        return not self.buttons.isEnabled()

    def _load(self) -> None:
        self.runner.read(lambda ops: (ops.replenishment.settings(), ops.stock.locations()), self._show,
                         on_error=self._load_failed)

    def _load_failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")   # nothing to save over: Save stays disabled

    def _show(self, loaded: tuple[ReplenishmentSettings, list[dict[str, Any]]]) -> None:
        current, locations = loaded
        for loc in locations:
            if loc["kind"] in ("warehouse", "store") and loc.get("active", True):
                self.fulfilment.addItem(f"{loc['code']} · {loc['name']}", loc["id"])
        self.window.setValue(current.window_days)
        self.half_life.setValue(float(current.half_life_days))
        self.service_level.setValue(float(current.service_level) * 100)
        self.review.setValue(current.review_days)
        self.lead_time.setValue(current.default_lead_time_days)
        self.max_cover.setValue(current.max_cover_days)
        self.fulfilment.setCurrentIndex(max(0, self.fulfilment.findData(current.fulfilment_location_id)))
        self.basis.setCurrentIndex(max(0, self.basis.findData(current.demand_basis)))
        self._show_z()
        self.buttons.setEnabled(True)

    def _show_z(self) -> None:
        level = self.service_level.value() / 100
        self.z_label.setText(self.tr("z = {z:.2f}: stock-outs in about {pct:.1f} % of lead times").format(
            z=NormalDist().inv_cdf(level), pct=100 - self.service_level.value()))

    def current_settings(self) -> ReplenishmentSettings:
        return ReplenishmentSettings(
            window_days=self.window.value(), half_life_days=round(self.half_life.value(), 1),
            service_level=round(self.service_level.value() / 100, 4), review_days=self.review.value(),
            default_lead_time_days=self.lead_time.value(), fulfilment_location_id=self.fulfilment.currentData(),
            max_cover_days=self.max_cover.value(), demand_basis=self.basis.currentData())

    def save(self) -> None:
        chosen = self.current_settings()
        self.buttons.setEnabled(False)
        if not self.runner.write(lambda ops: ops.replenishment.save_settings(chosen), self._saved,
                                 on_error=self._failed):
            self.buttons.setEnabled(True)

    def _saved(self, result: SavedSettings) -> None:
        self.saved.emit(result.settings)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.banner.show_message(error_text(exc), "error")
