"""Import products: choose a file → match its columns → dry run (every problem listed, an error report
to save) → import, all or nothing, as one changeset. Reading, checking and writing run in the background
with progress and Cancel; cancelling writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations import importexport as ie
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.widgets.rows import muted
from backoffice.ui.views.products.import_pages import (
    CheckPage,
    FilePage,
    MappingPage,
    ResultPage,
)

STEP_FILE, STEP_COLUMNS, STEP_CHECK, STEP_RESULT = range(4)


class ImportWizard(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.preview: ie.FilePreview | None = None
        self.checked: tuple[str, str, ie.Mapping] | None = None   # the file, format and mapping of ``report``
        self.report: ie.ImportReport | None = None
        self.result: ie.ImportResult | None = None
        self.job: TaskState | None = None
        self._close_when_idle = False
        self._mapping_for: tuple[str, str] | None = None   # the file the mapping page was filled for
        self.setWindowTitle(self.tr("Import products"))
        self.resize(920, 640)

        self.file_page = FilePage()
        self.mapping_page = MappingPage()
        self.check_page = CheckPage()
        self.result_page = ResultPage()
        self.pages = QStackedWidget()
        for page in (self.file_page, self.mapping_page, self.check_page, self.result_page):
            self.pages.addWidget(page)
        self.file_page.changed.connect(self._update_buttons)
        self.mapping_page.changed.connect(self._update_buttons)
        self.check_page.save_report_requested.connect(self.choose_error_report)
        self.check_page.conflict_choice_changed.connect(self._on_conflict_choice)

        self.step_labels = [QLabel(text) for text in (self.tr("1  File"), self.tr("2  Columns"), self.tr("3  Check"),
                                                      self.tr("4  Import"))]
        steps = QHBoxLayout()
        steps.setSpacing(6)
        for i, label in enumerate(self.step_labels):
            if i:
                steps.addWidget(muted("›", wrap=False))
            steps.addWidget(label)
        steps.addStretch(1)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(220)
        self.status = muted(wrap=False)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel_job)
        self.back_button = QPushButton(self.tr("Back"))
        self.back_button.clicked.connect(self.back)
        self.recheck_button = QPushButton(self.tr("Check again"))
        self.recheck_button.setToolTip(self.tr("Read the file again (after fixing it) and check every row"))
        self.recheck_button.clicked.connect(self.check)
        self.next_button = QPushButton(self.tr("Next"))
        self.next_button.setProperty("primary", True)
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        self.reason = muted(wrap=False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress)
        buttons.addWidget(self.status, 1)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.reason)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.recheck_button)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.next_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(14)
        title = QLabel(self.tr("Import products"))
        title.setObjectName("PageTitle")
        layout.addWidget(title)
        layout.addLayout(steps)
        layout.addWidget(self.pages, 1)
        layout.addLayout(buttons)
        self._go(STEP_FILE)

    # -- navigation -----------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.pages.currentIndex()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _go(self, step: int) -> None:
        self.pages.setCurrentIndex(step)
        for i, label in enumerate(self.step_labels):
            label.setObjectName("DetailsTitle" if i == step else "Muted")
            label.style().unpolish(label)
            label.style().polish(label)
        self._update_buttons()

    def next(self) -> None:
        if self.step == STEP_FILE:
            self.load_preview()
        elif self.step == STEP_COLUMNS:
            self.check()
        elif self.step == STEP_CHECK:
            self.apply()

    def back(self) -> None:
        if not self.busy and self.step in (STEP_COLUMNS, STEP_CHECK):
            self._go(self.step - 1)

    def next_blocked_reason(self) -> str:
        if self.busy:
            return ""
        if self.step == STEP_FILE and not self.file_page.chosen()[0]:
            return self.tr("Choose a file.")
        if self.step == STEP_COLUMNS and self.mapping_page.mapping_problems():
            return self.tr("Fix the column choices first.")
        if self.step == STEP_CHECK:
            if self.report is None:
                return self.tr("Check the file first.")
            if self.report.problems:
                return self.tr("Fix the problems first.")
            if self.report.conflict_rows and self.check_page.on_conflict() == "refuse":
                return self.tr("Choose what to do with the conflicting rows.")
            if not self.report.changed_rows and not (self.report.conflict_rows
                                                     and self.check_page.on_conflict() == "overwrite"):
                return self.tr("Nothing to import.")
            if self.context.actor is None:
                return self.tr("Not connected to a database.")
        return ""

    def _update_buttons(self) -> None:
        step, busy = self.step, self.busy
        reason = self.next_blocked_reason()
        self.next_button.setText({STEP_FILE: self.tr("Next"), STEP_COLUMNS: self.tr("Check file"),
                                  STEP_CHECK: self.tr("Import")}.get(step, self.tr("Next")))
        self.next_button.setVisible(step != STEP_RESULT)
        self.next_button.setEnabled(not busy and not reason)
        self.reason.setText(reason if step == STEP_CHECK else "")
        self.back_button.setVisible(step in (STEP_COLUMNS, STEP_CHECK))
        self.back_button.setEnabled(not busy)
        self.recheck_button.setVisible(step == STEP_CHECK)
        self.recheck_button.setEnabled(not busy and self.preview is not None)
        self.check_page.save_button.setEnabled(not busy)
        self.file_page.setEnabled(not busy)
        self.mapping_page.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.status.setVisible(busy)
        self.cancel_button.setVisible(busy and self.job is not None and self.job.cancellable)
        self.close_button.setText(self.tr("Done") if step == STEP_RESULT and self.result is not None else self.tr("Close"))

    # -- background jobs ------------------------------------------------------------------------------
    def _start(self, title: str, call: Callable[[Operations, TaskState], Any], on_done: Callable[[Any], None],
               on_error: Callable[[BaseException], None], *, cancellable: bool = True, write: bool = False) -> None:
        """``call(ops, state)`` in the background with progress and (when ``cancellable``) Cancel; a write
        announces what it changed to every view."""
        state = TaskState(title, cancellable=cancellable, parent=self)
        state.progress_changed.connect(lambda f: self.progress.setValue(int(f * 1000)))
        state.status_changed.connect(self.status.setText)
        self.job = state
        self.progress.setValue(0)
        self.status.setText(title)
        self.cancel_button.setEnabled(True)
        self._update_buttons()

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            self.job = None
            self._update_buttons()
            if self._close_when_idle:
                super(ImportWizard, self).done(QDialog.DialogCode.Rejected)
                return
            callback(value)

        start = self.runner.write if write else self.runner.read
        if not start(lambda ops: call(ops, state), lambda v: finish(on_done, v), on_error=lambda e: finish(on_error, e),
                     state=state):
            finish(on_error, ConnectionError(self.tr("Not connected to a database.")))

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText(self.tr("Cancelling…"))

    def done(self, result: int) -> None:
        if self.job is not None:   # stop the work first; the dialog closes when it has stopped
            self._close_when_idle = True
            self.cancel_job()
            return
        super().done(result)

    # -- step 1 → 2: a look at the file ---------------------------------------------------------------
    def load_preview(self) -> None:
        path, fmt = self.file_page.chosen()
        if not path:
            return
        self.file_page.banner.hide()
        self._start(self.tr("Reading {name}").format(name=Path(path).name),
                    lambda ops, state: ops.importexport.preview_file(path, fmt), lambda p: self._on_preview(path, fmt, p),
                    self._on_preview_error, cancellable=False)

    def _on_preview(self, path: str, fmt: str, preview: ie.FilePreview) -> None:
        previous = self.mapping_page.mapping() if self._mapping_for == (path, fmt) else None
        self.preview = preview
        self._mapping_for = (path, fmt)
        self.mapping_page.set_preview(preview, previous)
        self._go(STEP_COLUMNS)

    def _on_preview_error(self, exc: BaseException) -> None:
        self.file_page.banner.show_message(error_message(exc), "error")

    # -- step 2 → 3: dry run --------------------------------------------------------------------------
    def check(self) -> None:
        path, fmt = self.file_page.chosen()
        if self.context.ops is None or self.busy or self.mapping_page.mapping_problems():
            return
        mapping = self.mapping_page.mapping()
        self.checked = self.report = None
        self.check_page.clear()
        self._go(STEP_CHECK)

        def check_file(ops: Operations, state: TaskState) -> ie.ImportReport:
            return ops.importexport.check(path, fmt, mapping=mapping, progress=state.report, cancel=state.cancelled)

        self._start(self.tr("Checking {name}").format(name=Path(path).name), check_file,
                    lambda report: self._on_checked((path, fmt, mapping), report), self._on_check_error)

    def _on_checked(self, checked: tuple[str, str, ie.Mapping], report: ie.ImportReport) -> None:
        self.checked, self.report = checked, report
        self.check_page.show_report(self.report)
        self._update_buttons()

    def _on_check_error(self, exc: BaseException) -> None:
        self.check_page.title.setText(self.tr("The file could not be checked"))
        level = "info" if isinstance(exc, ie.Cancelled) else "error"
        self.check_page.banner.show_message(error_message(exc, limit=8), level)
        self._update_buttons()

    def _on_conflict_choice(self) -> None:
        if self.report is not None and self.report.conflict_rows and not self.report.problems:
            self.check_page.show_conflict_banner(self.report)
        self._update_buttons()

    # -- error report ---------------------------------------------------------------------------------
    def choose_error_report(self) -> None:
        if self.report is None or self.checked is None:
            return
        checked = Path(self.checked[0])
        suggested = checked.with_name(checked.stem + "-errors.xlsx")
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Save error report"), str(suggested),
                                              self.tr("Excel workbook (*.xlsx)"))
        if name:
            self.save_error_report(name if name.lower().endswith(".xlsx") else name + ".xlsx")

    def save_error_report(self, path: str) -> None:
        report, checked = self.report, self.checked
        if report is None or checked is None or self.busy:
            return
        file, fmt, mapping = checked
        self._start(self.tr("Saving the error report"),
                    lambda ops, state: ops.importexport.write_error_report(file, report, path, fmt, mapping=mapping),
                    lambda out: self.check_page.banner.show_message(
                        self.tr("Error report saved to {path}: the file's rows with the bad cells marked and an "
                                "errors column.").format(path=out), "info"),
                    lambda exc: self.check_page.banner.show_message(
                        self.tr("The error report could not be saved: {error}").format(error=error_message(exc)),
                        "error"), cancellable=False)

    # -- step 3 → 4: import ---------------------------------------------------------------------------
    def apply(self) -> None:
        checked, report = self.checked, self.report
        on_conflict = self.check_page.on_conflict()
        if self.next_blocked_reason() or self.context.ops is None or checked is None:
            return
        file, fmt, mapping = checked
        name = Path(file).name
        self.result = None
        self.result_page.title.setText(self.tr("Importing {name}…").format(name=name))
        self.result_page.text.setText(self.tr("All or nothing: if anything goes wrong, or you cancel, nothing is "
                                              "written."))
        self.result_page.banner.hide()
        self._go(STEP_RESULT)
        def import_file(ops: Operations, state: TaskState) -> ie.ImportResult:
            # checked against the dry run's view of the store: rows changed since it are conflicts too
            return ops.importexport.apply(file, fmt, mapping=mapping, on_conflict=on_conflict, baseline=report,
                                          progress=state.report, cancel=state.cancelled)

        self._start(self.tr("Importing {name}").format(name=name), import_file, self._on_imported,
                    self._on_import_error, write=True)

    def _on_imported(self, result: ie.ImportResult) -> None:
        self.result = result
        self.result_page.show_result(result)
        self._update_buttons()

    def _on_import_error(self, exc: BaseException) -> None:
        if isinstance(exc, ie.ImportRejected):   # the store changed since the dry run: show the new problems
            if exc.report.baseline is None and self.report is not None:
                exc.report.baseline = self.report.baseline   # still measured against the first check
            self.report = exc.report              # (or conflicts, ImportConflicts)
            self.check_page.show_report(exc.report)
            self._go(STEP_CHECK)
            return
        self.result_page.title.setText(self.tr("Nothing was imported"))
        self.result_page.text.setText("")
        level = "info" if isinstance(exc, ie.Cancelled) else "error"
        self.result_page.banner.show_message(error_message(exc, limit=8), level)
        self._go(STEP_CHECK if isinstance(exc, ie.Cancelled) else STEP_RESULT)
        if isinstance(exc, ie.Cancelled):
            self.check_page.banner.show_message(self.tr("Import cancelled; nothing was written."), "info")
