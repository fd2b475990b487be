"""Content checks: how the products of the grid's filter fare on each SEO and content check, their scores,
the store's thresholds, the report as a file, and "Show in the grid" (the "Needs attention" filter).

The checks run in the background (``ops.content.check``: one statement over the products); the summary
counts each check's failing products, the table lists the products worst score first. Export writes
every product's row (``ops.content.export_report``, XLSX or CSV).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.content import ContentCheckSummary, ContentRules, VariantFilter
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_count, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, make_table, muted


class ContentChecksDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, flt: VariantFilter, target_label: str,
                 show_in_grid: Callable[[], None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.flt = context, tasks, flt
        self.runner = Runner(context, tasks, self)
        self.summary: ContentCheckSummary | None = None
        self.rules: ContentRules | None = None
        self._show_in_grid = show_in_grid
        self.setWindowTitle(self.tr("Content checks"))
        self.resize(1000, 720)

        title = QLabel(self.tr("Content checks"))
        title.setObjectName("PageTitle")
        self.headline = QLabel(self.tr("Checking…"))
        self.headline.setObjectName("DetailsTitle")
        self.banner = MessageBanner()
        self.checks_model = RowsModel([self.tr("Check"), self.tr("Products failing"), self.tr("Weight"),
                                       self.tr("What fails it")], align_right=(1, 2), parent=self)
        self.rows_model = RowsModel([self.tr("Score"), self.tr("Product"), self.tr("Title"), self.tr("Failing checks")],
                                    colours={0: theme.WARNING}, align_right=(0,), parent=self)
        self.checks_table = make_table(self.checks_model, {0: 190, 1: 140, 2: 70}, stretch=(3,))
        self.rows_table = make_table(self.rows_model, {0: 60, 1: 240, 2: 260}, stretch=(3,))
        self.rows_note = muted()
        self.empty = muted(self.tr("No products to check: the filter matches none."))
        self.empty.hide()

        self.thin_words = QSpinBox()
        self.thin_words.setRange(0, 10_000)
        self.thin_words.setSuffix(self.tr(" words"))
        self.attention_below = QSpinBox()
        self.attention_below.setRange(0, 100)
        self.save_settings_button = QPushButton(self.tr("Save thresholds"))
        self.save_settings_button.clicked.connect(self.save_settings)
        settings_row = QHBoxLayout()
        settings_row.addWidget(QLabel(self.tr("Thin description: fewer than")))
        settings_row.addWidget(self.thin_words)
        settings_row.addSpacing(16)
        settings_row.addWidget(QLabel(self.tr("Needs attention: score below")))
        settings_row.addWidget(self.attention_below)
        settings_row.addWidget(self.save_settings_button)
        settings_row.addStretch(1)

        top = QFrame()
        top.setObjectName("Card")
        top_layout = QVBoxLayout(top)
        top_layout.addWidget(self.headline)
        top_layout.addWidget(muted(target_label))
        top_layout.addWidget(self.checks_table, 1)
        top_layout.addLayout(settings_row)
        bottom = QFrame()
        bottom.setObjectName("Card")
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.addWidget(QLabel(self.tr("Products, lowest score first")))
        bottom_layout.addWidget(self.empty)
        bottom_layout.addWidget(self.rows_table, 1)
        bottom_layout.addWidget(self.rows_note)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([360, 300])

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(120)
        self.status = muted()
        self.refresh_button = QPushButton(self.tr("Check again"))
        self.refresh_button.clicked.connect(self.run_checks)
        self.export_button = QPushButton(self.tr("Export report…"))
        self.export_button.clicked.connect(self.export)
        self.grid_button = QPushButton(self.tr("Show in the grid"))
        self.grid_button.setToolTip(self.tr("Filter the Products grid to the products that need attention"))
        self.grid_button.clicked.connect(self._on_show_in_grid)
        self.grid_button.setVisible(show_in_grid is not None)
        close_button = QPushButton(self.tr("Close"))
        close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy)
        buttons.addWidget(self.status, 1)
        for b in (self.refresh_button, self.export_button, self.grid_button, close_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(title)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self.run_checks()

    # -- the checks ---------------------------------------------------------------------------------------
    def run_checks(self) -> None:
        flt = self.flt
        self._busy(True, self.tr("Checking the products…"))
        self.runner.read(lambda ops: ops.content.check(flt), self._on_checked, on_error=self._on_error)

    def _busy(self, busy: bool, text: str = "") -> None:
        self.busy.setVisible(busy)
        self.status.setText(text)
        for b in (self.refresh_button, self.export_button, self.save_settings_button):
            b.setEnabled(not busy)

    def _on_checked(self, summary: ContentCheckSummary) -> None:
        self._busy(False)
        self.summary = summary
        self._show_rules(summary.rules)
        self.headline.setText(self.tr("{n} products checked · {attention} need attention (score below {below}) · "
                                      "average score {avg}").format(
            n=format_count(summary.total), attention=format_count(summary.attention_count),
            below=summary.rules.attention_below, avg=f"{summary.average_score:g}"))
        self.checks_model.set_rows([(c.label, format_count(c.failing), f"−{c.weight}", c.explain)
                                    for c in summary.checks])
        labels = {c.key: c.label for c in summary.checks}
        self.rows_model.set_rows([(r.score, r.handle, r.title, ", ".join(labels[k] for k in r.failing)
                                   or self.tr("All checks pass")) for r in summary.rows], summary.rows)
        self.rows_note.setText(self.tr("Showing the {shown} lowest of {n}; export the report for every product.").format(
            shown=format_count(len(summary.rows)), n=format_count(summary.total))
            if summary.total > len(summary.rows) else "")
        self.empty.setVisible(summary.total == 0)
        self.rows_table.setVisible(summary.total > 0)
        self.export_button.setEnabled(summary.total > 0)
        self.grid_button.setEnabled(summary.attention_count > 0)

    def _on_error(self, exc: BaseException) -> None:
        self._busy(False)
        self.headline.setText(self.tr("The checks could not run."))
        self.banner.show_message(error_message(exc), "error")

    def _show_rules(self, rules: ContentRules) -> None:
        self.rules = rules
        self.thin_words.setValue(rules.thin_words)
        self.attention_below.setValue(rules.attention_below)

    def save_settings(self) -> None:
        thin, below = self.thin_words.value(), self.attention_below.value()
        version = self.rules.version if self.rules is not None else None
        op_id = str(uuid.uuid4())
        self._busy(True, self.tr("Saving…"))
        self.runner.write(lambda ops: ops.content.save_settings(thin, below, version, op_id=op_id),
                          lambda _rules: self.run_checks(), on_error=self._on_error,
                          success=self.tr("Thresholds saved."))

    # -- the report and the grid --------------------------------------------------------------------------
    def export(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, self.tr("Export content report"), "content-checks.xlsx",
                                                  self.tr("Excel workbook (*.xlsx);;CSV (*.csv)"))
        if not path:
            return
        flt = self.flt
        self._busy(True, self.tr("Writing {name}…").format(name=Path(path).name))
        self.runner.read(lambda ops: ops.content.export_report(path, None, flt), lambda n: self._on_exported(path, n),
                         on_error=self._on_error)

    def _on_exported(self, path: str, n: int) -> None:
        self._busy(False)
        self.banner.show_message(plural(n, self.tr("Wrote {n} product to {path}."),
                                        self.tr("Wrote {n} products to {path}."), path=path), "success")

    def _on_show_in_grid(self) -> None:
        if self._show_in_grid is not None:
            self._show_in_grid()
        self.accept()


def open_content_dialogs(view, which: str, *_checked: object) -> None:  # type: ignore[no-untyped-def]
    """Open "Description templates…" (``which="templates"``) or "Content checks…" from the Products view:
    on the grid's filter, and on the selection when there is one."""
    from dataclasses import replace

    from backoffice.operations.content import Target
    from backoffice.ui.views.products.bulk_dialog import filter_label, selection_label

    flt = view.loader.filter
    if which == "checks":
        def show_in_grid() -> None:
            view.filters.set_filter(replace(view.filters.current_filter(), needs_attention=True))

        label = view.tr("The products of {what}").format(what=filter_label(view.model.total))
        _show(view, ContentChecksDialog(view.context, view.tasks, flt, label, show_in_grid, view))
        return
    from backoffice.ui.views.products.content_templates import ContentTemplatesDialog

    targets = [(view.tr("The products of {what}").format(what=filter_label(view.model.total)), Target(filter=flt))]
    ids = view.selected_variant_ids() or []
    if ids:
        targets.append((view.tr("The products of the {what}").format(what=selection_label(len(ids))),
                        Target(variant_ids=tuple(ids))))
    current = view.table.currentIndex()
    row = view.model.row_at(current.row()) if current.isValid() else None
    _show(view, ContentTemplatesDialog(view.context, view.tasks, targets, row.handle if row is not None else "", view))


def _show(view, dialog: QDialog) -> None:  # type: ignore[no-untyped-def]
    view.dialog = dialog          # the view keeps its open dialog (as its own dialogs do)
    dialog.open()
