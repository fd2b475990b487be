"""Offscreen rendering of every view to a PNG of the requested size, after its data has loaded."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage

from backoffice.operations import LocalOperations
from backoffice.services import audit as audit_service
from backoffice.ui.main_window import MainWindow
from backoffice.ui.screenshot import VIEW_NAMES, render_view_to_file


def test_view_names() -> None:
    assert VIEW_NAMES == ("products", "variants", "images", "bundles", "inventory", "transfers", "purchasing", "orders", "customers", "reports",
                          "audit", "store_sync", "shell", "profiles", "lock", "connected")


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_every_view_renders_to_a_png_of_the_given_size(qtbot, sqlite_db, sqlite_actor, write_audit_rows, tmp_path,
                                                       view) -> None:  # type: ignore[no-untyped-def]
    write_audit_rows(sqlite_db, sqlite_actor, 30)
    path = tmp_path / "shots" / f"{view}.png"
    render_view_to_file(LocalOperations(sqlite_db, sqlite_actor), view, path, width=1100, height=720, profile_name="Shop HQ")
    image = QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (1100, 720)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_audit_screenshot_waits_for_the_rows(qtbot, monkeypatch, sqlite_db, sqlite_actor, write_audit_rows,
                                            tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The query blocks until the GUI thread, spinning its event loop while the renderer waits, releases
    it: the rows can only be in the picture if the renderer waited for the load to finish. No sleep, so a
    slow machine cannot make it fail."""
    write_audit_rows(sqlite_db, sqlite_actor, 5)
    original_fetch = audit_service.fetch_page
    started, release = threading.Event(), threading.Event()

    def blocking_fetch_page(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        if not release.wait(30):
            raise RuntimeError("not released")
        return original_fetch(*args, **kwargs)

    rows_when_grabbed: list[int] = []
    released_before_grab: list[bool] = []
    original_grab = MainWindow.grab

    def recording_grab(window, *args):  # type: ignore[no-untyped-def]
        released_before_grab.append(release.is_set())
        rows_when_grabbed.append(window.view("audit").model.rowCount())
        return original_grab(window, *args)

    def release_once_started() -> None:  # runs on the GUI thread, only while its event loop runs
        if started.is_set():
            release.set()
            poller.stop()

    poller = QTimer()
    poller.timeout.connect(release_once_started)
    poller.start(0)
    monkeypatch.setattr(audit_service, "fetch_page", blocking_fetch_page)
    monkeypatch.setattr(MainWindow, "grab", recording_grab)
    try:
        render_view_to_file(LocalOperations(sqlite_db, sqlite_actor), "audit", tmp_path / "audit.png")
    finally:
        poller.stop()
        release.set()
    assert released_before_grab == [True]
    assert rows_when_grabbed == [6]
    assert QImage(str(tmp_path / "audit.png")).size().toTuple() == (1280, 800)


def test_unknown_view_is_a_value_error_listing_the_valid_ones(sqlite_db, sqlite_actor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as excinfo:
        render_view_to_file(LocalOperations(sqlite_db, sqlite_actor), "warehouse", tmp_path / "x.png")
    message = str(excinfo.value)
    assert "warehouse" in message
    for name in VIEW_NAMES:
        assert name in message
    assert not (tmp_path / "x.png").exists()
