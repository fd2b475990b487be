"""The Reports view: built-in and saved reports, the builder, chart and table, exports and schedules."""

from backoffice.ui.views.reports.view import ReportsView

__all__ = ["ReportsView"]
