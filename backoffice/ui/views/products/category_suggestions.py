"""Suggest categories: a model learnt from the store's categorised products suggests a category and tags
for the products chosen (those without a category, the grid's filter, the selection), each with its
confidence, none below the threshold. The person ticks the suggestions to keep; Apply writes them as one
changeset (revertible from the Changesets panel). The model is trained in the background with progress
and Cancel, and its accuracy on held-out products is shown with the suggestions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.classifier import (
    Accepted,
    ApplyResult,
    Cancelled,
    Capabilities,
    Suggestion,
    SuggestionRun,
    SuggestTarget,
    VariantFilter,
)
from backoffice.operations.store import new_operation_id
from backoffice.remote.errors import RemoteCancelled
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_percent, plural, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import muted

tr = translator("CategorySuggestions")
Index = QModelIndex | QPersistentModelIndex
HOLDOUT = 0.2


def percent(fraction: float | None) -> str:
    """0.734 → "73 %" (a confidence or a share)."""
    return "—" if fraction is None else format_percent(round(fraction * 100), 0)


# -- the suggestions, as a plain Qt model -------------------------------------------------------------------
class SuggestionsModel(QAbstractTableModel):
    """One row per suggestion; the first column's check box says whether it is accepted (all are, at
    first). Rows are handed in; nothing is queried here."""

    PRODUCT, CURRENT, SUGGESTED, CONFIDENCE, TAGS = range(5)
    HEADERS = ("Product", "Current category", "Suggested category", "Confidence", "Tags to add")
    SortRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Suggestion] = []
        self.checked: list[bool] = []

    def set_rows(self, rows: list[Suggestion]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.checked = [True] * len(self.rows)
        self.endResetModel()

    def set_all(self, checked: bool) -> None:
        self.checked = [checked] * len(self.rows)
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, 0),
                                  [Qt.ItemDataRole.CheckStateRole])

    def accepted(self) -> list[Accepted]:
        return [Accepted(s.product_id, s.version, s.category_id, tuple(s.tags))
                for s, on in zip(self.rows, self.checked, strict=True) if on]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802, ANN401
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self.HEADERS[section])
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole \
                and section == self.CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == self.PRODUCT else base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: ANN401
        if not index.isValid():
            return None
        s, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.CheckStateRole and column == self.PRODUCT:
            return Qt.CheckState.Checked if self.checked[index.row()] else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.PRODUCT:
                return s.title or s.handle
            if column == self.CURRENT:
                return s.current_category or tr("(none)")
            if column == self.SUGGESTED:
                return s.category if s.category_id is not None else tr("(keep: {why})").format(why=s.reason)
            if column == self.CONFIDENCE:
                return percent(s.confidence) if s.category_id is not None else ""
            if column == self.TAGS:
                return ", ".join(f"{t} ({percent(p)})" for t, p in zip(s.tags, s.tag_confidences, strict=True))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == self.PRODUCT:
            return s.handle
        if role == self.SortRole:
            return s.confidence if column == self.CONFIDENCE else self.data(index)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802, ANN401
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != self.PRODUCT:
            return False
        self.checked[index.row()] = Qt.CheckState(value) == Qt.CheckState.Checked
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True


# -- the dialog -------------------------------------------------------------------------------------------
class CategorySuggestionsDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, *, grid_filter: VariantFilter | None = None,
                 filtered_rows: int = 0, selected_variant_ids: tuple[int, ...] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.grid_filter, self.selected_variant_ids = grid_filter, selected_variant_ids
        self.runner = Runner(context, tasks, self)
        self.job: TaskState | None = None
        self.run: SuggestionRun | None = None
        self.capabilities: Capabilities | None = None
        self._op_id = new_operation_id()
        self._close_when_idle = False
        self.setWindowTitle(self.tr("Suggest categories"))
        self.resize(1060, 660)

        self.uncategorised = QRadioButton(self.tr("Products without a category"))
        self.filtered = QRadioButton(plural(filtered_rows, self.tr("Products of the {n} row matching the grid's filter"),
                                            self.tr("Products of the {n} rows matching the grid's filter")))
        self.selected = QRadioButton(plural(len(selected_variant_ids), self.tr("Products of the {n} selected row"),
                                            self.tr("Products of the {n} selected rows")))
        scope = QButtonGroup(self)
        for button in (self.uncategorised, self.filtered, self.selected):
            scope.addButton(button)
        self.uncategorised.setChecked(True)
        self.filtered.setVisible(grid_filter is not None and grid_filter != VariantFilter())
        self.selected.setVisible(bool(selected_variant_ids))
        self.threshold = QSpinBox()
        self.threshold.setRange(5, 100)
        self.threshold.setValue(60)
        self.threshold.setSuffix(" %")
        self.threshold.setMaximumWidth(110)
        self.threshold.setToolTip(self.tr("No suggestion is made when the model is less sure than this."))
        self.embeddings = QCheckBox(self.tr("Use sentence embeddings (slower; needs the optional package)"))
        self.embeddings.setEnabled(False)

        scope_box = QVBoxLayout()
        scope_box.setSpacing(4)
        for button in (self.uncategorised, self.filtered, self.selected):
            scope_box.addWidget(button)
        form = QFormLayout()
        form.setVerticalSpacing(10)
        form.addRow(self.tr("Suggest for"), scope_box)
        form.addRow(self.tr("Minimum confidence"), self.threshold)
        form.addRow("", self.embeddings)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = muted(wrap=False)
        self.accuracy = QLabel()
        self.accuracy.setWordWrap(True)
        self.accuracy.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner = MessageBanner()

        self.model = SuggestionsModel(self)
        self.model.dataChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column, width in ((0, 270), (1, 170), (2, 300), (3, 110)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(SuggestionsModel.TAGS, QHeaderView.ResizeMode.Stretch)
        self.empty = muted()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.all_button = QPushButton(self.tr("Select all"))
        self.all_button.clicked.connect(lambda: self.model.set_all(True))
        self.none_button = QPushButton(self.tr("Select none"))
        self.none_button.clicked.connect(lambda: self.model.set_all(False))
        self.count = muted(wrap=False)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel_job)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        self.suggest_button = QPushButton(self.tr("Suggest"))
        self.suggest_button.clicked.connect(self.suggest)
        self.apply_button = QPushButton(self.tr("Apply"))
        self.apply_button.setProperty("primary", True)
        self.apply_button.clicked.connect(self.apply)
        selection_row = QHBoxLayout()
        selection_row.addWidget(self.all_button)
        selection_row.addWidget(self.none_button)
        selection_row.addWidget(self.count, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.suggest_button)
        buttons.addWidget(self.apply_button)

        title = QLabel(self.tr("Suggest categories"))
        title.setObjectName("PageTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(muted(self.tr("A model learnt from your categorised products suggests a category and tags, "
                                       "each with how sure it is. Tick the ones to keep; Apply writes them as one "
                                       "changeset you can revert.")))
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.accuracy)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(selection_row)
        layout.addLayout(buttons)
        self._show_table(False)
        self.empty.setText(self.tr("Press Suggest to learn from the catalog and see the suggestions."))
        self._update_buttons()
        self.runner.read(lambda ops: ops.classifier.capabilities(), self._on_capabilities,
                         on_error=self._on_error)

    # -- state --------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None

    def _show_table(self, shown: bool) -> None:
        self.table.setVisible(shown)
        self.empty.setVisible(not shown)

    def _update_buttons(self) -> None:
        busy, usable = self.busy, self.capabilities is not None and self.capabilities.suggestions
        accepted = sum(self.model.checked)
        self.suggest_button.setEnabled(not busy and usable and self.context.ops is not None)
        self.apply_button.setEnabled(not busy and accepted > 0)
        self.apply_button.setText(plural(accepted, self.tr("Apply {n} suggestion"), self.tr("Apply {n} suggestions"))
                                  if accepted else self.tr("Apply"))
        for w in (self.uncategorised, self.filtered, self.selected, self.threshold, self.all_button,
                  self.none_button):
            w.setEnabled(not busy)
        self.embeddings.setEnabled(not busy and self.capabilities is not None and self.capabilities.embeddings)
        self.cancel_button.setVisible(busy)
        self.progress.setVisible(busy)
        self.status.setVisible(busy)
        self.count.setText(plural(len(self.model.rows), self.tr("{n} suggestion"), self.tr("{n} suggestions"))
                           + self.tr(", {k} ticked").format(k=accepted) if self.model.rows else "")

    def target(self) -> SuggestTarget:
        if self.selected.isChecked() and self.selected_variant_ids:
            return SuggestTarget(filter=VariantFilter(variant_ids=self.selected_variant_ids))
        if self.filtered.isChecked() and self.grid_filter is not None:
            return SuggestTarget(filter=self.grid_filter)
        return SuggestTarget(uncategorised=True)

    def _start(self, title: str) -> TaskState:
        state = TaskState(title, parent=self)
        state.progress_changed.connect(lambda f: self.progress.setValue(int(f * 1000)))
        state.status_changed.connect(self.status.setText)
        self.job = state
        self.progress.setValue(0)
        self.status.setText(title)
        self.banner.hide()
        self.cancel_button.setEnabled(True)
        self._update_buttons()
        return state

    def _finished(self) -> bool:
        """The job ended; True if the dialog was asked to close meanwhile (and now has)."""
        self.job = None
        if self._close_when_idle:
            super().done(QDialog.DialogCode.Rejected)
            return True
        self._update_buttons()
        return False

    # -- capabilities ---------------------------------------------------------------------------------------
    def _on_capabilities(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        if not capabilities.suggestions:
            self.banner.show_message(self.tr("Category suggestions are not available here: {why}.")
                                     .format(why=capabilities.message), "error")
            self.empty.setText(self.tr("Category suggestions need scikit-learn."))
        elif not capabilities.embeddings:
            self.embeddings.setToolTip(capabilities.message)
        self._update_buttons()

    # -- suggest --------------------------------------------------------------------------------------------
    def suggest(self) -> None:
        if self.busy or self.context.ops is None:
            return
        target, threshold = self.target(), self.threshold.value() / 100
        embeddings = self.embeddings.isChecked()
        state = self._start(self.tr("Learning from the catalog…"))
        self.runner.read(lambda ops: ops.classifier.suggest(target, min_confidence=threshold, embeddings=embeddings,
                                                            holdout=HOLDOUT, progress=state.report,
                                                            cancel=state.cancelled),
                         self._on_suggestions, on_error=self._on_error, state=state)

    def _on_suggestions(self, run: SuggestionRun) -> None:
        if self._finished():
            return
        self.run = run
        self._op_id = new_operation_id()    # new suggestions: a new write
        self.model.set_rows(run.suggestions)
        self._show_table(bool(run.suggestions))
        self.accuracy.setText(self.accuracy_text(run))
        if not run.considered:
            self.empty.setText(self.tr("No products to suggest for: every product has a category.")
                               if self.uncategorised.isChecked() else self.tr("No products match."))
        elif not run.suggestions:
            self.empty.setText(self.tr("No suggestions: {refused} refused below {threshold}, {same} already as the "
                                       "model would have them.")
                               .format(refused=run.refused, threshold=percent(run.min_confidence), same=run.unchanged))
        if run.refused and run.suggestions:
            self.banner.show_message(plural(run.refused, self.tr("{n} product got no suggestion: the model was less "
                                                                 "than {t} sure."),
                                            self.tr("{n} products got no suggestion: the model was less than {t} "
                                                    "sure."), t=percent(run.min_confidence)), "info")
        self._update_buttons()

    def accuracy_text(self, run: SuggestionRun) -> str:
        e = run.evaluation
        learnt = plural(run.trained_on, self.tr("Learnt from {n} categorised product"),
                        self.tr("Learnt from {n} categorised products"))
        if e is None:
            return learnt + "."
        text = (learnt + self.tr(". On {held} products held out of the training it was right {accuracy} of the time; "
                                 "at {threshold} it suggests for {coverage} of them and is right on {right}.")
                .format(held=e.held_out, accuracy=percent(e.accuracy), threshold=percent(e.min_confidence),
                        coverage=percent(e.coverage), right=percent(e.accuracy_at_threshold)))
        if run.left_out:
            text += " " + self.tr("Not learnt (too few examples): {names}.").format(names="; ".join(run.left_out[:5]))
        return text

    # -- apply ----------------------------------------------------------------------------------------------
    def apply(self) -> None:
        accepted = self.model.accepted()
        if self.busy or not accepted:
            return
        op_id = self._op_id
        state = self._start(self.tr("Applying…"))
        state.cancellable = False
        self.cancel_button.setEnabled(False)
        self.runner.write(lambda ops: ops.classifier.apply(accepted, op_id=op_id), self._on_applied,
                          on_error=self._on_error, state=state)

    def _on_applied(self, result: ApplyResult) -> None:
        if self._finished():
            return
        conflicted = {c.entity_id for c in result.conflicts}
        message = plural(result.applied_rows, self.tr("Applied to {n} product as changeset {id}."),
                         self.tr("Applied to {n} products as changeset {id}."), id=result.changeset_id or "—")
        if result.conflicts:
            names = ", ".join(sorted({c.label for c in result.conflicts})[:8])
            message += " " + plural(len(conflicted), self.tr("{n} product was changed by someone else meanwhile and "
                                                          "was left as it is: {names}."),
                                    self.tr("{n} products were changed by someone else meanwhile and were left as "
                                            "they are: {names}."), names=names)
        self.banner.show_message(message, "warning" if result.conflicts else "success")
        kept = [s for s in self.model.rows if s.product_id in conflicted]
        self.model.set_rows(kept)          # what is left to look at: the conflicts
        self._show_table(bool(kept))
        self.empty.setText(self.tr("Applied. Suggest again for more."))
        self._op_id = new_operation_id()

    # -- errors and closing ---------------------------------------------------------------------------------
    def _on_error(self, exc: BaseException) -> None:
        if self._finished():
            return
        if isinstance(exc, (Cancelled, RemoteCancelled)):
            self.banner.show_message(self.tr("Cancelled; nothing was written."), "info")
        else:
            self.banner.show_message(self.tr("Category suggestions failed: {error}").format(error=error_message(exc)),
                                     "error")

    def cancel_job(self) -> None:
        if self.job is not None and self.job.cancellable:
            self.job.cancel()
            self.cancel_button.setEnabled(False)

    def done(self, result: int) -> None:
        if self.job is not None:     # the worker stops at its next check, then the dialog closes
            self._close_when_idle = True
            self.cancel_job()
            return
        super().done(result)


def open_category_suggestions(view: Any, *_checked: object) -> None:  # noqa: ANN401 - the Products view
    """The Merchandising menu's "Suggest categories…": the dialog over the grid's filter and selection."""
    selected = view.selected_variant_ids() or []
    dialog = CategorySuggestionsDialog(view.context, view.tasks, grid_filter=view.loader.filter,
                                       filtered_rows=view.model.total or 0, selected_variant_ids=tuple(selected),
                                       parent=view)
    view.dialog = dialog      # kept, as the view keeps the dialogs it opens
    dialog.open()
