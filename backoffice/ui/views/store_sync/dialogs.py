"""The Store sync view's dialogs: connecting a store (admins), linking one of our locations to a stock
location of the store (admins), and a reconciliation's differences with Fix differences.

Each dialog reads and writes through the contract in the background; a refused write is shown inline,
next to the field it concerns when the error names one, and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import ValidationError
from backoffice.operations.connectors import ConnectionInfo, ReconcileReport, StoreLocation
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_count, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.store_sync.models import KIND_LABELS, DifferencesModel, tr
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.records import setup_table


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("ErrorText")
    label.setWordWrap(True)
    label.hide()
    return label


class ConnectStoreDialog(QDialog):
    """Kind, name, URL, API key (kept in this computer's keyring) and an optional sales channel."""

    connected = Signal(object)   # the ConnectionInfo of the store connected

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(tr("Connect a store"))
        self.setMinimumWidth(520)
        self.kind = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind)
        self.name = QLineEdit("shop")
        self.name.setMaxLength(60)
        self.name.setToolTip(tr("What to call this store here: letters, digits, '.', '_' or '-'"))
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://admin.example.com")
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText(tr("The store's secret API key"))
        self.sales_channel = QLineEdit()
        self.sales_channel.setPlaceholderText(tr("Optional: sc_… (new products are published in it)"))
        self.errors = {field: _error_label() for field in ("kind", "name", "url", "api_key", "sales_channel_id")}
        form = QFormLayout()
        for label, widget, field in ((tr("Kind"), self.kind, "kind"), (tr("Name"), self.name, "name"),
                                     (tr("URL"), self.url, "url"), (tr("API key"), self.api_key, "api_key"),
                                     (tr("Sales channel id"), self.sales_channel, "sales_channel_id")):
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(widget)
            box.addWidget(self.errors[field])
            form.addRow(label, box)
        note = QLabel(tr("The API key is kept in this computer's keyring, never in the database or a file."))
        note.setObjectName("Muted")
        note.setWordWrap(True)
        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = self.buttons.addButton(tr("Connect"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)

    def values(self) -> tuple[str, str, str, str, dict[str, Any]]:
        settings: dict[str, Any] = {}
        if self.sales_channel.text().strip():
            settings["sales_channel_id"] = self.sales_channel.text().strip()
        return (str(self.kind.currentData()), self.name.text().strip(), self.url.text().strip(), self.api_key.text(),
                settings)

    def save(self) -> None:
        self._clear_errors()
        kind, name, url, key, settings = self.values()
        self.connect_button.setEnabled(False)
        if not self.runner.write(lambda ops: ops.connectors.add(kind, name, url, key, settings=settings),
                                 self._saved, on_error=self._failed):
            self.connect_button.setEnabled(True)

    def _saved(self, info: ConnectionInfo) -> None:
        self.connected.emit(info)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.connect_button.setEnabled(True)
        rest = []
        if isinstance(exc, ValidationError):
            for _row, field, message in exc.problems:
                label = self.errors.get(field)
                if label is None:
                    rest.append(message)
                else:
                    label.setText(message)
                    label.show()
            if rest:
                self.banner.show_message("\n".join(rest), "error")
        else:
            self.banner.show_message(error_text(exc), "error")

    def _clear_errors(self) -> None:
        self.banner.hide()
        for label in self.errors.values():
            label.clear()
            label.hide()


class LinkLocationDialog(QDialog):
    """One of our warehouses or stores, the store's stock location it is, and whether our stock is the
    truth there (pushed) or only compared. The store's locations are read from the store."""

    linked = Signal(object)   # the ConnectionInfo after the link

    def __init__(self, context: AppContext, tasks: TaskManager, info: ConnectionInfo,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(context, tasks, self)
        self.info = info
        self.setWindowTitle(tr("Link a location to {store}").format(store=info.name))
        self.setMinimumWidth(540)
        self.ours = QComboBox()
        self.theirs = QComboBox()
        self.theirs.setEditable(True)   # an id typed in when the store cannot be asked
        self.theirs.lineEdit().setPlaceholderText(tr("Loading the store's locations…"))
        self.owned = QCheckBox(tr("Our stock is the truth here: push it to the store"))
        self.owned.setChecked(True)
        self.owned.setToolTip(tr("Off: the store keeps its own stock at this location; it is only compared."))
        form = QFormLayout()
        form.addRow(tr("Our location"), self.ours)
        form.addRow(tr("Store location"), self.theirs)
        form.addRow("", self.owned)
        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.link_button = self.buttons.addButton(tr("Link"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.link_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        name = info.name
        self.runner.read(lambda ops: ops.store.list_locations(include_archived=False), self._on_ours,
                         on_error=self._show_error)
        self.runner.read(lambda ops: ops.connectors.store_locations(name), self._on_theirs,
                         on_error=self._on_theirs_failed)

    def _on_ours(self, rows: list[dict[str, Any]]) -> None:
        linked = {link.code: link.store_location_id for link in self.info.locations}
        for row in rows:
            if row.get("kind") in ("warehouse", "store") and not row.get("internal"):
                suffix = tr("  (linked to {id})").format(id=linked[row["code"]]) if row["code"] in linked else ""
                self.ours.addItem(f"{row['code']} — {row['name']}{suffix}", row["code"])

    def _on_theirs(self, locations: list[StoreLocation]) -> None:
        self.theirs.lineEdit().setPlaceholderText(tr("The store's stock location id"))
        for loc in locations:
            self.theirs.addItem(f"{loc.name}  ·  {loc.id}", loc.id)

    def _on_theirs_failed(self, exc: BaseException) -> None:
        self.theirs.lineEdit().setPlaceholderText(tr("Type the store's stock location id"))
        self.banner.show_message(tr("The store's locations could not be read: {error}").format(
            error=error_text(exc)), "warning")

    def _show_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

    def store_location_id(self) -> str:
        """The id chosen in the list, or the one typed in."""
        index = self.theirs.currentIndex()
        if index >= 0 and self.theirs.itemText(index) == self.theirs.currentText():
            return str(self.theirs.itemData(index))
        return self.theirs.currentText().strip()

    def save(self) -> None:
        code, store_id, owned, name = self.ours.currentData(), self.store_location_id(), self.owned.isChecked(), self.info.name
        if not code:
            self.banner.show_message(tr("Choose one of our locations."), "error")
            return
        self.link_button.setEnabled(False)
        if not self.runner.write(lambda ops: ops.connectors.link_location(name, code, store_id, owned=owned),
                                 self._saved, on_error=self._failed):
            self.link_button.setEnabled(True)

    def _saved(self, info: ConnectionInfo) -> None:
        self.linked.emit(info)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.link_button.setEnabled(True)
        self._show_error(exc)


class ReconcileDialog(QDialog):
    """A reconciliation's result: how many stock levels were compared, each difference (ours against the
    store's), linked SKUs the store lacks, and Fix differences (run by the view after a confirmation)."""

    fix_requested = Signal()

    def __init__(self, report: ReconcileReport, *, may_fix: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Reconcile {store}").format(store=report.connection))
        self.resize(720, 480)
        self.may_fix = may_fix
        self.summary = QLabel()
        self.summary.setObjectName("DetailsTitle")
        self.summary.setWordWrap(True)
        self.details = QLabel()
        self.details.setObjectName("Muted")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = DifferencesModel(self)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=None)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.fix_button = QPushButton(tr("Fix differences"))
        self.fix_button.setProperty("primary", True)
        self.fix_button.setToolTip(tr("Set the store's stock to ours where they differ"))
        self.fix_button.clicked.connect(self.fix_requested)
        self.buttons.addButton(self.fix_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(self.summary)
        layout.addWidget(self.details)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self.report = report
        self.show_report(report)

    def show_report(self, report: ReconcileReport) -> None:
        self.report = report
        text = plural(report.checked, tr("{n} stock level compared"), tr("{n} stock levels compared")) + ", " + \
            plural(report.difference_count, tr("{n} different"), tr("{n} different"))
        if report.fix:
            text += ", " + plural(report.fixed, tr("{n} fixed"), tr("{n} fixed"))
        self.summary.setText(text + ".")
        lines = []
        if report.difference_count > len(report.differences):
            lines.append(tr("The first {n} differences are listed.").format(n=format_count(len(report.differences))))
        if report.missing_in_store:
            lines.append(plural(len(report.missing_in_store), tr("{n} linked SKU has no stock item in the store: {skus}"),
                                tr("{n} linked SKUs have no stock item in the store: {skus}"),
                                skus=", ".join(report.missing_in_store[:10])))
        lines.extend(report.errors[:10])
        self.details.setText("\n".join(lines))
        self.details.setVisible(bool(lines))
        self.model.set_rows(report.differences)
        open_differences = any(not d.fixed for d in report.differences) or (
            report.difference_count > report.fixed and not report.fix)
        self.fix_button.setVisible(self.may_fix)
        self.fix_button.setEnabled(self.may_fix and open_differences)

    def set_busy(self, busy: bool) -> None:
        self.fix_button.setEnabled(not busy and self.may_fix and bool(self.report.difference_count))
