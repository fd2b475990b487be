"""Bulk upload: choose files or a folder (or drop them), review how each name was matched — matched,
ambiguous (pick one), unmatched (pick a product or skip), rejected with the reason — then ingest with a
progress bar and Cancel. Matching and ingest run in the background; nothing is written before Upload."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.images import (
    IMAGE_SUFFIXES,
    IngestResult,
    ProductHit,
    RenditionSettings,
    UploadPlan,
    UploadTarget,
    describe_size,
)
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.views.images.models import COL_FILE, COL_NOTE, COL_STATUS, COL_TARGET, ReviewModel
from backoffice.ui.widgets.banner import MessageBanner

PATTERNS = ("auto", "{sku}_{n}.jpg", "{sku}-{n}", "{handle}_{n}", "{handle}-{n}", "{sku}", "{handle}")


class BulkUploadDialog(QDialog):
    ingested = Signal(object)   # IngestResult, after a finished (not cancelled) upload

    def __init__(self, context: AppContext, tasks: TaskManager, product: ProductHit | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.product = context, tasks, product
        self.runner = Runner(context, tasks, self)
        self.paths: list[str] = []
        self.plan: UploadPlan | None = None
        self.result: IngestResult | None = None
        self.job: TaskState | None = None
        self.busy = False
        self.setWindowTitle(self.tr("Upload images"))
        self.setAcceptDrops(True)
        self.resize(960, 600)

        intro = QLabel(self.tr("Choose image files or a folder, or drop them here. Each file name is matched to a "
                               "product by its handle or to a variant by its SKU; you review the matches before "
                               "anything is uploaded."))
        intro.setWordWrap(True)
        intro.setObjectName("Muted")
        self.add_files_button = QPushButton(self.tr("Add files…"))
        self.add_files_button.clicked.connect(self.choose_files)
        self.add_folder_button = QPushButton(self.tr("Add folder…"))
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.clear_button = QPushButton(self.tr("Clear"))
        self.clear_button.setProperty("flat", True)
        self.clear_button.clicked.connect(self.clear)
        self.chosen_label = QLabel()
        self.chosen_label.setObjectName("Muted")
        self.pattern = QComboBox()
        self.pattern.setEditable(True)
        self.pattern.addItems(PATTERNS)
        self.pattern.setToolTip(self.tr("How names carry the SKU or handle: auto, placeholders such as {sku}_{n}.jpg "
                                        "({n} is the place in the gallery), or re:REGEX with named groups"))
        self.pattern.currentTextChanged.connect(self._invalidate)
        self.fixed = QCheckBox()
        if product is not None:
            self.fixed.setText(self.tr("Put every file in “{title}”").format(title=product.title))
        self.fixed.setVisible(product is not None)
        self.fixed.toggled.connect(self._invalidate)
        self.web_format = QComboBox()
        self.web_format.addItem("JPEG", "jpeg")
        self.web_format.addItem("WebP", "webp")
        self.max_edge = QSpinBox()
        self.max_edge.setRange(256, 8000)
        self.max_edge.setSingleStep(256)
        self.max_edge.setValue(2048)
        self.max_edge.setSuffix(" px")
        self.quality = QSpinBox()
        self.quality.setRange(30, 100)
        self.quality.setValue(85)
        self.review_button = QPushButton(self.tr("Review matches"))
        self.review_button.clicked.connect(self.review)

        self.model = ReviewModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_NOTE, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_FILE, 290), (COL_STATUS, 96), (COL_TARGET, 260)):
            self.table.setColumnWidth(col, width)
        self.counts_label = QLabel()
        self.banner = MessageBanner()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel()
        self.status.setObjectName("Muted")
        self.cancel_button = QPushButton(self.tr("Cancel upload"))
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        self.upload_button = QPushButton(self.tr("Upload"))
        self.upload_button.setProperty("primary", True)
        self.upload_button.clicked.connect(self.upload)

        sources = QHBoxLayout()
        for w in (self.add_files_button, self.add_folder_button, self.clear_button):
            sources.addWidget(w)
        sources.addWidget(self.chosen_label, 1)
        options = QHBoxLayout()
        options.addWidget(QLabel(self.tr("Name pattern")))
        options.addWidget(self.pattern, 1)
        options.addSpacing(12)
        options.addWidget(QLabel(self.tr("Web version")))
        options.addWidget(self.web_format)
        options.addWidget(self.max_edge)
        options.addWidget(QLabel(self.tr("Quality")))
        options.addWidget(self.quality)
        options.addWidget(self.review_button)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.status)
        progress_row.addWidget(self.cancel_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.counts_label, 1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.upload_button)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addLayout(sources)
        layout.addLayout(options)
        layout.addWidget(self.fixed)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addLayout(progress_row)
        layout.addLayout(buttons)
        self._show_progress(False)
        self._refresh()

    # -- sources -----------------------------------------------------------------------------------------
    def choose_files(self) -> None:
        suffixes = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        files, _ = QFileDialog.getOpenFileNames(self, self.tr("Choose images"), "",
                                                self.tr("Images ({suffixes});;All files (*)").format(suffixes=suffixes))
        self.add_paths(files)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose a folder of images"))
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: list[str]) -> None:
        new = [p for p in paths if p and p not in self.paths]
        if new:
            self.paths.extend(new)
            self._invalidate()
            self.review()

    def clear(self) -> None:
        self.paths.clear()
        self._invalidate()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and not self.busy:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.add_paths([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])
        event.acceptProposedAction()

    # -- review ------------------------------------------------------------------------------------------
    def settings(self) -> RenditionSettings:
        return RenditionSettings(web_max_edge=self.max_edge.value(), web_format=self.web_format.currentData(),
                                 web_quality=self.quality.value())

    def _invalidate(self, *_args: object) -> None:
        self.plan, self.result = None, None
        self.model.set_plan(UploadPlan())
        self._refresh()

    def review(self) -> None:
        if self.context.ops is None or not self.paths or self.busy:
            return
        paths, pattern, settings = list(self.paths), self.pattern.currentText().strip() or "auto", self.settings()
        handle = self.product.handle if self.product is not None and self.fixed.isChecked() else None
        self._set_busy(True, self.tr("Matching file names…"))
        self.runner.read(lambda ops: ops.images.plan_upload(paths, pattern=pattern, product_handle=handle,
                                                            settings=settings),
                         self._on_plan, on_error=self._on_error)

    def _on_plan(self, plan: UploadPlan) -> None:
        self._set_busy(False)
        self.plan = plan
        self.model.set_plan(plan)
        self._add_choosers()
        self.banner.hide()
        self._refresh()

    def _add_choosers(self) -> None:
        """A choice per ambiguous file (its candidates) and per unmatched file (the current product)."""
        for row, r in enumerate(self.model.rows):
            options: list[tuple[str, UploadTarget | None]] = []
            if r.status == "ambiguous":
                options = [(self.tr("Choose…"), None)] + [(t.label(), t) for t in r.candidates]
            elif r.status == "unmatched" and self.product is not None:
                target = UploadTarget(self.product.id, self.product.handle, self.product.title)
                options = [(self.tr("Skip"), None), (target.label(), target)]
            if not options:
                continue
            combo = QComboBox()
            for text, target in options:
                combo.addItem(text, target)
            combo.currentIndexChanged.connect(lambda i, row=row, c=combo: self._chosen(row, c.itemData(i)))
            self.table.setIndexWidget(self.model.index(row, COL_TARGET), combo)

    def _chosen(self, row: int, target: UploadTarget | None) -> None:
        self.model.choose(row, target)
        self._refresh()

    # -- ingest ------------------------------------------------------------------------------------------
    def upload(self) -> None:
        planned = self.model.planned()
        if self.context.ops is None or not planned or self.busy or self.result is not None:
            return
        settings = self.settings()
        self.job = state = TaskState(self.tr("Uploading images"), parent=self)
        state.progress_changed.connect(lambda f: self.progress.setValue(int(f * 1000)))
        state.status_changed.connect(self.status.setText)
        self._set_busy(True, self.tr("Optimising {n}…").format(n=plural(len(planned), self.tr("{n} image"),
                                                                          self.tr("{n} images"))))
        self.runner.write(lambda ops: ops.images.upload(planned, settings=settings, progress=state.report,
                                                        cancel=state.cancelled),
                          self._on_ingested, on_error=self._on_error, state=state)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText(self.tr("Cancelling…"))

    def _on_ingested(self, result: IngestResult) -> None:
        self._set_busy(False)
        self.job = None
        if result.cancelled:
            self.banner.show_message(self.tr("Upload cancelled: nothing was added."), "warning")
            self._refresh()
            return
        self.result = result
        self.model.record_outcomes(result.outcomes)
        for row in range(self.model.rowCount()):
            self.table.setIndexWidget(self.model.index(row, COL_TARGET), None)
        added, dupes, failed = len(result.added), len(result.duplicates), len(result.failed)
        parts = [plural(added, self.tr("Added {n} image"), self.tr("Added {n} images"))]
        if added:
            parts[0] += " " + self.tr("(web versions save {size})").format(size=describe_size(max(0, result.bytes_saved)))
        if dupes:
            parts.append(plural(dupes, self.tr("{n} already there"), self.tr("{n} already there")))
        if failed:
            parts.append(plural(failed, self.tr("{n} failed"), self.tr("{n} failed")))
        self.banner.show_message("; ".join(parts) + ".", "warning" if failed else "success")
        self.ingested.emit(result)
        self._refresh()

    def _on_error(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.job = None
        self.banner.show_message(error_text(exc), "error")
        self._refresh()

    # -- state ---------------------------------------------------------------------------------------------
    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        self.status.setText(text)
        self._show_progress(busy)
        if busy:
            self.progress.setValue(0)
        self._refresh()

    def _show_progress(self, shown: bool) -> None:
        for w in (self.progress, self.status):
            w.setVisible(shown)
        self.cancel_button.setVisible(shown and self.job is not None)

    def _refresh(self) -> None:
        n = len(self.paths)
        self.chosen_label.setText(plural(n, self.tr("{n} file or folder chosen"), self.tr("{n} files or folders chosen"))
                                  if n else self.tr("Nothing chosen yet"))
        counts = self.model.counts()
        labels = (("matched", self.tr("matched")), ("ambiguous", self.tr("ambiguous")),
                  ("unmatched", self.tr("unmatched")), ("rejected", self.tr("rejected")), ("added", self.tr("added")),
                  ("duplicate", self.tr("already there")), ("failed", self.tr("failed")))
        self.counts_label.setText(" · ".join(f"{counts[k]} {text}" for k, text in labels if counts.get(k)))
        ready = len(self.model.planned()) if self.result is None else 0
        self.upload_button.setText(plural(ready, self.tr("Upload {n} image"), self.tr("Upload {n} images"))
                                   if ready else self.tr("Upload"))
        self.upload_button.setEnabled(ready > 0 and not self.busy)
        self.review_button.setEnabled(n > 0 and not self.busy)
        for w in (self.add_files_button, self.add_folder_button, self.clear_button, self.pattern, self.fixed):
            w.setEnabled(not self.busy)
        self.close_button.setText(self.tr("Done") if self.result is not None else self.tr("Close"))

    def reject(self) -> None:
        if self.job is not None:
            self.job.cancel()
        super().reject()


