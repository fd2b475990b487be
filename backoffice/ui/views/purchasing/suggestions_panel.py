"""Replenishment suggestions: what to reorder at each location and why, with totals per supplier and
currency, and the step that turns the selected ones (or all orderable ones) into draft purchase orders,
one per supplier and destination, after the buyer confirmed a summary of what will be written.

The suggestions are computed through the operations contract in the background; creating drafts too,
with an operation id made once per click so a double click creates once. The service counts drafts as on order, so after the
drafts exist the suggestions are gone from the list. Lines that order more days of cover than the
setting (or that have no demand at all) are flagged ⚑ with the reason.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from functools import partial
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.replenishment import (
    DraftsPlan,
    DraftsResult,
    Suggestion,
    currency_totals,
    plan_drafts,
    supplier_totals,
)
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_amount, format_qty
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.purchasing.dialogs import OverrideDialog
from backoffice.ui.views.purchasing.settings_dialog import ReplenishmentSettingsDialog
from backoffice.ui.views.purchasing.models import (
    COL_PRODUCT,
    SUGGESTION_COLUMNS,
    TOTAL_COLUMNS,
    suggestion_tooltip,
    suggestions_model,
    totals_model,
)
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.pills import elide_sku_columns
from backoffice.ui.widgets.records import setup_table


class SuggestionsPanel(QWidget):
    message = Signal(str, str)           # text, level: for the view's banner
    drafts_created = Signal(object)      # DraftsResult
    loading_changed = Signal(bool)

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self._generation = 0
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self.runner.busy_changed.connect(lambda _b: self._refresh())
        self.needs_reload = True

        self.location = QComboBox()
        self.location.addItem(self.tr("All locations"), None)
        self.location.currentIndexChanged.connect(lambda _i: self.reload())
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.create_button = QPushButton(self.tr("Create draft orders"))
        self.create_button.setProperty("primary", True)
        self.create_button.setToolTip(self.tr("Add the selected suggestions (or, with none selected, every orderable "
                                              "one) to draft purchase orders, one per supplier and location"))
        self.create_button.clicked.connect(self.create_drafts)
        self.override_button = QPushButton(self.tr("Reorder levels…"))
        self.override_button.setToolTip(self.tr("Set the reorder point or order-up-to level of the current row by hand"))
        self.override_button.clicked.connect(self.open_override)
        self.settings_button = QPushButton(self.tr("Settings…"))
        self.settings_button.setToolTip(self.tr("How reorder points are computed: sales window, service level, "
                                                "review period, default lead time"))
        self.settings_button.clicked.connect(self.open_settings)
        self.dialog: Any = None
        self.model = suggestions_model(self)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=SUGGESTION_COLUMNS[COL_PRODUCT].header)
        elide_sku_columns(self.table, self.model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._refresh())
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_inputs())
        self.totals_model = totals_model(self)
        self.totals_table = QTableView()
        setup_table(self.totals_table, self.totals_model, stretch=TOTAL_COLUMNS[0].header, selectable=False)
        self.totals_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.totals = QLabel()       # the grand total per currency
        self.totals.setWordWrap(True)
        self.totals.setToolTip(self.tr("⚑ flagged: the line orders more days of cover than the setting allows, or "
                                       "the item has no demand and is ordered for a level set by hand"))
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.inputs = QLabel()
        self.inputs.setObjectName("Muted")
        self.inputs.setWordWrap(True)
        self.empty = EmptyState("purchasing", self.tr("Nothing to reorder"),
                                self.tr("Every item's stock, transfers and open orders cover its reorder point. "
                                        "Suggestions appear here when an item runs low."))
        self.totals_box = QWidget()
        totals_layout = QVBoxLayout(self.totals_box)
        totals_layout.setContentsMargins(0, 0, 0, 0)
        totals_layout.setSpacing(4)
        totals_layout.addWidget(self.totals)
        totals_layout.addWidget(self.totals_table, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)   # the suggestions above their totals per supplier
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.totals_box)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.totals_box.setMinimumHeight(110)
        self.results = QStackedWidget()
        self.results.addWidget(self.splitter)
        self.results.addWidget(self.empty)

        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Location")))
        top.addWidget(self.location)
        top.addWidget(self.summary, 1)
        top.addWidget(self.settings_button)
        top.addWidget(self.override_button)
        top.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.inputs)
        self._refresh()

    @property
    def suggestions(self) -> list[Suggestion]:
        return self.model.rows

    def is_loading(self) -> bool:
        return self.runner.busy

    def set_locations(self, locations: list[dict[str, Any]]) -> None:
        current = self.location.currentData()
        self.location.blockSignals(True)
        while self.location.count() > 1:
            self.location.removeItem(1)
        for loc in locations:
            if loc["kind"] in ("warehouse", "store") and loc.get("active", True):
                self.location.addItem(f"{loc['code']} · {loc['name']}", loc["id"])
        self.location.setCurrentIndex(max(0, self.location.findData(current)))
        self.location.blockSignals(False)

    # -- loading -------------------------------------------------------------------------------------
    def reload(self) -> None:
        self._generation += 1
        if self.context.ops is None:
            self.needs_reload = True
            self.model.clear()
            return
        self.needs_reload = False
        gen, loc = self._generation, self.location.currentData()
        self.runner.read(lambda ops: ops.replenishment.suggest(location_id=loc), partial(self._on_loaded, gen),
                         on_error=partial(self._on_error, gen))

    def _on_loaded(self, gen: int, rows: list[Suggestion]) -> None:
        if gen != self._generation:
            return
        self.model.set_rows(rows)
        self.results.setCurrentWidget(self.splitter if rows else self.empty)
        if rows:   # the first row's inputs are shown; nothing is selected until the buyer picks
            self.table.selectionModel().setCurrentIndex(self.model.index(0, 0),
                                                        QItemSelectionModel.SelectionFlag.NoUpdate)
        self._show_inputs()

    def _on_error(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.message.emit(self.tr("The suggestions could not be computed: {error}").format(error=error_text(exc)),
                              "error")

    # -- creating drafts ---------------------------------------------------------------------------------
    def selected(self) -> list[Suggestion]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.row_at(r) for r in rows]

    def plan(self) -> DraftsPlan:
        """What "Create draft orders" would write now: the selected suggestions, or every one."""
        return plan_drafts(self.selected() or self.suggestions)

    def plan_text(self, plan: DraftsPlan) -> str:
        money = ", ".join(format_amount(v, c) for c, v in plan.value.items()) or "—"
        lines = [self.tr("{orders} draft order(s) · {lines} line(s) · {units} units").format(
                     orders=format_qty(plan.orders), lines=format_qty(plan.lines), units=format_qty(plan.units)),
                 self.tr("Value: {money}").format(money=money)]
        if plan.flagged:
            lines.append(self.tr("⚑ {n} line(s) order more days of cover than the setting, or have no demand: "
                                 "their reasons are under the table").format(n=format_qty(plan.flagged)))
        if plan.skipped:
            lines.append(self.tr("{n} suggestion(s) cannot be ordered as they are and are left out").format(
                n=format_qty(plan.skipped)))
        lines.append(self.tr("Lines are added to the open draft of each supplier and location, or to a new one. "
                             "Nothing is sent to suppliers."))
        return "\n".join(lines)

    def confirm(self, plan: DraftsPlan) -> bool:
        answer = QMessageBox.question(self, self.tr("Create draft orders"), self.plan_text(plan),
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def create_drafts(self) -> None:
        if self.context.ops is None or self.runner.busy:
            return
        picked = self.selected()
        plan = self.plan()
        if plan.lines and not self.confirm(plan):
            return
        keys = [s.key for s in picked] if picked else None
        loc, op = self.location.currentData(), uuid.uuid4().hex
        self.create_button.setEnabled(False)
        self.runner.write(lambda ops: ops.replenishment.create_drafts(keys=keys, location_id=loc, op_id=op),
                          self._on_drafts, on_error=lambda exc: self.message.emit(error_text(exc), "error"))

    def _on_drafts(self, result: DraftsResult) -> None:
        if result.orders:
            names = ", ".join(o["number"] for o in result.orders)
            money = ", ".join(format_amount(Decimal(v), c) for c, v in result.value.items())
            self.message.emit(self.tr("{lines} line(s), {units} units ({money}) added to draft orders {names}").format(
                lines=format_qty(result.lines), units=format_qty(result.units), money=money, names=names), "success")
        else:
            self.message.emit(self.tr("Nothing to add: the needs are already on order."), "info")
        self.drafts_created.emit(result)

    def open_override(self) -> None:
        index = self.table.currentIndex()
        current = self.model.row_at(index.row()) if index.isValid() else None
        if current is None:
            return
        self.dialog = OverrideDialog(self.context, self.tasks, current, self)
        self.dialog.open()

    def open_settings(self) -> None:
        self.dialog = ReplenishmentSettingsDialog(self.context, self.tasks, self)
        self.dialog.saved.connect(lambda _s: self.reload())
        self.dialog.open()

    # -- what is shown -----------------------------------------------------------------------------------
    def _show_totals(self, rows: list[Suggestion]) -> None:
        """Per supplier and currency: lines, units, value and flagged lines; above them the grand total
        per currency. Computed again only when the rows change."""
        if getattr(self, "_totals_of", None) is rows:
            return
        self._totals_of = rows
        self.totals_model.set_rows(supplier_totals(rows))
        money = ", ".join(format_amount(v, c) for c, v in currency_totals(rows).items()) or "—"
        flagged = sum(1 for r in rows if r.flag)
        text = self.tr("Total: {lines} lines, {units} units, {money}").format(
            lines=format_qty(len(rows)), units=format_qty(sum(r.quantity for r in rows)), money=money)
        if flagged:
            text += " · " + self.tr("⚑ {n} flagged").format(n=format_qty(flagged))
        self.totals.setText(text if rows else "")

    def _show_inputs(self) -> None:
        index = self.table.currentIndex()
        s = self.model.row_at(index.row()) if index.isValid() else None
        self.inputs.setVisible(s is not None)
        if s is not None:
            self.inputs.setText(f"{s.sku} · {s.location}: " + suggestion_tooltip(s, 0).replace("\n", " · "))

    def _refresh(self) -> None:
        rows = self.suggestions
        orderable = [s for s in rows if s.orderable]
        picked = self.selected() if rows else []
        totals: dict[str, Any] = {}
        for s in picked:
            if s.line_total is not None:
                totals[s.currency] = totals.get(s.currency, 0) + s.line_total
        money = ", ".join(format_amount(v, c) for c, v in sorted(totals.items()))
        if not rows:
            self.summary.setText("" if self.runner.busy else self.tr("No suggestions"))
        else:
            text = self.tr("{n} suggestions · {m} orderable").format(n=format_qty(len(rows)), m=format_qty(len(orderable)))
            if picked:
                text += " · " + self.tr("{k} selected").format(k=format_qty(len(picked)))
            if not orderable:
                text += " · " + self.tr("add supplier items under Suppliers to order them")
            self.summary.setText(f"{text} · {money}" if money else text)
        self.create_button.setEnabled(not self.runner.busy and bool(orderable or picked))
        self._show_totals(rows)
        self.override_button.setEnabled(not self.runner.busy and bool(rows))
        self.create_button.setText(self.tr("Create draft orders ({n})").format(n=format_qty(len(picked)))
                                   if picked else self.tr("Create draft orders"))
