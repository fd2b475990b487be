"""Starting the GUI: the window appears at once, connects in the background, and shows failures as
messages; the demo store is filled with a cancellable progress panel."""

from __future__ import annotations

import os
import threading
import time
import types
import uuid

import pytest
from PySide6.QtCore import QSettings, QTimer
from sqlalchemy import create_engine, make_url, text

import backoffice.services
from backoffice import migrations
from backoffice.db import Database, data_dir, default_sqlite_path, default_url
from backoffice.operations import session
from backoffice.services.base import ValidationError
from backoffice.services.users import ensure_user
from tests.conftest import STAFF_PASSWORD
from backoffice.ui import app as app_module
from backoffice.ui.app import Gui, run_gui, start_gui
from backoffice.ui.context import ConnectionState


@pytest.fixture
def launch(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    started: list[Gui] = []

    def launch_(db_url: str, **kwargs) -> Gui:  # type: ignore[no-untyped-def]
        gui = start_gui(db_url=db_url, settings=QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat),
                        **kwargs)
        started.append(gui)
        return gui

    yield launch_
    for gui in started:
        gui.shutdown()
        gui.window.close()
        gui.window.deleteLater()
    qtbot.wait(10)


def wait_state(qtbot, gui: Gui, state: ConnectionState) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: gui.context.state is state, timeout=20_000)


def sign_in(qtbot, gui: Gui, password: str, username: str | None = None):  # type: ignore[no-untyped-def]
    """Answer the sign-in dialog of a shared database (shown before connecting)."""
    qtbot.waitUntil(lambda: gui.connector.sign_in_dialog is not None and gui.connector.sign_in_dialog.isVisible(),
                    timeout=10_000)
    dialog = gui.connector.sign_in_dialog
    if username is not None:
        dialog.username.setText(username)
    qtbot.keyClicks(dialog.password, password)
    dialog.sign_in_button.click()
    return dialog


def test_window_shows_at_once_then_connects_the_embedded_database(qtbot, monkeypatch, launch) -> None:  # type: ignore[no-untyped-def]
    original = session.open_database
    opened_from: list[int] = []

    def recording_open_database(*args, **kwargs):  # type: ignore[no-untyped-def]
        opened_from.append(threading.get_ident())
        time.sleep(0.1)
        return original(*args, **kwargs)

    monkeypatch.setattr(session, "open_database", recording_open_database)
    assert not default_sqlite_path().exists()
    gui = launch(default_url())
    assert gui.window.isVisible()
    assert gui.context.state is ConnectionState.CONNECTING
    assert gui.window.pages.currentWidget() is gui.window.connection_page

    wait_state(qtbot, gui, ConnectionState.CONNECTED)
    assert opened_from and opened_from[0] != threading.get_ident()
    assert gui.context.ops is not None
    assert gui.context.ops.admin.schema().current == migrations.head_revision()  # created automatically
    status = gui.window.session_status
    assert status.profile.text() == "Local database"
    owner = session.current_os_username()     # the new file's first admin: its owner, acting without a login
    assert status.user.text() == f"{owner} · owner of this file (admin)"
    assert status.connection.text() == f"SQLite · {default_sqlite_path()}"
    assert gui.window.pages.currentWidget() is gui.window.view("products")


def test_a_chosen_sqlite_file_without_schema_is_not_created(qtbot, launch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gui = launch(f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    wait_state(qtbot, gui, ConnectionState.FAILED)
    page = gui.window.connection_page
    assert "has no Backoffice schema" in page.error.text()
    assert "backoffice db upgrade" in page.hint.text()
    assert page.retry.isVisible()
    assert "Traceback" not in page.error.text()


def test_a_file_of_an_earlier_version_is_backed_up_and_upgraded_from_the_page(qtbot, launch, tmp_path,
                                                                                 isolated_user_dirs) -> None:  # type: ignore[no-untyped-def]
    """The connection page offers Back up and upgrade for an SQLite file an earlier version made: the copy
    is made first (at the old revision, with the rows), then the file is upgraded and opened."""
    import sqlite3

    path = tmp_path / "last-year.sqlite"
    old = Database(f"sqlite:///{path}")
    migrations.upgrade(old, "0017")
    with old.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (id, username, display_name, role, active, failed_logins, version, "
                             "created_at, updated_at) VALUES (1, 'owner', 'Owner', 'admin', 1, "
                             "0, 1, '2025-01-01', '2025-01-01')")
        conn.exec_driver_sql("INSERT INTO products (id, handle, title, vendor, product_type, status, description, "
                             "version, created_at, updated_at) VALUES (1, 'crew', 'Crew', 'Norda', 'Tops', 'active', "
                             "'', 1, '2025-01-01', '2025-01-01')")
    old.dispose()
    gui = launch(f"sqlite:///{path}")
    wait_state(qtbot, gui, ConnectionState.FAILED)
    page = gui.window.connection_page
    assert "older than this Backoffice" in page.error.text()
    assert page.upgrade.isVisible() and "earlier version" in page.hint.text()
    page.upgrade.click()
    wait_state(qtbot, gui, ConnectionState.CONNECTED)
    assert gui.context.ops.admin.schema().current == migrations.head_revision()
    backups = list((data_dir() / "backups").glob("last-year-*.sqlite"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as conn:   # the copy is of the file as it was, before the upgrade
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0017"
        assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 1
    assert not page.upgrade.isVisible()


def test_an_unreachable_server_is_one_clear_message(qtbot, launch) -> None:  # type: ignore[no-untyped-def]
    gui = launch("postgresql://staff@127.0.0.1:1/shop")
    sign_in(qtbot, gui, "any password")
    wait_state(qtbot, gui, ConnectionState.FAILED)
    assert gui.connector.sign_in_dialog is None
    page = gui.window.connection_page
    assert page.error.text().startswith("cannot connect to postgresql+psycopg://staff@127.0.0.1:1/shop")
    assert "\n" not in page.error.text()
    assert "server is running" in page.hint.text()
    assert gui.window.session_status.connection.text() == "Not connected · PostgreSQL · 127.0.0.1:1/shop"


@pytest.mark.postgres
def test_postgresql_without_schema_shows_the_upgrade_hint(qtbot, launch, pg_server_url) -> None:  # type: ignore[no-untyped-def]
    admin = make_url(os.environ["BACKOFFICE_TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    name = f"bo_ui_empty_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        gui = launch(admin.set(database=name).render_as_string(hide_password=False))
        sign_in(qtbot, gui, "any password")
        wait_state(qtbot, gui, ConnectionState.FAILED)
        assert "has no Backoffice schema" in gui.window.connection_page.error.text()
        assert "backoffice db upgrade" in gui.window.connection_page.hint.text()
        assert gui.tasks.wait_idle(10_000)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.mark.postgres
def test_connects_to_postgresql(qtbot, launch, pg_db) -> None:  # type: ignore[no-untyped-def]
    ensure_user(pg_db, "pat", password=STAFF_PASSWORD)
    gui = launch(pg_db.url.render_as_string(hide_password=False), username="pat")
    assert sign_in(qtbot, gui, STAFF_PASSWORD).username.text() == "pat"   # prefilled
    wait_state(qtbot, gui, ConnectionState.CONNECTED)
    u = pg_db.url
    assert gui.window.session_status.connection.text() == f"PostgreSQL · {u.host}/{u.database}"
    assert gui.window.session_status.user.text() == "pat · Admin"


def fake_demo_module(monkeypatch, generate, holds: str = "empty") -> None:  # type: ignore[no-untyped-def]
    module = types.ModuleType("backoffice.services.demo")
    module.generate_demo = generate  # type: ignore[attr-defined]
    module.demo_state = lambda db: holds  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "backoffice.services.demo", module)
    monkeypatch.setattr(backoffice.services, "demo", module, raising=False)


def test_demo_store_is_filled_with_progress_and_can_be_cancelled(qtbot, monkeypatch, launch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    calls: list[dict] = []

    def generate_demo(db, actor, *, products, progress, cancel, image_store=None):  # type: ignore[no-untyped-def]
        calls.append({"products": products, "actor": actor.username, "photos": image_store is not None})
        # Works until it is cancelled (however slow the machine), with a bound so a broken cancel fails the
        # test instead of hanging it.
        deadline = time.monotonic() + 60
        i = 0
        while time.monotonic() < deadline:
            if cancel():
                raise ValidationError("demo generation cancelled; nothing was written")
            i = i % 1999 + 1
            progress(i / 2000, f"Creating product {i} of 2000")
            time.sleep(0.002)
        return {"products": products}

    fake_demo_module(monkeypatch, generate_demo)
    gui = launch(f"sqlite:///{tmp_path / 'demo.sqlite'}", demo_products=2000)
    wait_state(qtbot, gui, ConnectionState.CONNECTED)
    panel = gui.window.progress
    qtbot.waitUntil(lambda: panel.isVisible() and panel.bar.value() > 0, timeout=10_000)
    assert panel.title.text() == "Creating the demo store"
    assert panel.status.text().startswith("Creating product")
    # The empty grid says the demo store is being built, with its progress, not "the catalog is empty".
    empty = gui.window.view("products").empty
    qtbot.waitUntil(lambda: empty.is_busy() and empty.progress.value() > 0, timeout=10_000)
    assert empty.title.text() == "The demo store is being built"
    assert "Creating product" in empty.text.text() and "% done" in empty.text.text()
    assert "backoffice demo" not in empty.text.text() and not empty.action.isVisibleTo(empty)
    with qtbot.waitSignal(gui.connector.demo_finished, timeout=10_000) as blocker:
        panel.cancel_button.click()
    assert blocker.args == ["cancelled"]
    assert calls == [{"products": 2000, "actor": session.current_os_username(), "photos": True}]   # the owner
    assert not panel.isVisible()
    assert "cancelled" in gui.window.banner.text.text()
    assert not empty.is_busy() and empty.title.text() != "The demo store is being built"


def test_demo_store_ready_is_transient_and_a_full_catalog_is_left_alone(qtbot, monkeypatch, launch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def generate_demo(db, actor, *, products, progress, cancel, image_store=None):  # type: ignore[no-untyped-def]
        progress(1.0, "done")
        return {}

    fake_demo_module(monkeypatch, generate_demo)
    gui = launch(f"sqlite:///{tmp_path / 'demo.sqlite'}", demo_products=10)
    with qtbot.waitSignal(gui.connector.demo_finished, timeout=20_000) as blocker:
        pass
    assert blocker.args == ["done"]
    banner = gui.window.banner
    assert banner.property("level") == "success" and banner.text.text() == "The demo store is ready."
    assert banner.is_transient() and banner.hide_timer.isActive()  # it goes away by itself
    banner.hide_timer.timeout.emit()  # its time is up
    assert not banner.isVisible()

    def full_catalog(db, actor, *, products, progress, cancel, image_store=None):  # type: ignore[no-untyped-def]
        raise AssertionError("a store that holds a catalog is never filled")

    fake_demo_module(monkeypatch, full_catalog, holds="other")
    with qtbot.waitSignal(gui.connector.demo_finished, timeout=20_000) as blocker:
        gui.connector.retry()
    assert blocker.args == ["skipped"]
    assert banner.isVisible() and banner.text.text().startswith("Demo data was not added: this database already holds")
    assert gui.context.connected


def test_relaunching_the_demo_store_says_nothing(qtbot, monkeypatch, launch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The second --demo opens the demo store built before: no "Demo data was not added" (true, but not
    news), no rebuild."""
    def never(db, actor, **kw):  # type: ignore[no-untyped-def]
        raise AssertionError("the demo store is not built twice")

    fake_demo_module(monkeypatch, never, holds="demo")
    gui = launch(f"sqlite:///{tmp_path / 'demo.sqlite'}", demo_products=10)
    with qtbot.waitSignal(gui.connector.demo_finished, timeout=20_000) as blocker:
        pass
    assert blocker.args == ["existing"]
    assert not gui.window.banner.isVisible()
    assert not gui.window.view("products").empty.is_busy()


def test_the_real_demo_generator_fills_an_empty_store_once(qtbot, launch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("backoffice.services.demo")
    gui = launch(f"sqlite:///{tmp_path / 'demo.sqlite'}", demo_products=20)
    with qtbot.waitSignal(gui.connector.demo_finished, timeout=60_000) as blocker:
        pass
    assert blocker.args == ["done"]
    gui.window.show_view("audit")
    audit = gui.window.view("audit")
    qtbot.waitUntil(lambda: any(r.entity == "store" for r in audit.model.rows), timeout=10_000)

    gui.window.banner.dismiss()
    with qtbot.waitSignal(gui.connector.demo_finished, timeout=60_000) as blocker:
        gui.connector.retry()  # a relaunch: the store already is the demo store
    assert blocker.args == ["existing"]
    assert not gui.window.banner.isVisible()


def test_window_title_names_the_application_once(qtbot, monkeypatch, launch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake_demo_module(monkeypatch, lambda db, actor, **kw: {}, holds="demo")
    gui = launch(f"sqlite:///{tmp_path / 'demo.sqlite'}", demo_products=10)
    wait_state(qtbot, gui, ConnectionState.CONNECTED)
    assert gui.window.windowTitle() == "Backoffice — Demo store"
    assert gui.app.applicationDisplayName() in ("", "Backoffice", gui.app.applicationName())
    for key in ("products", "inventory", "reports"):
        gui.window.show_view(key)
        assert gui.window.windowTitle().count("Backoffice") == 1
    shop_db = Database(f"sqlite:///{tmp_path / 'shop.sqlite'}")
    migrations.upgrade(shop_db)
    ensure_user(shop_db, "shopkeeper")      # a file made elsewhere: its owner is its oldest admin
    shop_db.dispose()
    shop = launch(f"sqlite:///{tmp_path / 'shop.sqlite'}")
    wait_state(qtbot, shop, ConnectionState.CONNECTED)
    assert shop.window.windowTitle() == "Backoffice — shop.sqlite"


def test_run_gui_returns_when_the_window_is_closed(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    windows: list = []
    original_start = app_module.start_gui

    def recording_start(**kwargs):  # type: ignore[no-untyped-def]
        gui = original_start(**kwargs)
        windows.append(gui)
        return gui

    monkeypatch.setattr(app_module, "start_gui", recording_start)

    def close_when_connected() -> None:
        if windows and windows[0].context.connected and windows[0].tasks.pending == 0:
            windows[0].window.quit_action.trigger()

    timer = QTimer()
    timer.timeout.connect(close_when_connected)
    timer.start(20)
    code = run_gui(db_url=default_url(), profile=None, username=None, demo_products=None)
    timer.stop()
    assert code == 0
    gui = windows[0]
    assert gui.context.actor is not None and gui.context.actor.username == session.current_os_username()
    assert gui.tasks.pending == 0
    db = Database(default_url())
    try:
        assert migrations.current_revision(db) == migrations.head_revision()
    finally:
        db.dispose()
