"""The grid's filter bar: search, category tree, status, vendor, tags, and more in a popup (price and
stock ranges, changed since, low stock, variant status); saved filters by name in the settings file."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from PySide6.QtCore import QDate, QSettings, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from backoffice.operations.catalog import PRODUCT_STATUSES, VARIANT_STATUSES, VariantFilter
from backoffice.ui import resources, theme
from backoffice.ui.views.products.columns import CategoryIndex, CellError, parse_money
from backoffice.ui.views.products.delegates import CategoryPicker

SEARCH_DEBOUNCE_MS = 300
SAVED_FILTERS_KEY = "products/saved_filters"
_NO_DATE = QDate(2000, 1, 1)


class SavedFilters:
    """Named filters in the settings file (one JSON object: name -> VariantFilter.to_dict())."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def _all(self) -> dict[str, dict]:
        raw = self.settings.value(SAVED_FILTERS_KEY, "")
        try:
            data = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def names(self) -> list[str]:
        return sorted(self._all(), key=str.lower)

    def get(self, name: str) -> VariantFilter | None:
        data = self._all().get(name)
        return VariantFilter.from_dict(data) if isinstance(data, dict) else None

    def save(self, name: str, f: VariantFilter) -> None:
        data = self._all()
        data[name] = f.to_dict()
        self.settings.setValue(SAVED_FILTERS_KEY, json.dumps(data, sort_keys=True))
        self.settings.sync()

    def delete(self, name: str) -> None:
        data = self._all()
        data.pop(name, None)
        self.settings.setValue(SAVED_FILTERS_KEY, json.dumps(data, sort_keys=True))
        self.settings.sync()


def _combo(first: str, items: list[tuple[str, str]]) -> QComboBox:
    combo = QComboBox()
    combo.addItem(first, "")
    for label, value in items:
        combo.addItem(label, value)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    combo.setMaximumWidth(190)
    return combo


def _select(combo: QComboBox, value: str) -> None:
    i = combo.findData(value)
    if i < 0 and value:
        combo.addItem(value, value)
        i = combo.count() - 1
    combo.setCurrentIndex(max(i, 0))


class ProductFilterBar(QWidget):
    """Emits :attr:`changed` when the filter changes: at once for pickers, after a pause for typing."""

    changed = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.saved = SavedFilters(settings)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search title, SKU or barcode…"))
        self.search.setClearButtonEnabled(True)
        self.search.addAction(resources.icon("search", theme.TEXT_MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(180)
        self.search.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.category = CategoryPicker(self.tr("All categories"))
        self.category.setMaximumWidth(200)
        self.status = _combo(self.tr("Any status"), [(s.capitalize(), s) for s in PRODUCT_STATUSES])
        self.vendor = _combo(self.tr("All vendors"), [])
        self.tags_button = QToolButton()
        self.tags_button.setObjectName("FilterButton")
        self.tags_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.tags_menu = QMenu(self.tags_button)
        self.tags_button.setMenu(self.tags_menu)
        self._tags: dict[str, bool] = {}

        # the "More filters" popup
        self.price_min, self.price_max = QLineEdit(), QLineEdit()
        self.stock_min, self.stock_max = QLineEdit(), QLineEdit()
        for edit, text in ((self.price_min, self.tr("min")), (self.price_max, self.tr("max")),
                           (self.stock_min, self.tr("min")), (self.stock_max, self.tr("max"))):
            edit.setPlaceholderText(text)
            edit.setMaximumWidth(90)
            edit.setClearButtonEnabled(True)
        self.changed_since = QDateEdit()
        self.changed_since.setCalendarPopup(True)
        self.changed_since.setMinimumDate(_NO_DATE)
        self.changed_since.setSpecialValueText(self.tr("Any time"))
        self.changed_since.setDisplayFormat("yyyy-MM-dd")
        self.changed_since.setDate(_NO_DATE)
        self.low_stock = QCheckBox(self.tr("Low stock only"))
        self.needs_attention = QCheckBox(self.tr("Needs attention (content score below the store's threshold)"))
        self.variant_status = _combo(self.tr("Any variant status"),
                                     [(s.capitalize(), s) for s in VARIANT_STATUSES])
        panel = QWidget()
        form = QFormLayout(panel)
        form.setContentsMargins(12, 10, 12, 10)
        price, stock = QHBoxLayout(), QHBoxLayout()
        price.addWidget(self.price_min)
        price.addWidget(self.price_max)
        stock.addWidget(self.stock_min)
        stock.addWidget(self.stock_max)
        form.addRow(self.tr("Price"), price)
        form.addRow(self.tr("Stock"), stock)
        form.addRow(self.tr("Changed since"), self.changed_since)
        form.addRow(self.tr("Variant status"), self.variant_status)
        form.addRow("", self.low_stock)
        form.addRow("", self.needs_attention)
        self.more_button = QToolButton()
        self.more_button.setObjectName("FilterButton")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more_menu = QMenu(self.more_button)
        action = QWidgetAction(more_menu)
        action.setDefaultWidget(panel)
        more_menu.addAction(action)
        self.more_button.setMenu(more_menu)

        self.saved_button = QToolButton()
        self.saved_button.setObjectName("FilterButton")
        self.saved_button.setText(self.tr("Saved filters"))
        self.saved_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.saved_menu = QMenu(self.saved_button)
        self.saved_menu.aboutToShow.connect(self._fill_saved_menu)
        self.saved_button.setMenu(self.saved_menu)
        self.clear_button = QPushButton(self.tr("Clear"))
        self.clear_button.setProperty("flat", True)
        self.clear_button.clicked.connect(self.clear)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit_changed)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self._emit_now)
        for edit in (self.price_min, self.price_max, self.stock_min, self.stock_max):
            edit.textChanged.connect(self._debounce.start)
        self.category.category_changed.connect(self._emit_changed)
        for combo in (self.status, self.vendor, self.variant_status):
            combo.currentIndexChanged.connect(self._emit_changed)
        self.changed_since.dateChanged.connect(self._emit_changed)
        self.low_stock.toggled.connect(self._emit_changed)
        self.needs_attention.toggled.connect(self._emit_changed)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.search, 3)
        for w in (self.category, self.status, self.vendor, self.tags_button, self.more_button, self.saved_button,
                  self.clear_button):
            layout.addWidget(w)
        self._last_emitted = self.current_filter()
        self._refresh_buttons()

    # -- the filter value -------------------------------------------------------------------------------
    def current_filter(self) -> VariantFilter:
        since = self.changed_since.date()
        return VariantFilter(
            text=self.search.text().strip(),
            category_id=self.category.value(),
            statuses=(self.status.currentData(),) if self.status.currentData() else (),
            variant_statuses=(self.variant_status.currentData(),) if self.variant_status.currentData() else (),
            vendors=(self.vendor.currentData(),) if self.vendor.currentData() else (),
            tags=tuple(sorted(t for t, on in self._tags.items() if on)),
            price_min=self._money(self.price_min),
            price_max=self._money(self.price_max),
            stock_min=self._int(self.stock_min),
            stock_max=self._int(self.stock_max),
            changed_since=None if since == _NO_DATE else
            dt.datetime(since.year(), since.month(), since.day()).astimezone().astimezone(dt.UTC),
            low_stock=self.low_stock.isChecked(),
            needs_attention=self.needs_attention.isChecked(),
        )

    def is_filtered(self) -> bool:
        return self.current_filter() != VariantFilter()

    @staticmethod
    def _money(edit: QLineEdit) -> Decimal | None:
        try:
            value = parse_money(edit.text(), nullable=True)
        except CellError:
            edit.setProperty("invalid", True)
            return None
        edit.setProperty("invalid", False)
        return value

    @staticmethod
    def _int(edit: QLineEdit) -> int | None:
        text = edit.text().strip().replace(",", "")
        try:
            return int(text) if text else None
        except ValueError:
            return None

    def set_filter(self, f: VariantFilter) -> None:
        """Show ``f`` in the widgets and emit one change."""
        widgets = (self.search, self.category, self.status, self.vendor, self.variant_status, self.price_min,
                   self.price_max, self.stock_min, self.stock_max, self.changed_since, self.low_stock, self.needs_attention)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.search.setText(f.text)
            self.category.set_value(f.category_id)
            _select(self.status, f.statuses[0] if f.statuses else "")
            _select(self.vendor, f.vendors[0] if f.vendors else "")
            _select(self.variant_status, f.variant_statuses[0] if f.variant_statuses else "")
            for tag in list(self._tags):
                self._tags[tag] = tag in f.tags
            for tag in f.tags:
                self._tags[tag] = True
            self._fill_tags_menu()
            self.price_min.setText("" if f.price_min is None else str(f.price_min))
            self.price_max.setText("" if f.price_max is None else str(f.price_max))
            self.stock_min.setText("" if f.stock_min is None else str(f.stock_min))
            self.stock_max.setText("" if f.stock_max is None else str(f.stock_max))
            since = f.changed_since.astimezone() if f.changed_since else None
            self.changed_since.setDate(QDate(since.year, since.month, since.day) if since else _NO_DATE)
            self.low_stock.setChecked(f.low_stock)
            self.needs_attention.setChecked(f.needs_attention)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._emit_now()

    def clear(self) -> None:
        self.set_filter(VariantFilter())

    def set_facets(self, facets: dict, categories: CategoryIndex) -> None:
        """Vendors, tags and the category tree from ``ops.catalog.facets``; current choices are kept."""
        self.category.set_categories(categories)
        current = self.vendor.currentData() or ""
        self.vendor.blockSignals(True)
        while self.vendor.count() > 1:
            self.vendor.removeItem(1)
        for vendor in facets.get("vendors", []):
            self.vendor.addItem(vendor, vendor)
        _select(self.vendor, current)
        self.vendor.blockSignals(False)
        self._tags = {tag: self._tags.get(tag, False) for tag in facets.get("tags", [])} | \
            {t: True for t, on in self._tags.items() if on}
        self._fill_tags_menu()

    def _fill_tags_menu(self) -> None:
        self.tags_menu.clear()
        if not self._tags:
            self.tags_menu.addAction(self.tr("No tags")).setEnabled(False)
        for tag in sorted(self._tags):
            action = self.tags_menu.addAction(tag)
            action.setCheckable(True)
            action.setChecked(self._tags[tag])
            action.toggled.connect(lambda on, t=tag: self.set_tag(t, on))
        self._refresh_buttons()

    def set_tag(self, tag: str, on: bool) -> None:
        self._tags[tag] = on
        self._refresh_buttons()
        self._emit_changed()

    # -- saved filters ------------------------------------------------------------------------------------
    def save_current_as(self, name: str) -> None:
        name = name.strip()
        if name:
            self.saved.save(name, self.current_filter())

    def apply_saved(self, name: str) -> bool:
        f = self.saved.get(name)
        if f is None:
            return False
        self.set_filter(f)
        return True

    def _fill_saved_menu(self) -> None:
        menu = self.saved_menu
        menu.clear()
        names = self.saved.names()
        for name in names:
            menu.addAction(name).triggered.connect(lambda _=False, n=name: self.apply_saved(n))
        if not names:
            menu.addAction(self.tr("No saved filters yet")).setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.tr("Save current filter…")).triggered.connect(self._ask_save)
        if names:
            delete = menu.addMenu(self.tr("Delete"))
            for name in names:
                delete.addAction(name).triggered.connect(lambda _=False, n=name: self.saved.delete(n))

    def _ask_save(self) -> None:
        name, ok = QInputDialog.getText(self, self.tr("Save filter"), self.tr("Name of this filter:"))
        if ok:
            self.save_current_as(name)

    # -- emitting ---------------------------------------------------------------------------------------------
    def _emit_now(self) -> None:
        self._debounce.stop()
        self._emit_changed()

    def _emit_changed(self) -> None:
        self._refresh_buttons()
        current = self.current_filter()
        if current != self._last_emitted:
            self._last_emitted = current
            self.changed.emit()

    def _refresh_buttons(self) -> None:
        chosen = sorted(t for t, on in self._tags.items() if on)
        if not chosen:
            self.tags_button.setText(self.tr("Tags"))
        elif len(chosen) == 1:
            self.tags_button.setText(self.tr("Tag: {tag}").format(tag=chosen[0]))
        else:
            self.tags_button.setText(self.tr("Tags: {n}").format(n=len(chosen)))
        f = self.current_filter() if hasattr(self, "_last_emitted") else VariantFilter()
        more = sum(1 for v in (f.price_min, f.price_max, f.stock_min, f.stock_max, f.changed_since)
                   if v is not None) + int(f.low_stock) + int(bool(f.variant_statuses)) + int(f.needs_attention)
        self.more_button.setText(self.tr("More filters") if not more else self.tr("More filters ({n})").format(n=more))
        self.clear_button.setEnabled(f != VariantFilter())
        for edit in (self.price_min, self.price_max):
            edit.style().unpolish(edit)
            edit.style().polish(edit)

