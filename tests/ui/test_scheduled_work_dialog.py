"""File → Scheduled work…: the jobs the database calls for are registered with this computer's real
crontab, the table shows what is registered and each job's last run as recorded in the database, and
Remove takes out only Backoffice's entries."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner
from PySide6.QtWidgets import QMessageBox

from backoffice.cli import main
from backoffice.db import Database
from backoffice.scheduling import backend_named, target_for
from backoffice.services.users import ensure_user
from backoffice.ui.dialogs.scheduled_work import COLUMNS, ScheduledWorkDialog, may_schedule
from tests.conftest import SmallStore
from tests.test_schedule_os import scratch_home, user_crontab  # noqa: F401 - the fixtures (real crontab, scratch HOME)

JOB, EVERY, ON_COMPUTER, LAST_RUN, RESULT = range(len(COLUMNS))


def _crontab() -> str:
    return subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout


def _rows(dialog: ScheduledWorkDialog) -> dict[str, list[str]]:
    table = dialog.table
    return {table.item(r, JOB).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}


@pytest.fixture
def shop(sqlite_db: Database):  # type: ignore[no-untyped-def]
    actor = ensure_user(sqlite_db, "owner")
    SmallStore(sqlite_db, actor)
    return sqlite_db, actor


def test_register_see_the_last_run_and_remove(qtbot, tasks, shop, connected_context, user_crontab,  # noqa: F811
                                              monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, actor = shop
    context = connected_context(db, actor, profile_name="")
    assert may_schedule(context)
    cron = backend_named("cron")
    dialog = ScheduledWorkDialog(context, tasks, backend=cron)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.shown is not None and not dialog.runner.busy, timeout=10_000)
    rows = _rows(dialog)
    assert rows["reports run-due"][ON_COMPUTER] == "Not registered"
    assert rows["reports run-due"][EVERY] == "5 min" and rows["reports run-due"][LAST_RUN] == "Never"
    assert rows["orders process"][ON_COMPUTER].startswith("Not needed: no orders in this database yet")
    assert rows["store sync"][ON_COMPUTER].startswith("Not needed: no active store connection")
    assert not dialog.remove_button.isEnabled() and dialog.register_button.isEnabled()

    dialog.register()
    qtbot.waitUntil(lambda: "Registered 2 jobs" in dialog.banner.text.text(), timeout=10_000)
    qtbot.waitUntil(lambda: not dialog.runner.busy and dialog.remove_button.isEnabled(), timeout=10_000)
    target = target_for(url=db.engine.url.render_as_string(hide_password=False))
    assert [e.job for e in cron.registered(target.instance)] == ["reports-run-due", "stock-alerts"]
    assert _rows(dialog)["reports run-due"][ON_COMPUTER].startswith("Registered (cron)")
    assert _crontab().startswith(user_crontab)    # the person's own lines kept as they were

    dialog.register()   # again: nothing changes
    qtbot.waitUntil(lambda: "nothing changed" in dialog.banner.text.text(), timeout=10_000)
    assert [e.job for e in cron.registered(target.instance)] == ["reports-run-due", "stock-alerts"]

    # A run of the job, as the scheduler would start it, shows as the last run.
    ran = CliRunner().invoke(main, ["reports", "run-due", "--db", target.connection[1]])
    assert ran.exit_code == 0 and ran.output.strip() == "nothing due"
    qtbot.waitUntil(lambda: not dialog.runner.busy, timeout=10_000)
    dialog.load()
    qtbot.waitUntil(lambda: _rows(dialog)["reports run-due"][LAST_RUN] != "Never", timeout=10_000)
    assert _rows(dialog)["reports run-due"][RESULT].startswith("OK · ")
    assert _rows(dialog)["reports run-due"][RESULT].endswith("· nothing due")
    assert _rows(dialog)["stock alerts --send"][LAST_RUN] == "Never"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.waitUntil(lambda: not dialog.runner.busy, timeout=10_000)
    dialog.remove()
    qtbot.waitUntil(lambda: "Removed 2 entries" in dialog.banner.text.text(), timeout=10_000)
    assert cron.registered(target.instance) == []
    assert _crontab() == user_crontab


def test_a_url_with_a_password_is_not_registered(qtbot, tasks, shop, connected_context, monkeypatch,
                                                 user_crontab) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    from backoffice.ui.dialogs import scheduled_work

    db, actor = shop
    context = connected_context(db, actor, profile_name="")
    real_target_for = scheduled_work.__dict__.get("target_for")
    assert real_target_for is None   # read through backoffice.scheduling at call time
    import backoffice.scheduling as scheduling

    original = scheduling.target_for
    monkeypatch.setattr(scheduling, "target_for",
                        lambda *, url, profile=None, **kw: original(url="postgresql://staff:secret@db.shop/shop",
                                                                    profile=profile, **kw))
    dialog = ScheduledWorkDialog(context, tasks, backend=backend_named("cron"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.shown is not None and not dialog.runner.busy, timeout=10_000)
    assert "save a profile" in dialog.banner.text.text()
    assert not dialog.register_button.isEnabled()
    assert _crontab() == user_crontab
