"""The pages of the import wizard: choose a file, map its columns, see the dry run, see the result.
Pages only show what they are handed and say what the user chose; the wizard runs the work."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import importexport as ie
from backoffice.ui.format import NO_VALUE, format_count
from backoffice.ui.views.products.dialog_parts import tr
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, heading, make_table, muted

FORMATS = (("auto", QT_TRANSLATE_NOOP("ProductsDialogs", "Detect automatically")),
           ("csv", QT_TRANSLATE_NOOP("ProductsDialogs", "CSV (native columns)")),
           ("xlsx", QT_TRANSLATE_NOOP("ProductsDialogs", "Excel workbook (.xlsx)")),
           ("shopify", QT_TRANSLATE_NOOP("ProductsDialogs", "Shopify product CSV")))
TARGET_LABELS = {
    "handle": QT_TRANSLATE_NOOP("ProductsDialogs", "Handle"),
    "title": QT_TRANSLATE_NOOP("ProductsDialogs", "Title"),
    "description": QT_TRANSLATE_NOOP("ProductsDialogs", "Description"),
    "vendor": QT_TRANSLATE_NOOP("ProductsDialogs", "Vendor"),
    "product_type": QT_TRANSLATE_NOOP("ProductsDialogs", "Product type"),
    "status": QT_TRANSLATE_NOOP("ProductsDialogs", "Status"),
    "category": QT_TRANSLATE_NOOP("ProductsDialogs", "Category path"),
    "tags": QT_TRANSLATE_NOOP("ProductsDialogs", "Tags"),
    "seo_title": QT_TRANSLATE_NOOP("ProductsDialogs", "SEO title"),
    "seo_description": QT_TRANSLATE_NOOP("ProductsDialogs", "SEO description"),
    "sku": QT_TRANSLATE_NOOP("ProductsDialogs", "SKU"),
    "barcode": QT_TRANSLATE_NOOP("ProductsDialogs", "Barcode"),
    "price": QT_TRANSLATE_NOOP("ProductsDialogs", "Price"),
    "compare_at_price": QT_TRANSLATE_NOOP("ProductsDialogs", "Compare-at price"),
    "cost": QT_TRANSLATE_NOOP("ProductsDialogs", "Cost"),
    "weight_grams": QT_TRANSLATE_NOOP("ProductsDialogs", "Weight in grams"),
    "variant_status": QT_TRANSLATE_NOOP("ProductsDialogs", "Variant status"),
    "options": QT_TRANSLATE_NOOP("ProductsDialogs", "Options (size=M; colour=Red)"),
    "version": QT_TRANSLATE_NOOP("ProductsDialogs", "Version (as exported)"),
    "product_version": QT_TRANSLATE_NOOP("ProductsDialogs", "Product version (as exported)"),
    "published": QT_TRANSLATE_NOOP("ProductsDialogs", "Published (Shopify)"),
}


def target_label(target: str) -> str:
    if target.startswith("option") and target[6:7].isdigit():
        n, part = target[6:].split("_")
        return (tr("Option {n} name") if part == "name" else tr("Option {n} value")).format(n=n)
    return tr(TARGET_LABELS.get(target, target))


class FilePage(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = QLineEdit()
        self.path.setPlaceholderText(self.tr("A CSV or Excel file of products, one row per variant"))
        self.choose = QPushButton(self.tr("Choose…"))
        self.choose.clicked.connect(self.choose_file)
        self.format = QComboBox()
        for key, label in FORMATS:
            self.format.addItem(tr(label), key)
        self.banner = MessageBanner()
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(self.choose)
        form = QFormLayout()
        form.setVerticalSpacing(12)
        form.addRow(self.tr("File"), row)
        form.addRow(self.tr("Format"), self.format)
        help_text = muted(self.tr(
            "Rows are matched to the store by SKU, products by handle. Columns with other names (“Item code”, "
            "“Retail”) are mapped in the next step. Nothing is written until the file has been checked and you "
            "click Import; an import is all or nothing, and can be reverted later."))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(14)
        layout.addWidget(heading(self.tr("Choose the file to import")))
        layout.addLayout(form)
        layout.addWidget(help_text)
        layout.addWidget(self.banner)
        layout.addStretch(1)
        self.path.textChanged.connect(self.changed)

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Import products"), self.path.text(),
                                              self.tr("Product files (*.csv *.txt *.xlsx);;All files (*)"))
        if name:
            self.path.setText(name)

    def chosen(self) -> tuple[str, str]:
        return self.path.text().strip(), self.format.currentData()


class MappingPage(QWidget):
    """Each header of the file with sample values and the native column it is read as."""

    changed = Signal()
    COL_HEADER, COL_SAMPLES, COL_TARGET = range(3)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview: ie.FilePreview | None = None
        self.combos: dict[str, QComboBox] = {}
        self.info = muted()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels([self.tr("Column in the file"), self.tr("First values"),
                                              self.tr("Import as")])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(34)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(self.COL_SAMPLES, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(self.COL_HEADER, 200)
        self.table.setColumnWidth(self.COL_TARGET, 330)
        self.problems = QLabel()
        self.problems.setObjectName("ErrorText")
        self.problems.setWordWrap(True)
        self.notes = muted()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(heading(self.tr("Match the file's columns")))
        layout.addWidget(self.info)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problems)
        layout.addWidget(self.notes)

    def set_preview(self, preview: ie.FilePreview, previous: dict[str, str | None] | None = None) -> None:
        self.preview = preview
        targets = ie.TARGETS + (("published",) if preview.format == "shopify" else ())
        headers = [h for h in preview.headers if h]
        self.table.setRowCount(len(headers))
        self.combos = {}
        for row, h in enumerate(headers):
            self.table.setItem(row, self.COL_HEADER, QTableWidgetItem(h))
            samples = QTableWidgetItem(" · ".join(preview.samples(h)))
            samples.setToolTip("\n".join(preview.samples(h, 10)))
            self.table.setItem(row, self.COL_SAMPLES, samples)
            combo = QComboBox()
            combo.addItem(self.tr("Don't import"), None)
            for t in targets:
                combo.addItem(f"{target_label(t)}  ({t})", t)
            wanted = previous[h] if previous and h in previous else preview.suggested.get(h)
            combo.setCurrentIndex(max(0, combo.findData(wanted)))
            combo.currentIndexChanged.connect(self._on_changed)
            self.table.setCellWidget(row, self.COL_TARGET, combo)
            self.combos[h] = combo
        kind = self.tr("Shopify product CSV") if preview.format == "shopify" else (
            self.tr("Excel workbook") if preview.container == "xlsx" else self.tr("CSV file"))
        self.info.setText(self.tr("{name} · {kind} · {n} columns. Each column is read as the product field chosen "
                                  "on its right; the choices were suggested from the column names.").format(
            name=preview.name, kind=kind, n=format_count(len(headers))))
        self.notes.setText("\n".join(preview.notes))
        self.notes.setVisible(bool(preview.notes))
        self._on_changed()

    def set_target(self, header: str, target: str | None) -> None:
        combo = self.combos[header]
        combo.setCurrentIndex(max(0, combo.findData(target)))

    def mapping(self) -> dict[str, str | None]:
        return {h: combo.currentData() for h, combo in self.combos.items()}

    def mapping_problems(self) -> list[str]:
        if self.preview is None:
            return [self.tr("Choose a file first.")]
        return ie.mapping_problems(self.mapping(), self.preview.format)

    def _on_changed(self) -> None:
        problems = self.mapping_problems()
        self.problems.setText("\n".join(problems))
        self.problems.setVisible(bool(problems))
        self.changed.emit()


CONFLICT_CHOICES = (("refuse", QT_TRANSLATE_NOOP("ProductsDialogs", "Choose what to do with them…")),
                    ("skip", QT_TRANSLATE_NOOP("ProductsDialogs", "Skip those rows: keep the store's values")),
                    ("overwrite", QT_TRANSLATE_NOOP("ProductsDialogs", "Overwrite them with the file's values")))


def _shown(value: object) -> str:
    if value is None or value == "" or value == []:
        return NO_VALUE
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _when(iso: str | None) -> str:
    """"2026-03-01T09:30:12+00:00" as "2026-03-01 09:30 UTC"."""
    if not iso:
        return ""
    return iso[:16].replace("T", " ") + (" UTC" if iso.endswith("+00:00") else "")


class CheckPage(QWidget):
    """The dry run's counts, every problem (row, column, message), and the conflicts: rows someone else
    changed since the file was exported, with the file's and the store's value, who and when; the user
    chooses to skip those rows or to overwrite them."""

    save_report_requested = Signal()
    conflict_choice_changed = Signal()
    COUNTS = (("new_products", QT_TRANSLATE_NOOP("ProductsDialogs", "New products")),
              ("new_variants", QT_TRANSLATE_NOOP("ProductsDialogs", "New variants")),
              ("updated_products", QT_TRANSLATE_NOOP("ProductsDialogs", "Updated products")),
              ("updated_variants", QT_TRANSLATE_NOOP("ProductsDialogs", "Updated variants")),
              ("unchanged_variants", QT_TRANSLATE_NOOP("ProductsDialogs", "Unchanged variants")))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = heading(self.tr("Checking the file…"))
        self.banner = MessageBanner()
        self.count_labels: dict[str, QLabel] = {}
        card = QFrame()
        card.setObjectName("Card")
        grid = QGridLayout(card)
        grid.setContentsMargins(16, 12, 16, 12)
        grid.setHorizontalSpacing(28)
        for col, (key, label) in enumerate(self.COUNTS):
            number = QLabel("–")
            number.setObjectName("EmptyTitle")
            self.count_labels[key] = number
            grid.addWidget(number, 0, col)
            grid.addWidget(muted(tr(label), wrap=False), 1, col)
        grid.setColumnStretch(len(self.COUNTS), 1)
        self.details = muted()
        self.problems_model = RowsModel([self.tr("Row"), self.tr("Column"), self.tr("Problem")], align_right=(0,),
                                        parent=self)
        self.problems_table = make_table(self.problems_model, {0: 70, 1: 180})
        self.save_button = QPushButton(self.tr("Save error report…"))
        self.save_button.clicked.connect(self.save_report_requested)
        problems_bar = QHBoxLayout()
        self.problems_title = heading(self.tr("Problems"))
        problems_bar.addWidget(self.problems_title)
        problems_bar.addStretch(1)
        problems_bar.addWidget(self.save_button)
        self.conflicts_model = RowsModel([self.tr("Row"), self.tr("Field"), self.tr("In the file"),
                                          self.tr("In the store now"), self.tr("Changed by"), self.tr("Changed at")],
                                         colours={2: "#9C0006", 3: "#006100"}, align_right=(0,), parent=self)
        self.conflicts_table = make_table(self.conflicts_model, {0: 60, 1: 150, 2: 150, 3: 150, 4: 110})
        self.conflicts_title = heading(self.tr("Conflicts"))
        self.conflict_choice = QComboBox()
        for key, label in CONFLICT_CHOICES:
            self.conflict_choice.addItem(tr(label), key)
        self.conflict_choice.currentIndexChanged.connect(self.conflict_choice_changed)
        conflicts_bar = QHBoxLayout()
        conflicts_bar.addWidget(self.conflicts_title)
        conflicts_bar.addStretch(1)
        conflicts_bar.addWidget(self.conflict_choice)
        self.conflicts_help = muted(self.tr(
            "These rows were changed by someone else since the file was exported, and their cells differ from "
            "the store. Cells the file left as exported never overwrite newer values."))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.title)
        layout.addWidget(card)
        layout.addWidget(self.details)
        layout.addWidget(self.banner)
        layout.addLayout(conflicts_bar)
        layout.addWidget(self.conflicts_help)
        layout.addWidget(self.conflicts_table, 1)
        layout.addLayout(problems_bar)
        layout.addWidget(self.problems_table, 1)
        self.clear()

    def on_conflict(self) -> str:
        """What to do with conflicting rows: "refuse" until the user chooses skip or overwrite."""
        return self.conflict_choice.currentData()

    def _show_conflicts(self, visible: bool) -> None:
        for w in (self.conflicts_title, self.conflict_choice, self.conflicts_help, self.conflicts_table):
            w.setVisible(visible)

    def clear(self) -> None:
        self.title.setText(self.tr("Checking the file…"))
        for label in self.count_labels.values():
            label.setText("–")
        self.details.hide()
        self.banner.hide()
        self.problems_model.clear()
        self._show_problems(False)
        self.conflicts_model.clear()
        self.conflict_choice.setCurrentIndex(0)
        self._show_conflicts(False)

    def _show_problems(self, visible: bool) -> None:
        self.problems_title.setVisible(visible)
        self.save_button.setVisible(visible)
        self.problems_table.setVisible(visible)

    def show_report(self, report: ie.ImportReport) -> None:
        self.title.setText(self.tr("Checked {name}: {rows} rows").format(name=report.file, rows=format_count(report.rows)))
        for key, label in self.count_labels.items():
            label.setText(format_count(getattr(report, key)))
        lines = []
        if report.new_attribute_values:
            lines.append(self.tr("New option values: {values}").format(values=", ".join(report.new_attribute_values[:12])
                                                                        + (" …" if len(report.new_attribute_values) > 12 else "")))
        if report.skipped_rows:
            lines.append(self.tr("{n} image-only rows are skipped.").format(n=format_count(report.skipped_rows)))
        lines.extend(report.notes)
        self.details.setText("\n".join(lines))
        self.details.setVisible(bool(lines))
        self.problems_model.set_rows([(format_count(p.row) if p.row else self.tr("file"), p.column, p.message)
                                      for p in report.problems], report.problems)
        self.problems_title.setText(self.tr("Problems ({n})").format(n=format_count(len(report.problems))))
        self._show_problems(bool(report.problems))
        self.conflicts_model.set_rows([(format_count(c.row), f"{c.column} ({c.label})", _shown(c.file_value),
                                        _shown(c.current_value), c.changed_by or "", _when(c.changed_at))
                                       for c in report.conflicts], report.conflicts)
        self.conflicts_title.setText(self.tr("Conflicts: {rows} rows, {cells} cells").format(
            rows=format_count(report.conflict_rows), cells=format_count(report.conflict_count)))
        self._show_conflicts(bool(report.conflict_rows))
        if report.problem_count > len(report.problems):
            self.problems_title.setText(self.tr("Problems ({n}, the first {shown} listed)").format(
                n=format_count(report.problem_count), shown=format_count(len(report.problems))))
        if report.problems:
            self.banner.show_message(self.tr("{n} problems: nothing can be imported while any row is bad. Fix them "
                                             "in the file (the error report marks each bad cell) and check it again.")
                                     .format(n=format_count(len(report.problems))), "error")
        elif report.conflict_rows:
            self.show_conflict_banner(report)
        elif not report.changed_rows:
            self.banner.show_message(self.tr("Nothing to import: the store already matches the file."), "info")
        else:
            self.banner.show_message(self.tr("Every row is fine. Nothing has been written yet: click Import to apply "
                                             "the file as one changeset."), "success")


    def show_conflict_banner(self, report: ie.ImportReport) -> None:
        n = format_count(report.conflict_rows)
        choice = self.on_conflict()
        if choice == "skip":
            text, level = self.tr("{n} conflicting rows will be skipped; the other rows are imported.").format(n=n), "info"
        elif choice == "overwrite":
            text, level = self.tr("{n} conflicting rows will be overwritten with the file's values.").format(n=n), "warning"
        else:
            text, level = self.tr("{n} rows were changed by someone else since the file was exported. Choose to "
                                  "skip them or to overwrite them before importing.").format(n=n), "error"
        self.banner.show_message(text, level)


class ResultPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = heading(self.tr("Importing…"), "EmptyTitle")
        self.text = muted()
        self.text.setWordWrap(True)
        self.banner = MessageBanner()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addWidget(self.banner)
        layout.addStretch(1)

    def show_result(self, result: ie.ImportResult) -> None:
        if result.changeset_id is None:
            self.title.setText(self.tr("Nothing to import"))
            self.text.setText(self.tr("The store already matches the file; no changeset was made."))
            return
        self.title.setText(self.tr("Imported as changeset #{id}").format(id=result.changeset_id))
        parts = [(result.new_products, self.tr("new products")), (result.new_variants, self.tr("new variants")),
                 (result.updated_products, self.tr("updated products")),
                 (result.updated_variants, self.tr("updated variants")),
                 (result.unchanged_variants, self.tr("unchanged variants"))]
        if result.conflict_rows:
            parts.append((result.conflict_rows, self.tr("conflicting rows overwritten") if result.on_conflict == "overwrite"
                          else self.tr("conflicting rows skipped")))
        lines = [", ".join(f"{format_count(n)} {what}" for n, what in parts)]
        lines.append(self.tr("The import can be reverted from the changesets panel."))
        lines.extend(result.notes)
        self.text.setText("\n".join(lines))
