"""The Reports view (planned): Report builder, charts and scheduled Excel delivery."""

from backoffice.ui.views.reports.view import ReportsView

__all__ = ["ReportsView"]
