"""The chart of the Reports view: a matplotlib Figure on a QtAgg canvas, redrawn from each result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtWidgets import QSizePolicy, QWidget

from backoffice.reports import charts

if TYPE_CHECKING:
    from backoffice.operations.reports import ReportTable


class ChartCanvas(FigureCanvasQTAgg):
    def __init__(self, parent: QWidget | None = None) -> None:
        self.figure = Figure(figsize=(6, 3), dpi=100, facecolor="white")
        super().__init__(self.figure)
        self.setParent(parent)
        self.setMinimumHeight(200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.data: charts.ChartData | None = None
        self.draws = 0
        self.show_result(None)

    def show_result(self, result: ReportTable | None, empty_text: str = "") -> None:
        self.data = charts.table_chart(result) if result is not None else None
        if empty_text:
            text = empty_text
        elif result is None:
            text = "Run a report to see its chart"
        elif result.chart is None:
            text = "This report has no chart: choose one under Chart"
        else:
            text = "Nothing to chart: no rows"
        charts.draw(self.figure, self.data, empty_text=text)
        self.draw_idle()
        self.draws += 1

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        super().resizeEvent(event)
        if self.width() > 50 and self.height() > 50:
            try:
                self.figure.tight_layout()
            except (ValueError, RuntimeError):  # too small for the labels: keep the last layout
                pass
