"""Description templates: edit a template with a live preview on one product, then apply it to the grid's
filter or selection.

The live preview renders the text in the editor (saved or not) for the product named in "Preview on"
with ``ops.content.render_sample`` in the background, a moment after the last keystroke; an answer for
an older text is dropped. "Preview changes" renders the saved template for every product of the target
(``ops.content.preview``, with progress and Cancel): the products that change with before/after, and
those it cannot render with the reason. "Apply" writes them as one changeset (``ops.content.apply``
with the preview's stamp): products changed since the preview are conflicts, left as they are.
"""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.content import TEMPLATE_FIELDS, ContentPreview, SampleRender, Target, TemplateInfo
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_count, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, before_after_colours, make_table, muted

LIVE_PREVIEW_MS = 300
FIELD_NAMES = {"description": "Description", "seo_title": "SEO title", "seo_description": "SEO description"}
STARTER = ("<p>{{ title }}{% if vendor %} by {{ vendor }}{% endif %}.</p>\n"
           "{% if attributes %}\n<ul>\n{% for name, values in attributes.items() %}"
           "  <li>{{ name }}: {{ values|join(', ') }}</li>\n{% endfor %}</ul>\n{% endif %}")


def _one_line(text: str, width: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[:width - 1] + "…"


class ContentTemplatesDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, targets: list[tuple[str, Target]],
                 sample_handle: str = "", parent: QWidget | None = None) -> None:
        """``targets``: what Apply may work on, as (label, target): the grid's filter, the selection."""
        super().__init__(parent)
        self.context, self.tasks, self.targets = context, tasks, targets
        self.runner = Runner(context, tasks, self)
        self.saved: dict[str, TemplateInfo] = {}
        self.preview_result: ContentPreview | None = None
        self.preview_state: TaskState | None = None
        self._sample_seq = 0
        self._applying = False
        self.setWindowTitle(self.tr("Description templates"))
        self.resize(1080, 760)

        # -- the list of templates ----------------------------------------------------------------------
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._on_pick)
        new_button = QPushButton(self.tr("New"))
        new_button.clicked.connect(self.new_template)
        self.delete_button = QPushButton(self.tr("Delete"))
        self.delete_button.clicked.connect(self.delete_template)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel(self.tr("Templates")))
        left_layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(new_button)
        row.addWidget(self.delete_button)
        left_layout.addLayout(row)

        # -- the editor ---------------------------------------------------------------------------------
        self.name = QLineEdit()
        self.name.setPlaceholderText(self.tr("e.g. Knitwear description"))
        self.field = QComboBox()
        for key in TEMPLATE_FIELDS:
            self.field.addItem(self.tr(FIELD_NAMES[key]), key)
        self.source = QPlainTextEdit()
        self.source.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.source.setPlaceholderText(self.tr("{{ title }} in {{ attributes.Colour|join(', ') }}…"))
        self.fields_help = muted(wrap=True)
        self.sample_handle = QLineEdit(sample_handle)
        self.sample_handle.setPlaceholderText(self.tr("product handle"))
        self.sample_after = QPlainTextEdit()
        self.sample_after.setReadOnly(True)
        self.sample_status = muted()
        self.save_button = QPushButton(self.tr("Save template"))
        self.save_button.clicked.connect(self.save_template)
        form = QFormLayout()
        form.addRow(self.tr("Name"), self.name)
        form.addRow(self.tr("Writes"), self.field)
        editor = QWidget()
        editor_layout = QVBoxLayout(editor)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        editor_layout.addLayout(form)
        editor_layout.addWidget(self.source, 3)
        editor_layout.addWidget(self.fields_help)
        sample_row = QHBoxLayout()
        sample_row.addWidget(QLabel(self.tr("Preview on")))
        sample_row.addWidget(self.sample_handle, 1)
        sample_row.addWidget(self.save_button)
        editor_layout.addLayout(sample_row)
        editor_layout.addWidget(self.sample_status)
        editor_layout.addWidget(self.sample_after, 2)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(editor)
        splitter.setSizes([220, 860])

        # -- bulk preview and apply ---------------------------------------------------------------------
        self.target = QComboBox()
        for label, _ in targets:
            self.target.addItem(label)
        self.target.currentIndexChanged.connect(self._forget_preview)
        self.summary = QLabel(self.tr("Preview the changes to see what the template would write."))
        self.summary.setObjectName("DetailsTitle")
        self.banner = MessageBanner()
        self.changes_model = RowsModel([self.tr("Product"), self.tr("Before"), self.tr("After")],
                                       colours=before_after_colours(1, 2), parent=self)
        self.problems_model = RowsModel([self.tr("Product"), self.tr("Field"), self.tr("Why it cannot be rendered")],
                                        parent=self)
        self.conflicts_model = RowsModel([self.tr("Product"), self.tr("Field"), self.tr("Value now")], parent=self)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(make_table(self.changes_model, {0: 220}, stretch=(1, 2)), self.tr("Changes"))
        self.tabs.addTab(make_table(self.problems_model, {0: 220, 1: 120}), self.tr("Problems"))
        self.tabs.addTab(make_table(self.conflicts_model, {0: 220, 1: 120}), self.tr("Conflicts"))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(160)
        self.progress.hide()
        self.reason = muted()
        self.preview_button = QPushButton(self.tr("Preview changes"))
        self.preview_button.clicked.connect(self.preview)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel_preview)
        self.cancel_button.hide()
        self.apply_button = QPushButton(self.tr("Apply"))
        self.apply_button.setProperty("primary", True)
        self.apply_button.clicked.connect(self.apply)
        close_button = QPushButton(self.tr("Close"))
        close_button.clicked.connect(self.reject)
        bottom = QFrame()
        bottom.setObjectName("Card")
        bottom_layout = QVBoxLayout(bottom)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel(self.tr("Apply to")))
        target_row.addWidget(self.target, 1)
        bottom_layout.addLayout(target_row)
        bottom_layout.addWidget(self.summary)
        bottom_layout.addWidget(self.banner)
        bottom_layout.addWidget(self.tabs, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress)
        buttons.addWidget(self.reason, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(close_button)
        buttons.addWidget(self.apply_button)

        title = QLabel(self.tr("Description templates"))
        title.setObjectName("PageTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(title)
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(splitter)
        vertical.addWidget(bottom)
        vertical.setSizes([430, 330])
        layout.addWidget(vertical, 1)
        layout.addLayout(buttons)

        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_PREVIEW_MS)
        self._live.timeout.connect(self.render_sample)
        for signal in (self.source.textChanged, self.sample_handle.textChanged, self.name.textChanged):
            signal.connect(self._on_edited)
        self.field.currentIndexChanged.connect(self._on_edited)
        self._update_tabs()
        self._update_buttons()
        self.runner.read(lambda ops: (ops.content.templates(), ops.content.fields()), self._on_loaded)

    # -- templates ----------------------------------------------------------------------------------------
    def _on_loaded(self, loaded: tuple[list[TemplateInfo], dict[str, str]]) -> None:
        templates, fields = loaded
        self.fields_help.setText(self.tr("Fields: ") + " · ".join(f"{name}" for name in fields)
                                 + self.tr(" — product values come out as written; see docs/content.md."))
        self.fields_help.setToolTip("\n".join(f"{k}: {v}" for k, v in fields.items()))
        self._show_templates(templates)
        if not templates:
            self.new_template()

    def _show_templates(self, templates: list[TemplateInfo], select: str = "") -> None:
        self.saved = {t.name: t for t in templates}
        self.list.blockSignals(True)
        self.list.clear()
        for t in templates:
            item = QListWidgetItem(f"{t.name}\n{self.tr(FIELD_NAMES.get(t.target_field, t.target_field))}")
            item.setData(Qt.ItemDataRole.UserRole, t.name)
            self.list.addItem(item)
        self.list.blockSignals(False)
        chosen = select or (templates[0].name if templates else "")
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == chosen:
                self.list.setCurrentRow(i)
                break

    def _on_pick(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None = None) -> None:
        if item is None:
            return
        t = self.saved.get(item.data(Qt.ItemDataRole.UserRole))
        if t is None:
            return
        self.name.setText(t.name)
        self.field.setCurrentIndex(self.field.findData(t.target_field))
        self.source.setPlainText(t.source)

    def new_template(self) -> None:
        self.list.clearSelection()
        self.name.setText("")
        self.field.setCurrentIndex(0)
        self.source.setPlainText(STARTER)
        self.name.setFocus()

    def is_saved(self) -> bool:
        t = self.saved.get(self.name.text().strip())
        return t is not None and t.source == self.source.toPlainText() and t.target_field == self.field.currentData()

    def save_template(self) -> None:
        name, field, source = self.name.text().strip(), self.field.currentData(), self.source.toPlainText()
        expected = self.saved[name].version if name in self.saved else None
        op_id = str(uuid.uuid4())
        self.runner.write(lambda ops: (ops.content.save_template(name, field, source, expected_version=expected,
                                                                 op_id=op_id), ops.content.templates()),
                          lambda done: self._show_templates(done[1], done[0].name),
                          on_error=lambda exc: self.banner.show_message(error_message(exc), "error"),
                          success=self.tr("Template saved."))
        self.banner.hide()

    def delete_template(self) -> None:
        name = self.name.text().strip()
        if name not in self.saved:
            return
        answer = QMessageBox.question(self, self.tr("Delete template"), self.tr(
            "Delete the template “{name}”? Descriptions it wrote stay as they are.").format(name=name))
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.runner.write(lambda ops: (ops.content.delete_template(name, op_id=str(uuid.uuid4())),
                                       ops.content.templates())[1],
                          self._show_templates,
                          on_error=lambda exc: self.banner.show_message(error_message(exc), "error"))

    # -- the live preview on one product ------------------------------------------------------------------
    def _on_edited(self, *_args: object) -> None:
        self._forget_preview()
        self._live.start()

    def render_sample(self) -> None:
        handle, source, field = self.sample_handle.text().strip(), self.source.toPlainText(), self.field.currentData()
        if not handle:
            self.sample_status.setText(self.tr("Name a product (its handle) to see the template rendered for it."))
            self.sample_after.setPlainText("")
            return
        if not source.strip():
            self.sample_status.setText(self.tr("The template is empty."))
            self.sample_after.setPlainText("")
            return
        self._sample_seq += 1
        seq = self._sample_seq
        self.sample_status.setText(self.tr("Rendering…"))
        self.runner.read(lambda ops: ops.content.render_sample(source, field, handle),
                         lambda r: self._on_sample(seq, r), on_error=lambda exc: self._on_sample_error(seq, exc))

    def _on_sample(self, seq: int, rendered: SampleRender) -> None:
        if seq != self._sample_seq:
            return      # an answer for an older text
        self.sample_status.setText(self.tr("{handle}: {n} characters (now {m})").format(
            handle=rendered.handle, n=format_count(len(rendered.after)), m=format_count(len(rendered.before))))
        self.sample_after.setPlainText(rendered.after)

    def _on_sample_error(self, seq: int, exc: BaseException) -> None:
        if seq != self._sample_seq:
            return
        self.sample_status.setText(error_message(exc))
        self.sample_after.setPlainText("")

    # -- preview and apply --------------------------------------------------------------------------------
    def current_target(self) -> Target:
        return self.targets[max(0, self.target.currentIndex())][1]

    def _forget_preview(self, *_args: object) -> None:
        if self._applying:
            return
        self.preview_result = None
        self._update_buttons()

    def preview(self) -> None:
        if not self.is_saved():
            self.banner.show_message(self.tr("Save the template first: changes are previewed with the saved "
                                             "template."), "info")
            return
        name, target = self.name.text().strip(), self.current_target()
        state = TaskState(self.tr("Rendering the template"), parent=self)
        state.progress_changed.connect(lambda f: self.progress.setValue(int(f * 1000)))
        state.status_changed.connect(self.reason.setText)
        self.preview_state = state
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.summary.setText(self.tr("Previewing…"))
        self.runner.read(lambda ops: ops.content.preview(name, target, progress=state.report, cancel=state.cancelled),
                         lambda p: self._on_preview(state, p), on_error=lambda exc: self._on_preview_error(state, exc),
                         state=state)
        self._update_buttons()

    def cancel_preview(self) -> None:
        if self.preview_state is not None:
            self.preview_state.cancel()

    def _end_preview(self, state: TaskState) -> bool:
        if state is not self.preview_state:
            return False
        self.preview_state = None
        self.progress.hide()
        self.cancel_button.hide()
        return True

    def _on_preview(self, state: TaskState, p: ContentPreview) -> None:
        if not self._end_preview(state):
            return
        self.preview_result = p
        self.summary.setText(self.tr("{affected} of {n} products will change · {same} already read so · "
                                     "{bad} cannot be rendered").format(
            affected=format_count(p.affected), n=format_count(p.considered), same=format_count(p.unchanged),
            bad=format_count(p.invalid_count)))
        self.changes_model.set_rows([(h, _one_line(b) or self.tr("(empty)"), _one_line(a)) for h, b, a in p.sample])
        self.problems_model.set_rows([(row, f, why) for row, f, why in p.invalid])
        self.conflicts_model.clear()
        if p.invalid_count:
            self.banner.show_message(plural(p.invalid_count, self.tr(
                "{n} product cannot be rendered (see Problems); Apply asks whether to leave it as it is."), self.tr(
                "{n} products cannot be rendered (see Problems); Apply asks whether to leave them as they are.")),
                "warning")
            self.tabs.setCurrentIndex(1)
        else:
            self.banner.hide()
            self.tabs.setCurrentIndex(0)
        self._update_tabs()
        self._update_buttons()

    def _on_preview_error(self, state: TaskState, exc: BaseException) -> None:
        if not self._end_preview(state):
            return
        self.preview_result = None
        cancelled = state.cancelled()
        self.summary.setText(self.tr("The preview was cancelled.") if cancelled else self.tr("The preview failed."))
        if not cancelled:
            self.banner.show_message(error_message(exc), "error")
        self._update_buttons()

    def apply_blocked_reason(self) -> str:
        if self._applying:
            return self.tr("Applying…")
        if self.preview_state is not None:
            return self.tr("Previewing…")
        if not self.is_saved():
            return self.tr("Save the template, then preview the changes.")
        if self.preview_result is None:
            return self.tr("Preview the changes first.")
        if not self.preview_result.affected:
            return self.tr("Nothing to change: every product already reads as the template renders it.")
        return ""

    def apply(self) -> None:
        p = self.preview_result
        if p is None or self.apply_blocked_reason():
            return
        skip = False
        if p.invalid_count:
            answer = QMessageBox.question(self, self.tr("Apply template"), plural(p.invalid_count, self.tr(
                "{n} product cannot be rendered. Apply to the others and leave it as it is?"), self.tr(
                "{n} products cannot be rendered. Apply to the others and leave them as they are?")))
            if answer != QMessageBox.StandardButton.Yes:
                return
            skip = True
        target, op_id = self.current_target(), str(uuid.uuid4())
        self._applying = True
        self._update_buttons()
        self.runner.write(lambda ops: ops.content.apply(p.template_name, target, stamp=p.stamp, skip_invalid=skip,
                                                        template_version=p.template_version, op_id=op_id),
                          self._on_applied, on_error=self._on_apply_error)

    def _on_applied(self, result) -> None:  # type: ignore[no-untyped-def]
        self._applying = False
        self.preview_result = None
        self.conflicts_model.set_rows([(c.label, c.field, _one_line(str(c.theirs or ""))) for c in result.conflicts])
        if result.changeset_id is None:
            self.banner.show_message(self.tr("Nothing was applied."), "info")
        else:
            text = plural(result.applied_rows, self.tr("Applied as changeset #{id}: {n} product changed."),
                          self.tr("Applied as changeset #{id}: {n} products changed."), id=result.changeset_id)
            if result.conflicts:
                text += " " + plural(len(result.conflicts), self.tr(
                    "{n} product changed since the preview was left as it is (see Conflicts)."), self.tr(
                    "{n} products changed since the preview were left as they are (see Conflicts)."))
                self.tabs.setCurrentIndex(2)
            self.banner.show_message(text, "warning" if result.conflicts else "success")
        self._update_tabs()
        self._update_buttons()

    def _on_apply_error(self, exc: BaseException) -> None:
        self._applying = False
        self.banner.show_message(self.tr("Nothing was written: {error}").format(error=error_message(exc)), "error")
        self._update_buttons()

    def _update_tabs(self) -> None:
        self.tabs.setTabText(0, self.tr("Changes ({n})").format(
            n=format_count(self.preview_result.affected if self.preview_result else self.changes_model.rowCount())))
        self.tabs.setTabText(1, self.tr("Problems ({n})").format(n=format_count(self.problems_model.rowCount())))
        self.tabs.setTabText(2, self.tr("Conflicts ({n})").format(n=format_count(self.conflicts_model.rowCount())))
        self.tabs.setTabVisible(1, self.problems_model.rowCount() > 0)
        self.tabs.setTabVisible(2, self.conflicts_model.rowCount() > 0)

    def _update_buttons(self) -> None:
        blocked = self.apply_blocked_reason()
        self.apply_button.setEnabled(not blocked)
        p = self.preview_result
        self.apply_button.setText(plural(p.affected, self.tr("Apply to {n} product"), self.tr("Apply to {n} products"))
                                  if p is not None and not blocked else self.tr("Apply"))
        if self.preview_state is None:
            self.reason.setText(blocked)
        self.preview_button.setEnabled(not self._applying and self.preview_state is None)
        self.delete_button.setEnabled(self.name.text().strip() in self.saved)
