"""The audit filter bar: text search (debounced), entity, user and action, and a date range."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from backoffice.operations.audit import AuditFilter
from backoffice.ui import resources, theme
from backoffice.ui.views.audit.models import action_label, entity_label

SEARCH_DEBOUNCE_MS = 300
_NO_DATE = QDate(2000, 1, 1)  # the minimum of the date edits, shown as "Any"


def _local_midnight_utc(day: dt.date) -> dt.datetime:
    local = dt.datetime(day.year, day.month, day.day).astimezone()  # local midnight, aware
    return local.astimezone(dt.UTC)


class OptionalDateEdit(QDateEdit):
    """A date edit whose lowest value means "no date" and reads "Any"; its calendar opens on today."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCalendarPopup(True)
        self.setMinimumDate(_NO_DATE)
        self.setSpecialValueText(self.tr("Any"))
        self.setDisplayFormat("yyyy-MM-dd")
        self.setDate(_NO_DATE)
        self.setMinimumWidth(118)
        self.calendarWidget().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.calendarWidget() and event.type() == QEvent.Type.Show and self.date() == _NO_DATE:
            today = QDate.currentDate()
            self.calendarWidget().setCurrentPage(today.year(), today.month())
        return super().eventFilter(watched, event)

    def value(self) -> dt.date | None:
        d = self.date()
        return None if d == _NO_DATE else dt.date(d.year(), d.month(), d.day())

    def set_value(self, day: dt.date | None) -> None:
        self.setDate(_NO_DATE if day is None else QDate(day.year, day.month, day.day))


class DateRangeButton(QToolButton):
    """A compact "Any time" button whose popup holds presets and the From/To dates (both inclusive)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setObjectName("DateRangeButton")
        self.since = OptionalDateEdit()
        self.until = OptionalDateEdit()
        for edit in (self.since, self.until):
            edit.dateChanged.connect(self._on_dates)

        panel = QWidget()
        presets = QHBoxLayout()
        presets.setSpacing(4)
        for text, days in ((self.tr("Today"), 0), (self.tr("7 days"), 6), (self.tr("30 days"), 29), (self.tr("Any time"), None)):
            button = QPushButton(text)
            button.setProperty("flat", True)
            button.clicked.connect(lambda _=False, d=days: self.set_preset(d))
            presets.addWidget(button)
        form = QFormLayout()
        form.addRow(self.tr("From"), self.since)
        form.addRow(self.tr("To"), self.until)
        column = QVBoxLayout(panel)
        column.setContentsMargins(12, 10, 12, 10)
        column.setSpacing(8)
        column.addLayout(presets)
        column.addLayout(form)
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(panel)
        menu.addAction(action)
        self.setMenu(menu)
        self._refresh_text()

    def value(self) -> tuple[dt.date | None, dt.date | None]:
        return self.since.value(), self.until.value()

    def set_range(self, since: dt.date | None, until: dt.date | None) -> None:
        for edit in (self.since, self.until):
            edit.blockSignals(True)
        self.since.set_value(since)
        self.until.set_value(until)
        for edit in (self.since, self.until):
            edit.blockSignals(False)
        self._on_dates()

    def set_preset(self, days: int | None) -> None:
        """The last ``days`` + 1 days up to today, or any time for None."""
        if days is None:
            self.set_range(None, None)
        else:
            today = dt.date.today()
            self.set_range(today - dt.timedelta(days=days), today)

    def _on_dates(self) -> None:
        self._refresh_text()
        self.changed.emit()

    def _refresh_text(self) -> None:
        since, until = self.value()
        if since is None and until is None:
            text = self.tr("Any time")
        elif since is not None and until is not None:
            text = since.isoformat() if since == until else f"{since.isoformat()} – {until.isoformat()}"
        elif since is not None:
            text = self.tr("Since {day}").format(day=since.isoformat())
        else:
            text = self.tr("Until {day}").format(day=until.isoformat() if until else "")
        self.setText(text)


class AuditFilterBar(QWidget):
    """Emits :attr:`changed` when the filter changes: at once for combos and dates, after a short pause
    for typed text (so a search does not reload on every key)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search id, user, action, operation…"))
        self.search.setClearButtonEnabled(True)
        self.search.addAction(resources.icon("search", theme.TEXT_MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(200)
        self.search.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.entity = self._combo(self.tr("All entities"))
        self.user = self._combo(self.tr("All users"))
        self.action = self._combo(self.tr("All actions"))
        self.dates = DateRangeButton()
        self.dates.setToolTip(self.tr("Date range (local days, both inclusive)"))
        self.since, self.until = self.dates.since, self.dates.until
        self.clear_button = QPushButton(self.tr("Clear"))
        self.clear_button.setProperty("flat", True)
        self.clear_button.setToolTip(self.tr("Clear all filters"))
        self.clear_button.clicked.connect(self.clear)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit_changed)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self._emit_now)
        for combo in (self.entity, self.user, self.action):
            combo.currentIndexChanged.connect(self._emit_changed)
        self.dates.changed.connect(self._emit_changed)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.search, 3)
        layout.addWidget(self.entity, 1)
        layout.addWidget(self.user, 1)
        layout.addWidget(self.action, 1)
        layout.addWidget(self.dates)
        layout.addWidget(self.clear_button)
        self._last_emitted = self.current_filter()
        self._refresh_clear()

    @staticmethod
    def _combo(all_text: str) -> QComboBox:
        combo = QComboBox()
        combo.addItem(all_text, "")
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(6)
        combo.setMaximumWidth(220)
        combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return combo

    # -- the filter value --------------------------------------------------------------------------
    def current_filter(self) -> AuditFilter:
        since, until = self.since.value(), self.until.value()
        return AuditFilter(
            text=self.search.text().strip(),
            entity=self.entity.currentData() or "",
            username=self.user.currentData() or "",
            action=self.action.currentData() or "",
            since=_local_midnight_utc(since) if since else None,
            until=_local_midnight_utc(until + dt.timedelta(days=1)) if until else None,  # the whole day
        )

    def is_filtered(self) -> bool:
        return self.current_filter() != AuditFilter()

    def set_filter(self, text: str = "", *, entity: str = "", username: str = "", action: str = "",
                   since: dt.date | None = None, until: dt.date | None = None) -> None:
        """Set every field at once and emit one change (unknown combo values are added)."""
        widgets = (self.search, self.entity, self.user, self.action, self.dates)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.search.setText(text)
            self._select(self.entity, entity, entity_label)
            self._select(self.user, username, str)
            self._select(self.action, action, action_label)
            self.dates.set_range(since, until)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._emit_now()

    def clear(self) -> None:
        self.set_filter()

    def set_facets(self, facets: dict[str, list[str]]) -> None:
        """Fill the combos from ``services.audit.facets``, keeping the current choices."""
        for combo, key, label in ((self.entity, "entity", entity_label), (self.user, "username", str),
                                  (self.action, "action", action_label)):
            current = combo.currentData() or ""
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for value in facets.get(key, []):
                combo.addItem(label(value), value)
            self._select(combo, current, label)
            combo.blockSignals(False)

    @staticmethod
    def _select(combo: QComboBox, value: str, label) -> None:  # type: ignore[no-untyped-def]
        i = combo.findData(value)
        if i < 0:
            combo.addItem(label(value), value)
            i = combo.count() - 1
        combo.setCurrentIndex(i)

    def _emit_now(self) -> None:
        self._debounce.stop()
        self._emit_changed()

    def _emit_changed(self) -> None:
        self._refresh_clear()
        current = self.current_filter()
        if current != self._last_emitted:
            self._last_emitted = current
            self.changed.emit()

    def _refresh_clear(self) -> None:
        self.clear_button.setEnabled(self.is_filtered())
