"""The demo store is a profile: after ``backoffice --demo`` plain commands open it; an empty database
says which database it is and where the demo is."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from backoffice import migrations
from backoffice.cli import main
from backoffice.config import DEMO_PROFILE, ProfileStore, demo_url, ensure_demo_profile, resolve_target
from backoffice.db import Database
from backoffice.services.demo import generate_demo
from backoffice.services.users import ensure_user


@pytest.fixture
def gui_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """``backoffice`` without a command starts the GUI; record what it was asked to open instead."""
    calls: list[dict] = []

    def fake_run_gui(**kwargs) -> int:  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return 0

    monkeypatch.setattr("backoffice.ui.app.run_gui", fake_run_gui)
    monkeypatch.setattr("backoffice.platform_check.check_gui_platform", lambda: None)  # whatever this machine has
    return calls


def _fill_demo_file() -> None:
    db = Database(demo_url())
    try:
        migrations.upgrade(db)
        generate_demo(db, ensure_user(db, "tester"), products=3, anchor=dt.date(2025, 6, 30))
    finally:
        db.dispose()


def test_after_demo_plain_commands_open_the_demo_store(gui_calls: list[dict]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--demo"])
    assert result.exit_code == 0, result.output
    assert gui_calls[0]["db_url"] == demo_url() and gui_calls[0]["profile"].name == DEMO_PROFILE
    store = ProfileStore()
    assert store.default().name == DEMO_PROFILE and store.get(DEMO_PROFILE).kind == "sqlite"
    assert resolve_target(None, None) == (demo_url(), store.get(DEMO_PROFILE))

    _fill_demo_file()  # what the GUI's demo job does
    levels = runner.invoke(main, ["stock", "levels", "--format", "csv"])
    assert levels.exit_code == 0, levels.output
    rows = [line for line in levels.stdout.splitlines()[1:] if line.strip()]
    db = Database(demo_url())
    try:
        from sqlalchemy import func, select

        from backoffice.models import StockLevel

        with db.read() as s:
            in_demo = s.scalar(select(func.count()).select_from(StockLevel))
    finally:
        db.dispose()
    assert len(rows) == in_demo > 0  # the demo's rows, not an empty database's
    assert "has no products" not in levels.stderr

    # A second --demo keeps one profile and changes nothing.
    before = store.path.read_text()
    assert runner.invoke(main, ["--demo"]).exit_code == 0
    assert store.path.read_text() == before


def test_the_demo_never_replaces_a_default_someone_chose(gui_calls: list[dict]) -> None:
    store = ProfileStore()
    store.save("shop", "postgresql://staff@db.lan/shop", make_default=True)
    result = CliRunner().invoke(main, ["--demo"])
    assert result.exit_code == 0
    assert gui_calls[0]["db_url"] == demo_url()  # --demo opens the demo store
    assert store.default().name == "shop"          # but the default stays the shop
    assert {p.name for p in store.list()} == {"shop", DEMO_PROFILE}
    ensure_demo_profile(store)
    assert store.default().name == "shop"


def test_an_empty_database_says_which_it_is_and_where_the_demo_is() -> None:
    """Opened by default (no --db or --profile) and empty: one line on stderr naming it and the demo."""
    from backoffice.db import default_sqlite_path

    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0  # the embedded default file
    result = runner.invoke(main, ["stock", "levels"])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(notes) == 1
    assert str(default_sqlite_path()) in notes[0] and "has no products" in notes[0]
    assert "backoffice --demo" in notes[0]  # no demo yet: how to make one

    store = ProfileStore()
    store.save("local", f"sqlite:///{default_sqlite_path()}", make_default=True)
    ensure_demo_profile(store)
    result = runner.invoke(main, ["stock", "levels"])
    notes = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and f"profile '{DEMO_PROFILE}'" in notes[0] and demo_url() in notes[0]
    # Chosen explicitly, or a command for which an empty store is normal: no note.
    explicit = runner.invoke(main, ["--db", f"sqlite:///{default_sqlite_path()}", "stock", "levels"])
    assert explicit.exit_code == 0 and explicit.stderr.strip() == ""
    audit = runner.invoke(main, ["audit"])
    assert audit.exit_code == 0 and audit.stderr.strip() == ""
