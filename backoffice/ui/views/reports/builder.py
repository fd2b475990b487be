"""The report builder: a source, its fields, and three lists the fields go into — group by, columns and
filters — by drag and drop or with the buttons under the field list. The selected entry of a list is
edited below it (date bucket, aggregate, filter operator and value). The panel holds no data: it turns
its state into a ReportDefinition (:meth:`definition`) and back (:meth:`load`), and says when it changed.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backoffice.reports.compiler import BUCKET_LABELS, OP_LABELS
from backoffice.reports.dates import RELATIVE_RANGES
from backoffice.reports.definition import AGGREGATE_LABELS, ChartSpec, Column, Filter, GroupBy, ReportDefinition, Sort
from backoffice.reports.sources import SOURCES, Source
from backoffice.ui.format import translator

DATA = Qt.ItemDataRole.UserRole + 10
CHARTS = {"": "No chart", "line": "Line", "bar": "Bar", "stacked_bar": "Stacked bar", "pie": "Pie"}
TEXT_OPS = ("eq", "ne", "in", "not_in", "contains", "is_null", "not_null")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "is_null", "not_null")
DATE_OPS = ("range", "gte", "lt", "is_null", "not_null")


tr = translator("Reports")


# Entries keep their settings as JSON text: a drag between lists carries item data through a QDataStream,
# which keeps strings but not Python objects.
def entry(item: QListWidgetItem) -> dict[str, Any]:
    raw = item.data(DATA)
    if not raw:
        return {}
    data = json.loads(raw)
    return data if isinstance(data, dict) else {"field": str(data)}


def set_entry(item: QListWidgetItem, data: dict[str, Any]) -> None:
    item.setData(DATA, json.dumps(data, sort_keys=True, default=str))


class FieldList(QListWidget):
    """The source's fields: dragged out as copies (a field stays available however often it is used)."""

    def __init__(self) -> None:
        super().__init__()
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)

    def startDrag(self, supported_actions: Qt.DropAction) -> None:  # noqa: N802
        super().startDrag(Qt.DropAction.CopyAction)


class DropList(QListWidget):
    """Group by, columns or filters: accepts fields dropped from the field list, reorders by dragging."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setAcceptDrops(True)
        self.setMinimumHeight(64)


class BuilderPanel(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self._base = ReportDefinition(name="new-report", source="sales_lines")
        self.source_combo = QComboBox()
        for src in SOURCES.values():
            self.source_combo.addItem(src.title, src.name)
        self.source_combo.currentIndexChanged.connect(self._on_source)
        self.fields = FieldList()
        self.fields.setMinimumHeight(120)
        self.fields.setMaximumHeight(190)
        self.fields.itemDoubleClicked.connect(lambda _i: self.add_selected("columns"))
        self.group_list, self.column_list, self.filter_list = DropList("group"), DropList("columns"), DropList("filters")
        self.lists = {"group": self.group_list, "columns": self.column_list, "filters": self.filter_list}
        for lst in self.lists.values():
            # a drop inserts the row first and sets its data after: look at it once the drop is done
            lst.model().rowsInserted.connect(lambda *_a, lst=lst: QTimer.singleShot(0, lambda: self._normalise(lst)))
            lst.model().rowsMoved.connect(lambda *_a: self._emit())
            lst.currentItemChanged.connect(lambda cur, _prev, lst=lst: self._edit(lst, cur))

        self.to_group = QPushButton(tr("Group by"))
        self.to_columns = QPushButton(tr("Column"))
        self.to_filters = QPushButton(tr("Filter"))
        for button, role in ((self.to_group, "group"), (self.to_columns, "columns"), (self.to_filters, "filters")):
            button.setToolTip(tr("Add the selected fields to {role}").format(role=button.text().lower()))
            button.clicked.connect(lambda _c=False, role=role: self.add_selected(role))
        self.remove_button = QPushButton(tr("Remove"))
        self.remove_button.clicked.connect(self.remove_current)

        # the editor of the selected entry
        self.bucket_combo = QComboBox()
        self.bucket_combo.addItem(tr("As it is"), None)
        for key, label in BUCKET_LABELS.items():
            self.bucket_combo.addItem(tr(label), key)
        self.agg_combo = QComboBox()
        self.agg_combo.addItem(tr("Value"), None)
        for key, label in AGGREGATE_LABELS.items():
            self.agg_combo.addItem(tr(label), key)
        self.op_combo = QComboBox()
        self.value_edit = QLineEdit()
        self.value_edit.setPlaceholderText(tr("value, list a, b or range"))
        for w in (self.bucket_combo, self.agg_combo, self.op_combo):
            w.currentIndexChanged.connect(self._apply_editor)
        self.value_edit.editingFinished.connect(self._apply_editor)
        self.editor_hint = QLabel()
        self.editor_hint.setObjectName("Muted")
        self.editor_hint.setWordWrap(True)

        self.chart_combo = QComboBox()
        for key, label in CHARTS.items():
            self.chart_combo.addItem(tr(label), key)
        self.pivot_combo = QComboBox()
        self.sort_combo = QComboBox()
        self.sort_desc = QCheckBox(tr("Descending"))
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(0, 1_000_000)
        self.limit_spin.setSpecialValueText(tr("All rows"))
        self.limit_spin.setSingleStep(10)
        self.partial_combo = QComboBox()
        self.partial_combo.addItem(tr("Mark as partial"), "mark")
        self.partial_combo.addItem(tr("Leave out"), "exclude")
        self.partial_combo.setToolTip(tr("A period the report covers only in part (the current month, today): "
                                         "marked in the table and the chart, or left out"))
        for w in (self.chart_combo, self.pivot_combo, self.sort_combo, self.partial_combo):
            w.currentIndexChanged.connect(self._emit)
        self.sort_desc.toggled.connect(self._emit)
        self.limit_spin.valueChanged.connect(self._emit)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self._caption(tr("Source")))
        layout.addWidget(self.source_combo)
        layout.addWidget(self._caption(tr("Fields — drag into a list, or select and add")))
        layout.addWidget(self.fields, 2)
        moves = QHBoxLayout()
        for b in (self.to_group, self.to_columns, self.to_filters):
            moves.addWidget(b)
        layout.addLayout(moves)
        lists = QGridLayout()
        lists.setHorizontalSpacing(6)
        lists.addWidget(self._caption(tr("Group by")), 0, 0)
        lists.addWidget(self.group_list, 1, 0)
        lists.addWidget(self._caption(tr("Columns")), 0, 1)
        lists.addWidget(self.column_list, 1, 1)
        lists.addWidget(self._caption(tr("Filters")), 2, 0, 1, 2)
        lists.addWidget(self.filter_list, 3, 0, 1, 2)
        for lst in (self.group_list, self.column_list):
            lst.setMinimumHeight(96)
        self.filter_list.setMinimumHeight(70)
        layout.addLayout(lists, 2)
        self.editor = QFormLayout()
        self.editor.setContentsMargins(0, 0, 0, 0)
        self.editor.addRow(tr("Bucket"), self.bucket_combo)
        self.editor.addRow(tr("Aggregate"), self.agg_combo)
        self.editor.addRow(tr("Condition"), self.op_combo)
        self.editor.addRow(tr("Value"), self.value_edit)
        layout.addLayout(self.editor)
        row = QHBoxLayout()
        row.addWidget(self.editor_hint, 1)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        shape = QFormLayout()
        shape.addRow(tr("Chart"), self.chart_combo)
        shape.addRow(tr("Pivot"), self.pivot_combo)
        sort_row = QHBoxLayout()
        sort_row.addWidget(self.sort_combo, 1)
        sort_row.addWidget(self.sort_desc)
        shape.addRow(tr("Sort"), sort_row)
        shape.addRow(tr("Limit"), self.limit_spin)
        shape.addRow(tr("Partial periods"), self.partial_combo)
        layout.addLayout(shape)
        self._on_source()
        self._edit(None, None)

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("SectionLabel")
        return label

    # -- the source and its fields --------------------------------------------------------------------------
    @property
    def source(self) -> Source:
        return SOURCES[self.source_combo.currentData()]

    def _on_source(self) -> None:
        src = self.source
        self.fields.clear()
        for f in src.fields:
            item = QListWidgetItem(f"{f.label}  ·  {f.kind}")
            set_entry(item, {"field": f.name})
            item.setToolTip(f.name)
            self.fields.addItem(item)
        for c in src.computed:
            if c.hidden:
                continue
            item = QListWidgetItem(f"{c.label}  ·  {tr('computed')}")
            set_entry(item, {"field": c.name, "computed": True})
            item.setToolTip(tr("A measure computed from aggregates"))
            self.fields.addItem(item)
        if not self._loading:
            for lst in self.lists.values():
                lst.clear()
            self._refresh_shape()
            self._emit()

    def _spec(self, name: str) -> Any:
        src = self.source
        return next((f for f in src.fields if f.name == name), None) or src.computed_measure(name)

    def add_selected(self, role: str) -> None:
        for item in self.fields.selectedItems() or ([self.fields.currentItem()] if self.fields.currentItem() else []):
            new = QListWidgetItem()
            set_entry(new, entry(item))
            self.lists[role].addItem(new)   # rowsInserted normalises and announces it

    def remove_current(self) -> None:
        for lst in self.lists.values():
            if lst.hasFocus() or lst is self._editing:
                row = lst.currentRow()
                if row >= 0:
                    lst.takeItem(row)
                    self._refresh_shape()
                    self._emit()
                return

    # -- entries -------------------------------------------------------------------------------------------
    def _normalise(self, lst: DropList) -> None:
        """Give entries that just arrived (dropped or added) their defaults and their text."""
        changed = False
        for i in reversed(range(lst.count())):
            item = lst.item(i)
            data = entry(item)
            spec = self._spec(data.get("field", ""))
            if spec is None:  # not a field of this source
                lst.takeItem(i)
                changed = True
                continue
            before = dict(data)
            computed = data.get("computed") or not hasattr(spec, "expr")
            if lst.role == "group" and "bucket" not in data:
                data["bucket"] = "month" if getattr(spec, "temporal", False) else None
            if lst.role == "columns" and "agg" not in data:
                data["agg"] = None if computed or not spec.numeric else "sum"
            if lst.role == "filters" and "op" not in data:
                data["op"] = "range" if getattr(spec, "temporal", False) else "eq"
                data["value"] = "last_30_days" if data["op"] == "range" else ""
            text = self._entry_text(lst.role, data)
            if data != before or item.text() != text:
                set_entry(item, data)
                item.setText(text)
                changed = True
        if changed and not self._loading:
            self._refresh_shape()
            self._emit()

    def _entry_text(self, role: str, data: dict[str, Any]) -> str:
        spec = self._spec(data["field"])
        label = spec.label if spec is not None else data["field"]
        if role == "group":
            return f"{label} · {tr(BUCKET_LABELS[data['bucket']])}" if data.get("bucket") else label
        if role == "columns":
            if data.get("label"):
                return data["label"]
            return f"{tr(AGGREGATE_LABELS[data['agg']])} of {label}" if data.get("agg") else label
        value = data.get("value")
        if data.get("op") == "range":
            value = RELATIVE_RANGES.get(str(value), value)
        suffix = f" ({tr('parameter')} {data['param']})" if data.get("param") else ""
        shown = "" if data.get("op") in ("is_null", "not_null") else f" {value}"
        return f"{label} {tr(OP_LABELS.get(data.get('op', 'eq'), ''))}{shown}{suffix}"

    def _edit(self, lst: DropList | None, item: QListWidgetItem | None) -> None:
        self._editing = lst if item is not None else None
        data = entry(item) if item is not None else {}
        spec = self._spec(data.get("field", "")) if data else None
        self._loading_editor = True
        role = lst.role if lst is not None and item is not None else None
        self.bucket_combo.setEnabled(role == "group" and bool(getattr(spec, "temporal", False)))
        self.bucket_combo.setCurrentIndex(max(0, self.bucket_combo.findData(data.get("bucket"))))
        computed = spec is not None and not hasattr(spec, "expr")
        self.agg_combo.setEnabled(role == "columns" and not computed)
        self.agg_combo.setCurrentIndex(max(0, self.agg_combo.findData(data.get("agg"))))
        self.op_combo.clear()
        if role == "filters" and spec is not None:
            ops = DATE_OPS if spec.temporal else NUMBER_OPS if spec.numeric else TEXT_OPS
            for op in ops:
                self.op_combo.addItem(tr(OP_LABELS[op]), op)
            self.op_combo.setCurrentIndex(max(0, self.op_combo.findData(data.get("op"))))
            self.value_edit.setText("" if data.get("value") is None else
                                    ", ".join(map(str, data["value"])) if isinstance(data["value"], list)
                                    else str(data["value"]))
        else:
            self.value_edit.clear()
        self.op_combo.setEnabled(role == "filters")
        self.value_edit.setEnabled(role == "filters")
        # only the settings of the selected kind of entry are shown
        for widget, visible in ((self.bucket_combo, role == "group"), (self.agg_combo, role == "columns"),
                                (self.op_combo, role == "filters"), (self.value_edit, role == "filters")):
            self.editor.setRowVisible(widget, visible)
        self.remove_button.setEnabled(item is not None)
        hint = "" if item is not None else tr("Select an entry of a list to change its bucket, aggregate or condition.")
        if role == "filters" and spec is not None and spec.temporal:
            hint = tr("Ranges: last_month, last_30_days, this_year … or 2026-01-01..2026-04-01")
        elif role == "filters" and data.get("param"):
            hint = tr("Set by the report parameter {name}").format(name=data["param"])
        self.editor_hint.setText(hint)
        self._loading_editor = False

    def _apply_editor(self) -> None:
        if getattr(self, "_loading_editor", False) or self._editing is None:
            return
        item = self._editing.currentItem()
        if item is None:
            return
        data = entry(item)
        before = dict(data)
        if self._editing.role == "group":
            data["bucket"] = self.bucket_combo.currentData()
        elif self._editing.role == "columns":
            data["agg"] = self.agg_combo.currentData()
            data.pop("label", None)
        else:
            data["op"] = self.op_combo.currentData()
            data["value"] = self.value_edit.text().strip()
        if data == before:
            return
        set_entry(item, data)
        item.setText(self._entry_text(self._editing.role, data))
        self._refresh_shape()
        self._emit()

    # -- pivot, sort, chart ----------------------------------------------------------------------------------
    def _keys(self, role: str) -> list[tuple[str, str]]:
        out = []
        for i in range(self.lists[role].count()):
            data = entry(self.lists[role].item(i))
            key = GroupBy(data["field"], data.get("bucket")).key if role == "group" else \
                Column(data["field"], data.get("agg")).key
            out.append((key, self.lists[role].item(i).text()))
        return out

    def _refresh_shape(self) -> None:
        was = self._loading
        self._loading = True
        pivot, sort = self.pivot_combo.currentData(), self.sort_combo.currentData()
        self.pivot_combo.clear()
        self.pivot_combo.addItem(tr("No pivot"), None)
        for key, text in self._keys("group"):
            self.pivot_combo.addItem(text, key)
        self.sort_combo.clear()
        self.sort_combo.addItem(tr("Natural order"), None)
        for key, text in self._keys("group") + self._keys("columns"):
            self.sort_combo.addItem(text, key)
        self.pivot_combo.setCurrentIndex(max(0, self.pivot_combo.findData(pivot)))
        self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(sort)))
        self._loading = was

    def _emit(self) -> None:
        if not self._loading:
            self.changed.emit()

    # -- definitions in and out --------------------------------------------------------------------------------
    def load(self, defn: ReportDefinition) -> None:
        self._loading = True
        try:
            self._base = defn
            self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(defn.source)))
            self._on_source()
            for lst in self.lists.values():
                lst.clear()
            for g in defn.group_by:
                self._add_entry("group", {"field": g.field, "bucket": g.bucket})
            for c in defn.columns:
                self._add_entry("columns", {"field": c.field, "agg": c.agg, "label": c.label})
            for f in defn.filters:
                self._add_entry("filters", {"field": f.field, "op": f.op, "value": f.value, "param": f.param})
            self.chart_combo.setCurrentIndex(max(0, self.chart_combo.findData(defn.chart.kind if defn.chart else "")))
            self._refresh_shape()
            self.pivot_combo.setCurrentIndex(max(0, self.pivot_combo.findData(defn.pivot)))
            first = defn.sort[0] if defn.sort else None
            self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(first.key if first else None)))
            if first and self.sort_combo.currentData() is None:  # a field name standing for its column
                made = [c.key for c in defn.columns if c.field == first.key]
                self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(made[0] if made else None)))
            self.sort_desc.setChecked(bool(first and first.desc))
            self.limit_spin.setValue(defn.limit or 0)
            self.partial_combo.setCurrentIndex(max(0, self.partial_combo.findData(defn.partial_periods)))
        finally:
            self._loading = False
        self._edit(None, None)

    def _add_entry(self, role: str, data: dict[str, Any]) -> None:
        item = QListWidgetItem()
        data = {k: v for k, v in data.items() if v not in (None, "") or k in ("bucket", "agg")}
        set_entry(item, data)
        self.lists[role].addItem(item)
        item.setText(self._entry_text(role, data))

    def definition(self) -> ReportDefinition:
        def entries(role: str) -> list[dict[str, Any]]:
            return [entry(self.lists[role].item(i)) for i in range(self.lists[role].count())]

        base = self._base
        chart_kind = self.chart_combo.currentData()
        source_changed = self.source.name != base.source
        chart = None
        if chart_kind:
            same = base.chart if base.chart and base.chart.kind == chart_kind and not source_changed else None
            chart = ChartSpec(chart_kind, same.x if same else "", list(same.y) if same else [],
                              same.title if same else "")
        sort_key = self.sort_combo.currentData()
        filters = []
        for d in entries("filters"):
            value: Any = d.get("value")
            if d.get("op") in ("in", "not_in") and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            filters.append(Filter(d["field"], d.get("op", "eq"), value, d.get("param")))
        return ReportDefinition(
            name=base.name, source=self.source.name, title=base.title, description=base.description,
            columns=[Column(d["field"], d.get("agg"), d.get("label", "")) for d in entries("columns")],
            group_by=[GroupBy(d["field"], d.get("bucket")) for d in entries("group")],
            filters=filters, sort=[Sort(sort_key, self.sort_desc.isChecked())] if sort_key else [],
            limit=self.limit_spin.value() or None, pivot=self.pivot_combo.currentData(), chart=chart,
            options={} if source_changed else dict(base.options),
            params={} if source_changed else dict(base.params),
            post=None if source_changed else base.post, currency=base.currency,
            partial_periods=self.partial_combo.currentData() or "mark")
