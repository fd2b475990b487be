"""The schedules of one report: when it runs, where the file goes, and how the last runs went; add and
delete schedules. Reads and writes through ``ops.reports`` in the background."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.reports import WEEKDAYS, RunRow, ScheduleInfo, ScheduleSpec
from backoffice.reports.formats import local_zone_name
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_when
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner

KIND_LABELS = {"daily": "Every day", "weekdays": "Monday to Friday", "weekly": "Every week on", "monthly": "Every month on day"}
ZONES = ("UTC", "Europe/Berlin", "Europe/London", "Europe/Paris", "Europe/Amsterdam", "America/New_York",
         "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney")


class ScheduleDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, report_name: str, params: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.report_name, self.params = context, tasks, report_name, dict(params)
        self.infos: list[ScheduleInfo] = []
        self.runner = Runner(context, tasks, self)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success"))
        self.setWindowTitle(self.tr("Schedules of {name}").format(name=report_name))
        self.resize(760, 560)
        self.banner = MessageBanner()
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels([self.tr("When"), self.tr("Format"), self.tr("Delivery"),
                                              self.tr("Next run"), self.tr("Last run")])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.currentCellChanged.connect(lambda *_a: self._load_history())
        self.history = QLabel()
        self.history.setObjectName("Muted")
        self.history.setWordWrap(True)
        self.delete_button = QPushButton(self.tr("Delete schedule"))
        self.delete_button.clicked.connect(self.delete_selected)

        self.kind = QComboBox()
        for key, label in KIND_LABELS.items():
            self.kind.addItem(self.tr(label), key)
        self.weekday = QComboBox()
        for i, name in enumerate(WEEKDAYS):
            self.weekday.addItem(self.tr(name.capitalize()), i)
        self.day = QSpinBox()
        self.day.setRange(1, 31)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.at = QTimeEdit(QTime(7, 0))
        self.at.setDisplayFormat("HH:mm")
        self.zone = QComboBox()
        self.zone.setEditable(True)
        self.zone.addItems(list(dict.fromkeys((local_zone_name(), *ZONES))))
        self.format = QComboBox()
        self.format.addItems(["xlsx", "csv", "pdf"])
        self.folder = QLineEdit()
        self.folder.setPlaceholderText(self.tr("/shared/reports/{report}-{date:%Y-%m-%d}.xlsx or a folder/"))
        self.emails = QLineEdit()
        self.emails.setPlaceholderText(self.tr("boss@shop.example, team@shop.example"))
        self.subject = QLineEdit()
        self.subject.setPlaceholderText(self.tr("{title} — {date:%Y-%m-%d}"))
        self.add_button = QPushButton(self.tr("Add schedule"))
        self.add_button.clicked.connect(self.add)
        when = QHBoxLayout()
        for w in (self.kind, self.weekday, self.day, self.at, self.zone):
            when.addWidget(w)
        form = QFormLayout()
        form.addRow(self.tr("When"), when)
        form.addRow(self.tr("Format"), self.format)
        form.addRow(self.tr("To a folder"), self.folder)
        form.addRow(self.tr("By e-mail to"), self.emails)
        form.addRow(self.tr("Subject"), self.subject)
        params = ", ".join(f"{k} = {v}" for k, v in self.params.items()) or self.tr("none")
        form.addRow(self.tr("Parameters"), QLabel(params))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.history, 1)
        row.addWidget(self.delete_button)
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addWidget(self.add_button)
        layout.addWidget(buttons)
        self._kind_changed()
        self.reload()

    def _kind_changed(self) -> None:
        self.weekday.setVisible(self.kind.currentData() == "weekly")
        self.day.setVisible(self.kind.currentData() == "monthly")

    @property
    def pending(self) -> int:
        """Reads and writes still under way."""
        return self.runner.inflight

    def reload(self) -> None:
        name = self.report_name
        self.runner.read(lambda ops: ops.reports.schedules(name), self._show)

    def _show(self, infos: list[ScheduleInfo]) -> None:
        self.infos = infos
        self.table.setRowCount(len(infos))
        for r, info in enumerate(infos):
            where = "; ".join(p for p in (info.spec.folder_pattern, ", ".join(info.spec.email_to)) if p)
            nxt = format_when(info.next_due) if info.next_due else self.tr("inactive")
            last = f"{info.last_status} {format_when(info.last_due)}" if info.last_status else self.tr("never run")
            if info.last_status == "failed" and info.last_error:
                last += f": {info.last_error}"
            for c, text in enumerate((info.spec.describe(), info.spec.format, where, nxt, last)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()  # a handful of rows
        self.delete_button.setEnabled(bool(infos))

    def _load_history(self) -> None:
        row = self.table.currentRow()
        if self.context.ops is None or not 0 <= row < len(self.infos):
            self.history.clear()
            return
        sid = self.infos[row].id
        self.runner.read(lambda ops: ops.reports.last_runs(sid, limit=5), self._show_history)

    def _show_history(self, runs: list[RunRow]) -> None:
        lines = [f"{format_when(r.due_at)}  {r.status}  "
                 f"{'' if r.rows is None else f'{r.rows:,} rows  '}{r.error or r.output}" for r in runs]
        self.history.setText("\n".join(lines) or self.tr("No runs yet."))

    def spec(self) -> ScheduleSpec:
        kind = self.kind.currentData()
        return ScheduleSpec(
            self.report_name, kind, self.at.time().toString("HH:mm"),
            self.weekday.currentData() if kind == "weekly" else None,
            self.day.value() if kind == "monthly" else None, self.zone.currentText().strip(), dict(self.params),
            self.format.currentText(), self.folder.text().strip(),
            [a.strip() for a in self.emails.text().split(",") if a.strip()], self.subject.text().strip())

    def add(self) -> None:
        spec = self.spec()
        self.runner.write(lambda ops: ops.reports.add_schedule(spec), lambda _info: self.reload(),
                          success=lambda info: self.tr("Schedule {id} added: {when}").format(
                              id=info.id, when=info.spec.describe()))

    def delete_selected(self) -> None:
        row = self.table.currentRow()
        if not 0 <= row < len(self.infos):
            return
        sid = self.infos[row].id
        self.runner.write(lambda ops: ops.reports.delete_schedule(sid), lambda _none: self.reload())
