"""Store sync: the store's own system (Medusa) kept in step with the back-office. For the chosen store: a
card with its state, the last sync, what waits and failed, and the runs (Sync now, Dry run, Reconcile,
Retry or Discard failed); the sync log and the failed pushes; the direction rules and location links
(admins change them); the store API's response times over the last week.

Everything is read through the contract (``ops.connectors``) in one background read per (re)load, each with
a generation number so an older answer never overwrites a newer one. Syncs and reconciliations are long
jobs with progress and Cancel in the window's progress panel; the view reloads when one ends, after each of
its writes, and when ``context.data_changed`` reports orders, stock, the catalog or locations changed.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QT_TRANSLATE_NOOP, QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes
from backoffice.operations.changes import LOCATIONS, ORDERS, PRICES, PRODUCTS, STOCK, VARIANTS
from backoffice.operations.connectors import ConnectionInfo, ReconcileReport, SyncReport
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_count, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.store_sync.chart import ResponseTimeChart
from backoffice.ui.views.store_sync.dialogs import ConnectStoreDialog, LinkLocationDialog, ReconcileDialog
from backoffice.ui.views.store_sync.header import StoreHeader
from backoffice.ui.views.store_sync.models import (
    OUTBOX_STATE_COL,
    RUN_STATE_COL,
    STATE_COLOURS,
    ERROR,
    RESULT,
    OutboxModel,
    RunsModel,
    stats_text,
    summary_text,
    tr,
)
from backoffice.ui.views.store_sync.rules import LocationsPanel, RulesPanel
from backoffice.ui.views.store_sync.snapshot import Snapshot, read_snapshot
from backoffice.ui.widgets.banner import TRANSIENT_MS, MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.pills import StatePillDelegate
from backoffice.ui.widgets.records import setup_table

_RELOAD_ON = (ORDERS, STOCK, LOCATIONS, PRODUCTS, PRICES, VARIANTS)


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("DetailsTitle")
    return label


class StoreSyncView(ViewPage):
    key = "store_sync"
    TITLE = QT_TRANSLATE_NOOP("Views", "Store sync")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "The online store kept in step: orders in; catalog, prices and stock out.")
    icon_name = "store"
    REQUIRES = "connectors.list"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self._generation = 0
        self._needs_reload = True
        self._wanted = ""
        self._job = ""                    # the long job under way: "sync", "dry_run", "reconcile", "fix"
        self.snapshot: Snapshot | None = None
        self.dialog: QWidget | None = None
        self.reconcile_dialog: ReconcileDialog | None = None
        self.runner = Runner(context, tasks, self)          # loads (what the screenshot waits for)
        self.runner.busy_changed.connect(self.loading_changed)
        self.jobs = Runner(context, tasks, self)            # syncs, reconciliations and settings writes

        self.store_combo = QComboBox()
        self.store_combo.setMinimumWidth(160)
        self.store_combo.activated.connect(self._on_store_chosen)
        self.refresh_button = QPushButton(tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.reload)
        self.banner = MessageBanner()

        self.header = StoreHeader()
        h = self.header
        h.sync_button.clicked.connect(lambda: self.sync_now(dry_run=False))
        h.dry_run_button.clicked.connect(lambda: self.sync_now(dry_run=True))
        h.reconcile_button.clicked.connect(lambda: self.reconcile(fix=False))
        h.retry_button.clicked.connect(lambda: self.settle_failed(discard=False))
        h.discard_button.clicked.connect(lambda: self.settle_failed(discard=True))
        h.pause_button.clicked.connect(self.toggle_active)

        self.runs_model = RunsModel(self)
        self.runs_table = QTableView()
        setup_table(self.runs_table, self.runs_model, stretch=RESULT)
        self.runs_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.runs_table.setItemDelegateForColumn(RUN_STATE_COL, StatePillDelegate(self.runs_table, STATE_COLOURS))
        self.outbox_model = OutboxModel(self)
        self.outbox_table = QTableView()
        setup_table(self.outbox_table, self.outbox_model, stretch=ERROR)
        self.outbox_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.outbox_table.setItemDelegateForColumn(OUTBOX_STATE_COL, StatePillDelegate(self.outbox_table, STATE_COLOURS))
        self.locations = LocationsPanel()
        self.locations.link_requested.connect(self.open_link_location)
        self.locations.unlink_requested.connect(self.unlink_location)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("GridSide")
        self.tabs.setDocumentMode(False)
        self.tabs.addTab(self.runs_table, tr("Sync log"))
        self.tabs.addTab(self.outbox_table, tr("Failed pushes"))
        self.tabs.addTab(self.locations, tr("Locations"))

        self.rules = RulesPanel()
        self.rules.setting_changed.connect(self.change_setting)
        self.api_figures = QLabel()
        self.api_figures.setObjectName("Muted")
        self.api_figures.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.chart = ResponseTimeChart()
        rules_card = QWidget()
        rules_card.setObjectName("Card")
        rules_layout = QVBoxLayout(rules_card)
        rules_layout.setContentsMargins(14, 12, 14, 12)
        rules_layout.setSpacing(8)
        rules_layout.addWidget(_section(tr("Direction rules")))
        rules_layout.addWidget(self.rules)
        rules_layout.addStretch(1)
        api_card = QWidget()
        api_card.setObjectName("Card")
        api_layout = QVBoxLayout(api_card)
        api_layout.setContentsMargins(14, 12, 14, 8)
        api_layout.setSpacing(4)
        api_title = QHBoxLayout()
        api_title.addWidget(_section(tr("Store API, last 7 days")))
        api_title.addWidget(self.api_figures, 1)
        api_layout.addLayout(api_title)
        api_layout.addWidget(self.chart, 1)
        bottom = QWidget()
        bottom_layout = QHBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.setSpacing(12)
        bottom_layout.addWidget(rules_card, 0)
        bottom_layout.addWidget(api_card, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.content = QWidget()
        content_layout = QVBoxLayout(self.content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(12)
        content_layout.addWidget(self.header)
        content_layout.addWidget(self.splitter, 1)

        self.empty = EmptyState("store", tr("No store is connected"), "", action_text=tr("Connect a store…"), bullets=[
            tr("Orders placed in the store come in here and are reserved"),
            tr("Catalog, prices, shipments and stock go out to the store"),
            tr("Every run is logged, with the store API's response times")])
        self.empty.action.clicked.connect(self.open_connect_store)
        self.loading = QWidget()
        self.stack = QStackedWidget()
        for page in (self.loading, self.content, self.empty):
            self.stack.addWidget(page)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addLayout(page_header(tr("Store sync"), self.description(), self.store_combo, self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        self.splitter.setSizes([300, 240])
        self.store_combo.hide()

        self.clock = QTimer(self)          # "2 min ago" moves on without reading anything
        self.clock.setInterval(30_000)
        self.clock.timeout.connect(self._show_header)
        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)

    # -- ViewPage ---------------------------------------------------------------------------------------------
    def activate(self) -> None:
        self.clock.start()
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy

    @property
    def current(self) -> ConnectionInfo | None:
        return self.snapshot.current if self.snapshot is not None else None

    def may_change(self) -> bool:
        return self.context.may("connectors.update")

    def may_run(self) -> bool:
        return self.context.may("connectors.sync")

    # -- loading ------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self._generation += 1
        if self.context.ops is None or not self.context.may(self.REQUIRES):
            self._needs_reload = True
            return
        self._needs_reload = False
        gen, wanted = self._generation, self._wanted
        self.runner.read(lambda ops: read_snapshot(ops, wanted), partial(self._on_snapshot, gen),
                         on_error=partial(self._on_load_error, gen))

    def _on_snapshot(self, gen: int, snapshot: Snapshot) -> None:
        if gen != self._generation:
            return
        self.snapshot = snapshot
        current = snapshot.current
        self._fill_combo(snapshot)
        if current is None:
            self._show_empty()
            return
        self._wanted = current.name
        self.stack.setCurrentWidget(self.content)
        self.runs_model.set_rows(snapshot.runs)
        self.outbox_model.set_rows(snapshot.failed)
        self.tabs.setTabText(1, tr("Failed pushes ({n})").format(n=format_count(len(snapshot.failed)))
                             if snapshot.failed else tr("Failed pushes"))
        self.tabs.setTabText(2, tr("Locations ({n})").format(n=format_count(len(current.locations))))
        self.rules.show_settings(current.settings, editable=self.may_change())
        self.locations.show_links(current, editable=self.may_change())
        overall = snapshot.overall
        self.api_figures.setText(stats_text(overall.calls, overall.errors, overall.error_rate, overall.mean_ms,
                                            overall.p95_ms) if overall else "")
        self.chart.show_points(snapshot.times, tr("No calls in the last 7 days"))
        self._show_header()

    def _on_load_error(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.banner.show_message(tr("The store sync could not be loaded: {error}").format(error=error_text(exc)),
                                     "error")

    def _fill_combo(self, snapshot: Snapshot) -> None:
        self.store_combo.blockSignals(True)
        self.store_combo.clear()
        for conn in snapshot.connections:
            self.store_combo.addItem(conn.name if conn.active else tr("{name} (paused)").format(name=conn.name),
                                     conn.name)
        if snapshot.current is not None:
            self.store_combo.setCurrentIndex(self.store_combo.findData(snapshot.current.name))
        self.store_combo.blockSignals(False)
        self.store_combo.setVisible(len(snapshot.connections) > 1)

    def _show_empty(self) -> None:
        admin = self.context.may("connectors.add")
        self.empty.set_text(tr("No store is connected"),
                            tr("Connect the online store (Medusa) to keep it in step with the back-office.")
                            if admin else tr("An admin can connect the online store (Medusa) here."))
        self.empty.action.setVisible(admin)
        self.empty.action.setEnabled(admin)
        self.stack.setCurrentWidget(self.empty)

    def _show_header(self) -> None:
        current = self.current
        if current is None or self.snapshot is None:
            return
        running = {"sync": tr("Syncing…"), "dry_run": tr("Dry run under way…"), "reconcile": tr("Reconciling…"),
                   "fix": tr("Fixing differences…")}.get(self._job, "")
        self.header.show_connection(current, self.snapshot.last_sync, running=running)
        self._update_actions()

    def _update_actions(self) -> None:
        current, h = self.current, self.header
        idle = not self._job and current is not None
        runs = self.may_run() and idle
        for button in (h.sync_button, h.dry_run_button, h.reconcile_button):
            button.setEnabled(runs and current.active)   # type: ignore[union-attr]
        failed = bool(current is not None and current.failed)
        h.retry_button.setEnabled(runs and failed and self.context.may("connectors.retry_outbox"))
        h.discard_button.setEnabled(runs and failed and self.context.may("connectors.discard_outbox"))
        admin = self.may_change()
        h.pause_button.setVisible(admin)
        h.pause_button.setEnabled(admin and idle)

    # -- reacting -------------------------------------------------------------------------------------------------
    def _on_store_chosen(self, index: int) -> None:
        self._wanted = str(self.store_combo.itemData(index) or "")
        self.reload()

    def _on_context_changed(self) -> None:
        self._generation += 1
        self._needs_reload = True
        self.snapshot = None
        self.stack.setCurrentWidget(self.loading)

    def _on_data_changed(self, changes: Changes) -> None:
        if not changes.concerns(*_RELOAD_ON):
            return
        self._needs_reload = True
        if self.isVisible():
            self.reload()

    def _message(self, text: str, level: str = "info") -> None:
        self.banner.show_message(text, level, TRANSIENT_MS if level in ("info", "success") else None)

    def _failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")
        self.reload()

    # -- long jobs -----------------------------------------------------------------------------------------------
    def _start_job(self, job: str, title: str) -> TaskState:
        self._job = job
        self.banner.hide()
        self._show_header()
        return TaskState(title, parent=self)

    def _end_job(self) -> None:
        self._job = ""
        self._show_header()
        self.reload()

    def sync_now(self, *, dry_run: bool = False) -> bool:
        """One sync run (or a dry run) of the chosen store in the background; False if none can start."""
        current = self.current
        if current is None or self._job or not self.may_run():
            return False
        name = current.name
        state = self._start_job("dry_run" if dry_run else "sync", (tr("Dry run of {name}") if dry_run else
                                                                   tr("Syncing {name}")).format(name=name))
        if not self.jobs.write(lambda ops: ops.connectors.sync(name, dry_run=dry_run, progress=state.report,
                                                              cancel=state.cancelled),
                               self._on_synced, on_error=self._on_job_error, state=state):
            self._end_job()
            return False
        return True

    def _on_synced(self, report: SyncReport) -> None:
        self._end_job()
        summary = summary_text("sync", report.dry_run, report.state, report.summary())
        what = tr("Dry run of {name}") if report.dry_run else tr("Sync of {name}")
        text = tr("{what}: {state}").format(what=what.format(name=report.connection), state=report.state)
        if report.stopped:
            text += " " + tr("(stopped)")
        text += f" — {summary}" if summary else ""
        if report.state == "failed":
            self.banner.show_message(text + (f"\n{report.errors[0]}" if report.errors else ""), "error")
        elif report.state == "partial":
            more = plural(report.error_count, tr("{n} error"), tr("{n} errors"))
            self.banner.show_message(f"{text} ({more})", "warning")
        else:
            self._message(text, "success")

    def _on_job_error(self, exc: BaseException) -> None:
        self._end_job()
        self.banner.show_message(error_text(exc), "error")

    def reconcile(self, *, fix: bool = False) -> bool:
        """Compare the store's stock with ours (``fix``: and set the store to ours), in the background."""
        current = self.current
        if current is None or self._job or not self.may_run():
            return False
        name = current.name
        state = self._start_job("fix" if fix else "reconcile", (tr("Fixing the differences of {name}") if fix
                                                                else tr("Reconciling {name}")).format(name=name))
        if self.reconcile_dialog is not None:
            self.reconcile_dialog.set_busy(True)
        if not self.jobs.write(lambda ops: ops.connectors.reconcile(name, fix=fix, progress=state.report,
                                                                   cancel=state.cancelled),
                               self._on_reconciled, on_error=self._on_reconcile_error, state=state):
            self._end_job()
            return False
        return True

    def _on_reconciled(self, report: ReconcileReport) -> None:
        self._end_job()
        dialog = self.reconcile_dialog
        if report.state == "failed":
            self.banner.show_message(tr("Reconciling {name} failed: {error}").format(
                name=report.connection, error=report.errors[0] if report.errors else report.state), "error")
            if dialog is not None:
                dialog.set_busy(False)
            return
        if dialog is None:
            dialog = self.reconcile_dialog = ReconcileDialog(report, may_fix=self.may_run(), parent=self)
            dialog.fix_requested.connect(self.fix_differences)
            dialog.finished.connect(self._reconcile_closed)
            dialog.show()
        else:
            dialog.show_report(report)

    def _on_reconcile_error(self, exc: BaseException) -> None:
        if self.reconcile_dialog is not None:
            self.reconcile_dialog.set_busy(False)
        self._on_job_error(exc)

    def _reconcile_closed(self) -> None:
        if self.reconcile_dialog is not None:
            self.reconcile_dialog.deleteLater()
        self.reconcile_dialog = None

    def fix_differences(self) -> bool:
        dialog = self.reconcile_dialog
        count = dialog.report.difference_count if dialog is not None else 0
        if not self.confirm(tr("Fix differences"), plural(
                count, tr("Set the store's stock to ours at {n} stock level?"),
                tr("Set the store's stock to ours at {n} stock levels?")) + " " +
                tr("Each is compared with the store's value again just before it is set.")):
            return False
        return self.reconcile(fix=True)

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    # -- writes ----------------------------------------------------------------------------------------------------
    def settle_failed(self, *, discard: bool) -> bool:
        """Send every failed push again at the next sync, or (after a confirmation) give them up."""
        current = self.current
        if current is None or not current.failed:
            return False
        name, n = current.name, current.failed
        if discard and not self.confirm(tr("Discard failed"), plural(
                n, tr("Give up {n} failed push? It is not sent again."),
                tr("Give up {n} failed pushes? They are not sent again."))):
            return False
        action = (lambda ops: ops.connectors.discard_outbox(name)) if discard else \
            (lambda ops: ops.connectors.retry_outbox(name))
        done = (lambda k: plural(k, tr("{n} push given up."), tr("{n} pushes given up."))) if discard else \
            (lambda k: plural(k, tr("{n} push will be sent at the next sync."),
                              tr("{n} pushes will be sent at the next sync.")))
        return self.jobs.write(action, lambda k: (self._message(done(k), "success"), self.reload()),
                               on_error=self._failed)

    def change_setting(self, key: str, value: object) -> bool:
        """Admins: one direction rule or the overlap window, checked against the version read."""
        current = self.current
        if current is None or not self.may_change():
            return False
        name, version = current.name, current.version
        return self.jobs.write(lambda ops: ops.connectors.update(name, settings={key: value}, expected_version=version),
                               lambda _info: self.reload(), on_error=self._failed)

    def toggle_active(self) -> bool:
        current = self.current
        if current is None or not self.may_change():
            return False
        name, active = current.name, not current.active
        return self.jobs.write(lambda ops: ops.connectors.update(name, active=active), lambda _info: self.reload(),
                               on_error=self._failed)

    def unlink_location(self, code: str) -> bool:
        current = self.current
        if current is None or not self.may_change():
            return False
        name = current.name
        return self.jobs.write(lambda ops: ops.connectors.unlink_location(name, code), lambda _info: self.reload(),
                               on_error=self._failed)

    # -- dialogs -----------------------------------------------------------------------------------------------------
    def _open(self, dialog: QWidget) -> QWidget:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._dialog_gone)
        dialog.show()
        return dialog

    def _dialog_gone(self) -> None:
        self.dialog = None

    def open_connect_store(self) -> ConnectStoreDialog | None:
        if not self.context.may("connectors.add"):
            return None
        dialog = ConnectStoreDialog(self.context, self.tasks, self)
        dialog.connected.connect(self._on_connected)
        self._open(dialog)
        return dialog

    def _on_connected(self, info: ConnectionInfo) -> None:
        self._wanted = info.name
        self._message(tr("{name} is connected. Link our locations to the store's next.").format(name=info.name),
                      "success")
        self.reload()

    def open_link_location(self) -> LinkLocationDialog | None:
        current = self.current
        if current is None or not self.may_change():
            return None
        dialog = LinkLocationDialog(self.context, self.tasks, current, self)
        dialog.linked.connect(lambda _info: self.reload())
        self._open(dialog)
        return dialog
