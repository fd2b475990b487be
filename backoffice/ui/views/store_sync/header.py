"""The card at the top of the Store sync view: which store, whether it syncs, how the last run went, what
waits, and the buttons that run a sync, a dry run, a reconciliation, or settle failed pushes."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from backoffice.operations.connectors import ConnectionInfo, RunInfo
from backoffice.ui import resources, theme
from backoffice.ui.format import format_count, format_when
from backoffice.ui.views.store_sync.models import STATE_COLOURS, kind_label, relative_time, state_label, tr
from backoffice.ui.widgets.pills import StatePill

_PILL_COLOURS = {**STATE_COLOURS, "active": theme.SUCCESS, "paused": theme.WARNING}


class Figure(QWidget):
    """A caption above a value."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(caption)
        self.caption.setObjectName("Muted")
        self.value = QLabel()
        self.value.setObjectName("PendingCount")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)

    def set(self, text: str, colour: str = "") -> None:
        self.value.setText(text)
        self.value.setStyleSheet(f"color: {colour};" if colour else "")


class StoreHeader(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.name = QLabel()
        self.name.setObjectName("DetailsTitle")
        self.where = QLabel()
        self.where.setObjectName("DetailsMeta")
        self.state = StatePill(lambda s: {"active": tr("Active"), "paused": tr("Paused")}.get(s, s),
                               colours=_PILL_COLOURS)
        self.pause_button = QPushButton()
        self.pause_button.setProperty("flat", True)

        self.last_sync = Figure(tr("Last sync"))
        self.pending = Figure(tr("Waiting to send"))
        self.failed = Figure(tr("Failed or in conflict"))
        self.linked = Figure(tr("Linked variants"))
        self.locations = Figure(tr("Linked locations"))

        self.sync_button = QPushButton(tr("Sync now"))
        self.sync_button.setProperty("primary", True)
        self.sync_button.setIcon(resources.icon("refresh", "#ffffff"))
        self.sync_button.setIconSize(QSize(16, 16))
        self.sync_button.setToolTip(tr("Take the store's new orders and send catalog, prices, shipments and stock"))
        self.dry_run_button = QPushButton(tr("Dry run"))
        self.dry_run_button.setToolTip(tr("Read the store and say what a sync would do; nothing is written"))
        self.reconcile_button = QPushButton(tr("Reconcile"))
        self.reconcile_button.setToolTip(tr("Compare the store's stock with ours at the locations we own"))
        self.retry_button = QPushButton(tr("Retry failed"))
        self.retry_button.setToolTip(tr("Send the failed pushes again at the next sync"))
        self.discard_button = QPushButton(tr("Discard failed"))
        self.discard_button.setToolTip(tr("Give up the failed pushes"))

        title_row = QHBoxLayout()
        title_row.setSpacing(10)
        title_row.addWidget(self.name)
        title_row.addWidget(self.state)
        title_row.addWidget(self.where, 1)
        title_row.addWidget(self.pause_button)
        figures = QHBoxLayout()
        figures.setSpacing(28)
        for figure in (self.last_sync, self.pending, self.failed, self.linked, self.locations):
            figures.addWidget(figure)
        figures.addStretch(1)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        for button in (self.sync_button, self.dry_run_button, self.reconcile_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(title_row)
        layout.addLayout(figures)
        layout.addLayout(buttons)

    def show_connection(self, info: ConnectionInfo, last_sync: RunInfo | None, *, running: str = "",
                        now: dt.datetime | None = None) -> None:
        """``last_sync``: the newest sync run (dry or not); ``running``: the text of a run under way
        ("Syncing…"), shown instead of it."""
        self.name.setText(info.name)
        self.where.setText(f"{kind_label(info.kind)} · {info.url}")
        self.where.setToolTip(info.url)
        self.state.set_state("active" if info.active else "paused")
        self.pause_button.setText(tr("Pause syncing") if info.active else tr("Resume syncing"))
        run = last_sync
        if running:
            self.last_sync.set(running, theme.ACCENT)
            self.last_sync.setToolTip("")
        elif run is None:
            self.last_sync.set(tr("never"), theme.TEXT_MUTED)
            self.last_sync.setToolTip("")
        else:
            at = run.finished_at or run.started_at
            what = tr("dry run") + " " if run.dry_run else ""
            self.last_sync.set(tr("{when} — {what}{state}").format(when=relative_time(at, now), what=what,
                                                                    state=state_label(run.state)),
                               _PILL_COLOURS.get(run.state, theme.TEXT))
            tip = format_when(at)
            if info.last_ok_at is not None and run.state != "ok":
                tip += "\n" + tr("Last clean sync: {when}").format(when=format_when(info.last_ok_at))
            self.last_sync.setToolTip(tip + (f"\n{run.error}" if run.error else ""))
        self.pending.set(format_count(info.pending))
        self.failed.set(format_count(info.failed), theme.DANGER if info.failed else "")
        self.linked.set(format_count(info.linked_variants))
        self.locations.set(format_count(len(info.locations)))
