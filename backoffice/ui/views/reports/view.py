"""Reports: Report builder, charts and scheduled Excel delivery. Not built yet; the page says what it will hold."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.ui.views.base import PlaceholderPage


class ReportsView(PlaceholderPage):
    key = "reports"
    TITLE = QT_TRANSLATE_NOOP("Views", "Reports")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Report builder, charts and scheduled Excel delivery.")
    icon_name = "reports"

    def planned(self) -> tuple[str, list[str]]:
        return (
            self.tr("Answers from your data, on a schedule."),
            [
                self.tr("Build reports from sales, stock and catalog fields"),
                self.tr("Charts that update as the data changes"),
                self.tr("Scheduled Excel files delivered by email"),
            ],
        )
