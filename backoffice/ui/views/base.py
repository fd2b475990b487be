"""What every view page shares, and the empty-state page of views still to be built."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.empty_state import EmptyState


class ViewPage(QWidget):
    """One page of the main window. Subclasses set ``key`` (stable, lower-case: used by shortcuts,
    settings and ``backoffice screenshot --view``), ``TITLE`` (marked with QT_TRANSLATE_NOOP in the
    "Views" context) and ``icon_name`` (a file in resources/icons)."""

    key: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""
    icon_name: ClassVar[str] = ""
    REQUIRES: ClassVar[str] = ""    # the operation the page reads first; a role that may not run it sees why

    loading_changed = Signal(bool)
    badge_changed = Signal(int)  # a count worth the user's attention (open alerts); 0 hides the badge

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.tasks = tasks

    @classmethod
    def title(cls) -> str:
        return QCoreApplication.translate("Views", cls.TITLE)

    @classmethod
    def description(cls) -> str:
        return QCoreApplication.translate("Views", cls.DESCRIPTION)

    def activate(self) -> None:
        """The page became the visible one: load or refresh what it shows (in the background)."""

    def is_loading(self) -> bool:
        """True while a background load for this page is under way (screenshots wait for False)."""
        return False


def page_header(title: str, subtitle: str = "", *right: QWidget) -> QHBoxLayout:
    """A page title with a muted subtitle on the left and optional widgets on the right."""
    heading = QLabel(title)
    heading.setObjectName("PageTitle")
    text = QVBoxLayout()
    text.setSpacing(2)
    text.addWidget(heading)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setObjectName("PageSubtitle")
        text.addWidget(sub)
    row = QHBoxLayout()
    row.setSpacing(10)
    row.addLayout(text, 1)
    for widget in right:
        row.addWidget(widget)
    return row


class PlaceholderPage(ViewPage):
    """A view that is planned but not built yet: a tidy empty state saying what it will hold."""

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        summary, bullets = self.planned()
        self.empty = EmptyState(self.icon_name, self.title(), summary, bullets=bullets, badge=self.tr("Coming soon"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)

    def planned(self) -> tuple[str, list[str]]:
        """(one sentence, up to three lines) describing what the view will hold."""
        return "", []
