"""The File menu's upkeep entries: Back up and restore…, Scheduled work…; shown to whoever may use them."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMainWindow, QMenu

from backoffice.ui.dialogs.backups import may_back_up, open_backups
from backoffice.ui.dialogs.scheduled_work import may_schedule, open_scheduled_work


def _tr(text: str) -> str:
    return QCoreApplication.translate("MaintenanceMenu", text)


def install_maintenance_menu(window: QMainWindow, menu: QMenu) -> None:
    """Add the upkeep entries to ``menu``; they act on ``window.context`` and ``window.tasks``."""
    window.backups_action = menu.addAction(_tr("&Back up and restore…"))
    window.backups_action.triggered.connect(lambda: open_backups(window))
    window.scheduled_work_action = menu.addAction(_tr("Sc&heduled work…"))
    window.scheduled_work_action.setToolTip(_tr("Run reports, alerts, order processing and store sync from this "
                                                "computer's scheduler, without Backoffice open"))
    window.scheduled_work_action.triggered.connect(lambda: open_scheduled_work(window))

    def follow() -> None:
        window.backups_action.setVisible(may_back_up(window.context))
        window.scheduled_work_action.setVisible(may_schedule(window.context))

    window.context.changed.connect(follow)
    follow()
