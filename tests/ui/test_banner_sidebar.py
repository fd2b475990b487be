"""The message banner (transient info/success messages hide, errors and warnings stay) and the sidebar
badge (compact pill, exact count in the tooltip)."""

from __future__ import annotations

import pytest

from backoffice.ui.widgets.banner import TRANSIENT_MS, MessageBanner
from backoffice.ui.widgets.sidebar import Sidebar, badge_text


@pytest.fixture
def banner(qtbot) -> MessageBanner:  # type: ignore[no-untyped-def]
    widget = MessageBanner()
    qtbot.addWidget(widget)
    return widget


def test_a_transient_success_hides_by_itself(qtbot, banner: MessageBanner) -> None:
    banner.show_message("Saved.", "success", 50)
    assert banner.isVisible() and banner.is_transient() and banner.hide_timer.interval() == 50
    with qtbot.waitSignal(banner.dismissed, timeout=10_000):
        pass
    assert banner.isHidden() and not banner.is_transient()


def test_errors_and_warnings_stay_whatever_the_timeout(qtbot, banner: MessageBanner) -> None:
    for level in ("error", "warning"):
        banner.show_message("The stock could not be loaded.", level, 50)
        assert banner.isVisible() and not banner.is_transient() and not banner.hide_timer.isActive()
    banner.show_message("Saved.", "success", 50)
    banner.show_message("Nothing was written.", "error")  # a later error replaces it and is not hidden by its timer
    assert not banner.hide_timer.isActive() and banner.text.text() == "Nothing was written."


def test_the_existing_api_still_shows_a_message_until_dismissed(qtbot, banner: MessageBanner) -> None:
    banner.show_message("Select the rows to edit first.", "info")
    assert banner.isVisible() and not banner.hide_timer.isActive()
    with qtbot.waitSignal(banner.dismissed, timeout=1_000):
        banner.close_button.click()
    assert banner.isHidden()


def test_flash_uses_the_usual_timeout_and_pauses_while_hidden(qtbot, banner: MessageBanner) -> None:
    banner.flash("Mailed 3 alerts.")
    assert banner.hide_timer.isActive() and banner.hide_timer.interval() == TRANSIENT_MS
    banner.hide()  # its page went away: no countdown while it cannot be read
    assert not banner.hide_timer.isActive()
    banner.show()
    assert banner.hide_timer.isActive()


@pytest.mark.parametrize(("count", "text"), [
    (0, "0"), (7, "7"), (999, "999"), (1000, "1k"), (6892, "6.9k"), (12_400, "12k"), (999_499, "999k"),
    (1_500_000, "1.5M"),
])
def test_badge_text_is_exact_below_a_thousand_then_compact(count: int, text: str) -> None:
    assert badge_text(count) == text


def test_the_badge_keeps_the_true_number_and_says_it_in_the_tooltip(qtbot) -> None:  # type: ignore[no-untyped-def]
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    from PySide6.QtGui import QIcon

    sidebar.add_item("inventory", "Inventory", QIcon(), "Stock per location")
    sidebar.set_badge("inventory", 6892)
    assert sidebar.badge("inventory") == 6892
    assert sidebar.badge_tooltip("inventory") == "Stock per location\n6,892 open alerts"
    sidebar.set_badge("inventory", 3, "{n} open low-stock alerts")
    assert sidebar.badge_tooltip("inventory") == "Stock per location\n3 open low-stock alerts"
    sidebar.set_badge("inventory", 0)
    assert sidebar.badge_tooltip("inventory") == "Stock per location"
