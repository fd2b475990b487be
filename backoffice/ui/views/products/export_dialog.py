"""Export products: the rows matching the grid's filter, or the whole catalog, to CSV, XLSX or Shopify
CSV, written in the background with progress and Cancel (a cancelled export leaves no file)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.importexport import Cancelled, VariantFilter
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import muted

SUFFIXES = {"csv": ".csv", "xlsx": ".xlsx", "shopify": ".csv"}


class ExportDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, filter: VariantFilter, row_count: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.filter, self.row_count = context, tasks, filter, row_count
        self.runner = Runner(context, tasks, self)
        self.job: TaskState | None = None
        self.written: int | None = None
        self.written_path: Path | None = None
        self._chosen_by_dialog = False
        self._close_when_idle = False
        self.setWindowTitle(self.tr("Export products"))
        self.resize(640, 360)

        self.format = QComboBox()
        self.format.addItem(self.tr("CSV (opens anywhere; imports back unchanged)"), "csv")
        self.format.addItem(self.tr("Excel workbook (.xlsx)"), "xlsx")
        self.format.addItem(self.tr("Shopify product CSV"), "shopify")
        self.format.currentIndexChanged.connect(self._on_format)
        self.filtered = QRadioButton(plural(row_count, self.tr("The {n} row matching the current filter"),
                                            self.tr("The {n} rows matching the current filter")))
        self.everything = QRadioButton(self.tr("The whole catalog"))
        scope = QButtonGroup(self)
        scope.addButton(self.filtered)
        scope.addButton(self.everything)
        self.filtered.setChecked(True)
        if filter == VariantFilter():   # no filter: both choices are the same
            self.filtered.setText(plural(row_count, self.tr("All {n} row of the catalog"),
                                         self.tr("All {n} rows of the catalog")))
            self.everything.hide()
        self.path = QLineEdit()
        self.path.setPlaceholderText(self.tr("Where to save the file"))
        self.path.textEdited.connect(self._on_path_edited)
        self.choose = QPushButton(self.tr("Choose…"))
        self.choose.clicked.connect(self.choose_file)
        self.banner = MessageBanner()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = muted(wrap=False)
        self.status.hide()

        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.choose)
        scope_box = QVBoxLayout()
        scope_box.setSpacing(6)
        scope_box.addWidget(self.filtered)
        scope_box.addWidget(self.everything)
        form = QFormLayout()
        form.setVerticalSpacing(12)
        form.addRow(self.tr("Format"), self.format)
        form.addRow(self.tr("Rows"), scope_box)
        form.addRow(self.tr("File"), path_row)

        self.cancel_button = QPushButton(self.tr("Cancel export"))
        self.cancel_button.clicked.connect(self.cancel_job)
        self.cancel_button.hide()
        self.open_folder = QPushButton(self.tr("Open folder"))
        self.open_folder.clicked.connect(self._open_folder)
        self.open_folder.hide()
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        self.export_button = QPushButton(self.tr("Export"))
        self.export_button.setProperty("primary", True)
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.open_folder)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.export_button)

        title = QLabel(self.tr("Export products"))
        title.setObjectName("PageTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(14)
        layout.addWidget(title)
        layout.addWidget(muted(self.tr("One row per variant, with its product's fields: the same columns the import "
                                       "reads.")))
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.banner)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.path.setText(str(Path.home() / ("products" + SUFFIXES["csv"])))
        self._update_buttons()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def chosen_filter(self) -> VariantFilter:
        return self.filter if self.filtered.isChecked() else VariantFilter()

    def _on_format(self) -> None:
        text = self.path.text().strip()
        if text:   # keep the name, follow the format's extension
            self.path.setText(str(Path(text).with_suffix(SUFFIXES[self.format.currentData()])))

    def _on_path_edited(self) -> None:
        self._chosen_by_dialog = False
        self._update_buttons()

    def choose_file(self) -> None:
        fmt = self.format.currentData()
        pattern = self.tr("Excel workbook (*.xlsx)") if fmt == "xlsx" else self.tr("CSV file (*.csv)")
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Export products"), self.path.text(), pattern)
        if name:
            self.path.setText(str(Path(name).with_suffix(SUFFIXES[fmt])))
            self._chosen_by_dialog = True   # the file dialog already asked about replacing a file
            self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.busy
        self.export_button.setEnabled(not busy and bool(self.path.text().strip()) and self.context.ops is not None)
        for w in (self.format, self.filtered, self.everything, self.path, self.choose):
            w.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.progress.setVisible(busy)
        self.status.setVisible(busy)

    def confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(self, self.tr("Replace file"),
                                      self.tr("{name} already exists. Replace it?").format(name=path.name),
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def export(self) -> None:
        text = self.path.text().strip()
        if self.context.ops is None or not text or self.busy:
            return
        path = Path(text).expanduser()
        if path.exists() and not self._chosen_by_dialog and not self.confirm_replace(path):
            return
        fmt, flt = self.format.currentData(), self.chosen_filter()
        state = TaskState(self.tr("Exporting to {name}").format(name=path.name), parent=self)
        state.progress_changed.connect(lambda f: self.progress.setValue(int(f * 1000)))
        state.status_changed.connect(self.status.setText)
        self.job = state
        self.written = None
        self.progress.setValue(0)
        self.status.setText(state.title)
        self.banner.hide()
        self.open_folder.hide()
        self.cancel_button.setEnabled(True)
        self._update_buttons()
        if not self.runner.read(lambda ops: ops.importexport.export(path, fmt, flt, progress=state.report,
                                                                    cancel=state.cancelled),
                                lambda n: self._on_done(path, n), on_error=self._on_error, state=state):
            self._on_error(ConnectionError(self.tr("Not connected to a database.")))

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)

    def _finished(self) -> bool:
        """The job ended; True if the dialog was asked to close meanwhile (and now has)."""
        self.job = None
        if self._close_when_idle:
            super().done(QDialog.DialogCode.Rejected)
            return True
        return False

    def _on_done(self, path: Path, n: int) -> None:
        if self._finished():
            return
        self.written, self.written_path = n, path
        self._update_buttons()
        self.banner.show_message(plural(n, self.tr("Wrote {n} row to {path}."), self.tr("Wrote {n} rows to {path}."),
                                        path=str(path)), "success")
        self.open_folder.show()
        self.close_button.setText(self.tr("Done"))

    def _on_error(self, exc: BaseException) -> None:
        if self._finished():
            return
        self._update_buttons()
        if isinstance(exc, Cancelled):
            self.banner.show_message(self.tr("Export cancelled; no file was written."), "info")
        else:
            self.banner.show_message(self.tr("The export failed: {error}").format(error=error_message(exc)), "error")

    def _open_folder(self) -> None:
        if self.written_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.written_path.parent)))

    def done(self, result: int) -> None:
        if self.job is not None:   # the worker stops at its next check, removes the partial file, then we close
            self._close_when_idle = True
            self.cancel_job()
            return
        super().done(result)

