"""``backoffice schedule``: the periodic jobs registered with the OS scheduler, read back and removed.

On Linux against a scratch HOME and XDG folders (the autouse fixture of conftest): systemd user units are
written, checked by ``systemd-analyze verify`` and parsed back; the real ``crontab`` of the user running
the tests gets a Backoffice block per profile beside the lines already there, which stay byte for byte
(and the crontab is restored as it was after each test). Installing twice changes nothing (a property
over job sets, intervals and profile names), several profiles sit side by side, removing removes only
ours. The command each entry runs is run as the scheduler would run it, and the job runs. launchd agents
and Task Scheduler definitions are generated here and checked against their format (plist types, the
task schema's structure, ISO 8601 durations, Windows command-line quoting).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import plistlib
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import JobRun
from backoffice.reports.schedules import ScheduleSpec
from backoffice.scheduling import (
    Job,
    SchedulingError,
    app_program,
    backend_named,
    describe_every,
    parse_duration,
    parse_every,
    target_for,
)
from backoffice.scheduling import cron, schtasks, systemd
from backoffice.scheduling.launchd import LaunchdBackend
from backoffice.services import orders, store_links
from backoffice.services.report_state import create_schedule
from tests.conftest import ON_CI

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc
JOBS = [Job("reports-run-due", "reports", "reports run-due", ("reports", "run-due"), 300),
        Job("stock-alerts", "alerts", "stock alerts --send", ("stock", "alerts", "--send"), 3600),
        Job("orders-process", "orders", "orders process", ("orders", "process"), 300),
        Job("store-sync", "store", "store sync", ("store", "sync"), 900)]
DIVISORS = [60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
FOREIGN = ("MAILTO=\"\"\n"
           "# somebody's own jobs, not Backoffice's\n"
           "17 3 * * * /bin/true --nightly  # BEGIN backoffice looks-alike, but not a marker\n")


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def scratch_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and the state folder (the jobs' logs) of a user made for the test, besides conftest's own."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    return home


# -- the real crontab, shared by the tests of every worker: one test at a time, restored after each ---------
def _crontab() -> str | None:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def _set_crontab(text: str | None) -> None:
    if text is None:
        subprocess.run(["crontab", "-r"], capture_output=True)
    else:
        subprocess.run(["crontab", "-"], input=text, text=True, check=True, capture_output=True)


@pytest.fixture
def user_crontab() -> Iterator[str]:
    """The user's crontab with FOREIGN lines in it (what they had before is put back afterwards); yields
    the text the crontab holds before the test's installs."""
    if shutil.which("crontab") is None:
        if ON_CI:
            pytest.fail("crontab is not installed: CI must install cron (apt-get install -y cron)")
        pytest.skip("crontab is not installed (apt-get install cron)")
    fd = os.open(Path(tempfile.gettempdir()) / "backoffice-tests-crontab.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    original = _crontab()
    try:
        before = (original or "") + FOREIGN
        _set_crontab(before)
        yield before
    finally:
        _set_crontab(original)
        os.close(fd)


def the_block_of(text: str, instance: str) -> str:
    return cron.split_block(text, instance)[1]


def as_cron_runs(line: str) -> list[str]:
    """What cron runs for one crontab line: the command after the five time fields, ``\\%`` made ``%``,
    given to ``/bin/sh -c``."""
    command = line.split(None, 5)[5]
    return ["/bin/sh", "-c", command.replace("\\%", "%")]


# -- plain values ---------------------------------------------------------------------------------------------
def test_durations_intervals_and_the_calendars_that_express_them() -> None:
    assert [parse_duration(t) for t in ("5m", "15min", "1h", "90m", "120s", "1d", "2 h")] == \
        [300, 900, 3600, 5400, 120, 86400, 7200]
    for bad in ("5", "30s", "0m", "2d", "1w", "m5", ""):
        with pytest.raises(SchedulingError):
            parse_duration(bad)
    assert parse_every(("reports=10m", "store=1h"), {"reports", "store"}) == {"reports": 600, "store": 3600}
    with pytest.raises(SchedulingError, match="'nightly' is not a job"):
        parse_every(("nightly=1h",), {"reports"})
    assert [describe_every(s) for s in (300, 3600, 5400, 86400)] == ["5 min", "1 h", "1 h 30 min", "1 d"]
    for seconds in DIVISORS:
        assert systemd.seconds_of_calendar(systemd.calendar(seconds)) == seconds
        assert cron.schedule_of(seconds).count(" ") == 4
        assert schtasks.seconds_of_duration(schtasks.iso_duration(seconds)) == seconds
    assert cron.schedule_of(300) == "*/5 * * * *" and cron.schedule_of(3600) == "0 * * * *"
    assert cron.schedule_of(7200) == "0 */2 * * *" and cron.schedule_of(60) == "* * * * *"
    assert systemd.calendar(420) is None
    at = dt.datetime(2026, 12, 4, 14, 55, 30, tzinfo=UTC)
    assert [cron.next_time(s, at).strftime("%d %H:%M") for s in (60, 300, 900, 7200, 86400)] == \
        ["04 14:56", "04 15:00", "04 15:00", "04 16:00", "05 00:00"]
    with pytest.raises(SchedulingError, match="not every 7 minutes"):
        cron.schedule_of(420)


def test_the_entries_run_this_app_with_the_connection_and_never_a_password(tmp_path: Path) -> None:
    assert app_program(frozen=False, executable="/opt/bo/bin/python") == ("/opt/bo/bin/python", "-m", "backoffice")
    assert app_program(frozen=True, executable="/Applications/Backoffice.app/Contents/MacOS/Backoffice") == \
        ("/Applications/Backoffice.app/Contents/MacOS/Backoffice",)
    shop = target_for(url="ignored", profile="shop")
    assert shop.instance == "shop" and shop.connection == ("--profile", "shop")
    assert shop.command(JOBS[0])[-4:] == ["--profile", "shop", "reports", "run-due"]
    odd = target_for(url="", profile="Main store (EU)", user="anna")
    assert re.fullmatch(r"Main-store-EU-[0-9a-f]{8}", odd.instance)
    assert odd.connection == ("--profile", "Main store (EU)", "--user", "anna")
    assert target_for(url="", profile="Main store EU").instance != odd.instance
    by_path = target_for(url=str(tmp_path / "shop.sqlite"))
    assert by_path.connection == ("--db", f"sqlite:///{tmp_path / 'shop.sqlite'}")
    assert by_path.instance.startswith("db-") and by_path.instance != target_for(url="sqlite:///other").instance
    for url in ("postgresql://anna:secret@db.shop.lan/shop", "https://anna:secret@api.shop.lan"):
        with pytest.raises(SchedulingError, match="holds a password.*backoffice profiles add NAME URL"):
            target_for(url=url)
    code, out = invoke("schedule", "install", "--scheduler", "cron", "--db", "postgresql://anna:secret@localhost/x")
    assert code == 1 and "the database URL holds a password" in out and "secret" not in out


# -- systemd user timers -----------------------------------------------------------------------------------------
def verify_units(folder: Path) -> None:
    """``systemd-analyze --user verify`` on every unit in ``folder``: no error, no warning at all."""
    units = sorted(str(p) for p in folder.glob("*.timer")) + sorted(str(p) for p in folder.glob("*.service"))
    if shutil.which("systemd-analyze") is None:
        for path in units:   # without systemd: the keys systemd needs, parsed as it would
            parser = systemd._parser()
            parser.read(path)
            assert parser.has_option("Unit", "Description")
            assert parser.has_option("Service", "ExecStart") or parser.has_option("Timer", "Unit")
        return
    runtime = folder.parent / "runtime"
    runtime.mkdir(exist_ok=True)
    done = subprocess.run(["systemd-analyze", "--user", "verify", *units], capture_output=True, text=True,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
    assert done.returncode == 0 and done.stdout.strip() == "" and done.stderr.strip() == "", done.stderr


def test_systemd_units_are_written_verified_parsed_back_and_removed(tmp_path: Path) -> None:
    backend = backend_named("systemd")
    assert backend.folder == Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user"     # the scratch one
    target = target_for(url=f"sqlite:///{tmp_path}/100% shop/store.sqlite")
    jobs = [JOBS[0], JOBS[1], replace(JOBS[2], every=420)]    # 7 minutes: no calendar, a monotonic timer
    result = backend.install(jobs, target)
    assert result.changed and not result.removed
    names = sorted(p.name for p in backend.folder.iterdir() if p.is_file())
    assert names == sorted(f"backoffice-{target.instance}-{j.key}.{kind}" for j in jobs for kind in ("service", "timer"))
    verify_units(backend.folder)
    timer = systemd._parser()
    timer.read(backend.folder / f"backoffice-{target.instance}-reports-run-due.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* *:00/5:00" and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    service = systemd._parser()
    service.read(backend.folder / f"backoffice-{target.instance}-reports-run-due.service")
    assert service["Service"]["Type"] == "oneshot"
    assert "%%" in service["Service"]["ExecStart"]                 # a percent sign is not a specifier
    found = {e.job: e for e in backend.registered(target.instance)}
    assert {k: (e.every, e.command, e.enabled) for k, e in found.items()} == \
        {j.key: (j.every, target.command(j), True) for j in jobs}
    # the user manager is not running here: enabled as `systemctl enable` does, by the wants links
    assert all((backend.folder / "timers.target.wants" / f"backoffice-{target.instance}-{j.key}.timer").is_symlink()
               for j in jobs)
    assert any("not running here" in note for note in result.notes)
    stamps = {p: p.stat().st_mtime_ns for p in backend.folder.rglob("*")}
    again = backend.install(jobs, target)
    assert not again.changed and {p: p.stat().st_mtime_ns for p in backend.folder.rglob("*")} == stamps
    fewer = backend.install(jobs[:1], target)                     # a job no longer planned goes
    assert sorted(e.job for e in fewer.removed) == ["orders-process", "stock-alerts"]
    assert [e.job for e in backend.registered(target.instance)] == ["reports-run-due"]
    removed = backend.remove(target.instance)
    assert [e.job for e in removed] == ["reports-run-due"] and list(backend.folder.iterdir()) == []
    assert backend.remove(target.instance) == []


# -- the crontab ---------------------------------------------------------------------------------------------------
def test_crontab_blocks_side_by_side_parsed_back_and_removed_keeping_every_other_line(user_crontab: str, tmp_path: Path) -> None:  # noqa: E501
    backend = backend_named("cron")
    shop, outlet = target_for(url="", profile="shop"), target_for(url=f"sqlite:///{tmp_path}/50%-off.sqlite")
    assert backend.install(JOBS[:2], shop).changed
    assert backend.install(JOBS, outlet).changed
    text = _crontab()
    assert text.startswith(user_crontab)                          # every line that was there, as it was
    assert the_block_of(text, shop.instance).splitlines()[0] == "# BEGIN backoffice shop"
    assert "\\%" in the_block_of(text, outlet.instance)          # cron would make a bare % a line break
    assert {(e.instance, e.job, e.every, tuple(e.command)) for e in backend.registered()} == \
        {(t.instance, j.key, j.every, tuple(t.command(j))) for t, jobs in ((shop, JOBS[:2]), (outlet, JOBS))
         for j in jobs}
    assert not backend.install(JOBS[:2], shop).changed and _crontab() == text        # twice: nothing changes
    # the user adds a line after our blocks: a reinstall changes our block where it is
    _set_crontab(text + "# added later by hand\n")
    backend.install([JOBS[0]], shop)
    edited = _crontab()
    assert edited.endswith("# added later by hand\n") and edited.startswith(user_crontab)
    assert [e.job for e in backend.registered(shop.instance)] == ["reports-run-due"]
    assert [e.job for e in backend.remove(shop.instance)] == ["reports-run-due"]
    assert backend.remove(shop.instance) == []
    assert the_block_of(_crontab(), outlet.instance) == the_block_of(text, outlet.instance)   # the other stays
    assert len(backend.remove(None)) == len(JOBS)                  # --all: every Backoffice block, nothing else
    assert _crontab() == user_crontab + "# added later by hand\n"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=st.lists(st.sampled_from(JOBS), min_size=1, max_size=4, unique_by=lambda j: j.key),
       intervals=st.lists(st.sampled_from(DIVISORS), min_size=4, max_size=4),
       profile=st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1,
                       max_size=12),
       scheduler=st.sampled_from(["cron", "systemd"]))
def test_installing_twice_changes_nothing_and_reads_back_what_was_written(user_crontab: str, jobs: list[Job],
                                                                          intervals: list[int], profile: str,
                                                                          scheduler: str) -> None:
    backend = backend_named(scheduler)
    target = target_for(url="", profile=profile)
    planned = [Job(j.key, j.name, j.label, j.args, every) for j, every in zip(jobs, intervals)]
    before = written(backend)
    first = backend.install(planned, target)
    snapshot = written(backend)
    second = backend.install(planned, target)
    assert first.changed and not second.changed and written(backend) == snapshot
    found = sorted((e.job, e.every, e.command) for e in backend.registered(target.instance))
    assert found == sorted((j.key, j.every, target.command(j)) for j in planned)
    assert sorted(e.job for e in backend.remove(target.instance)) == sorted(j.key for j in planned)
    assert written(backend) == before


def written(backend) -> tuple[str | None, dict[str, bytes | str]]:  # type: ignore[no-untyped-def]
    """The crontab, and every file and link of the systemd unit folder."""
    files: dict[str, bytes | str] = {}
    folder = getattr(backend, "folder", None)
    if folder is not None and folder.exists():
        for path in folder.rglob("*"):
            if path.is_symlink():
                files[str(path)] = os.readlink(path)
            elif path.is_file():
                files[str(path)] = path.read_bytes()
    return _crontab(), files


# -- the command an entry runs, run as the scheduler runs it ----------------------------------------------------
def test_the_registered_commands_run_the_jobs(db: Database, actor, store, user_crontab: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "reports"
    create_schedule(db, actor, ScheduleSpec("inventory-valuation", "daily", "00:00", format="csv",
                                            folder_pattern=str(out) + "/"),
                    starts_at=dt.datetime.now(UTC) - dt.timedelta(days=2))
    target = target_for(url=url_of(db), user="tester")
    cron_backend, systemd_backend = backend_named("cron"), backend_named("systemd")
    cron_backend.install([JOBS[0]], target)
    line = the_block_of(_crontab(), target.instance).splitlines()[-2]
    ran = subprocess.run(as_cron_runs(line), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    log = cron.log_folder() / f"{target.instance}-reports-run-due.log"
    assert "inventory-valuation (schedule" in log.read_text()     # the output went to the job's log
    assert len(list(out.iterdir())) == 1
    systemd_backend.install([JOBS[0]], target)
    (entry,) = systemd_backend.registered(target.instance)
    again = subprocess.run(entry.command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.strip() == "nothing due", again.stderr
    with db.read() as session:
        runs = session.execute(select(JobRun.status, JobRun.summary).order_by(JobRun.id)).all()
    assert runs == [("ok", "1 delivered"), ("ok", "nothing due")]
    cron_backend.remove(target.instance)
    systemd_backend.remove(target.instance)


# -- launchd (macOS) and the Task Scheduler (Windows): generated here, checked against their formats ----------
LAUNCHD_TYPES = {"Label": str, "ProgramArguments": list, "StartInterval": int, "RunAtLoad": bool,
                 "ProcessType": str, "StandardOutPath": str, "StandardErrorPath": str}


def test_launchd_agents_are_property_lists_launchd_accepts(tmp_path: Path) -> None:
    backend = LaunchdBackend(folder=tmp_path / "LaunchAgents", logs=tmp_path / "Logs")
    target = target_for(url="", profile="shop", program=("/Applications/Backoffice.app/Contents/MacOS/Backoffice",))
    artifacts = backend.render(JOBS, target)
    for artifact, job in zip(artifacts, JOBS):
        assert artifact.text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC')
        agent = plistlib.loads(artifact.data())
        assert {k: type(v) for k, v in agent.items()} == LAUNCHD_TYPES
        assert agent["Label"] == f"backoffice.shop.{job.key}" == artifact.path.stem
        assert re.fullmatch(r"[A-Za-z0-9.-]+", agent["Label"])
        assert agent["ProgramArguments"] == target.command(job) and os.path.isabs(agent["ProgramArguments"][0])
        assert all(isinstance(a, str) for a in agent["ProgramArguments"])
        assert agent["StartInterval"] == job.every and agent["RunAtLoad"] is False
        assert agent["ProcessType"] == "Background"
        assert os.path.isabs(agent["StandardOutPath"]) and agent["StandardOutPath"] == agent["StandardErrorPath"]
    if shutil.which("plutil"):
        for artifact in artifacts:
            path = tmp_path / artifact.path.name
            path.write_bytes(artifact.data())
            assert subprocess.run(["plutil", "-lint", str(path)], capture_output=True).returncode == 0
    result = backend.install(JOBS, target)        # not macOS: the files only, read back, removed
    assert result.changed and not backend.install(JOBS, target).changed
    assert sorted((e.job, e.every, e.command) for e in backend.registered("shop")) == \
        sorted((j.key, j.every, target.command(j)) for j in JOBS)
    assert len(backend.remove("shop")) == 4 and list(backend.folder.iterdir()) == []


ISO_DURATION = re.compile(r"P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")
T = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
TASK_CHILDREN = {"RegistrationInfo", "Triggers", "Settings", "Data", "Principals", "Actions"}   # the schema's xs:all
SETTINGS_CHILDREN = {"AllowStartOnDemand", "RestartOnFailure", "MultipleInstancesPolicy", "DisallowStartIfOnBatteries",
                     "StopIfGoingOnBatteries", "AllowHardTerminate", "StartWhenAvailable", "NetworkProfileName",
                     "RunOnlyIfNetworkAvailable", "WakeToRun", "Enabled", "Hidden", "DeleteExpiredTaskAfter",
                     "IdleSettings", "NetworkSettings", "ExecutionTimeLimit", "Priority", "RunOnlyIfIdle",
                     "UseUnifiedSchedulingEngine", "DisallowStartOnRemoteAppSession"}


def test_task_scheduler_definitions_follow_the_task_schema(tmp_path: Path) -> None:
    exe = r"C:\Program Files\Backoffice\Backoffice.exe"
    target = target_for(url="", profile='Shop "EU" \\ main', program=(exe,))
    backend = schtasks.SchtasksBackend(folder=tmp_path / "scheduler")
    for artifact, job in zip(backend.render(JOBS, target), JOBS):
        data = artifact.data()
        assert data[:2] == b"\xff\xfe"                               # UTF-16 (little endian) with its mark
        text = data.decode("utf-16")
        assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>')
        task = ET.fromstring(text)
        assert task.tag == f"{T}Task" and task.get("version") == "1.2"
        assert {c.tag.removeprefix(T) for c in task} <= TASK_CHILDREN
        assert task.findtext(f"{T}RegistrationInfo/{T}URI") == f"\\Backoffice\\{target.instance}-{job.key}"
        trigger = task.find(f"{T}Triggers/{T}TimeTrigger")
        interval = trigger.findtext(f"{T}Repetition/{T}Interval")
        assert ISO_DURATION.fullmatch(interval) and schtasks.seconds_of_duration(interval) == job.every
        assert job.every >= 60                                       # the schema's least interval: a minute
        dt.datetime.fromisoformat(trigger.findtext(f"{T}StartBoundary"))     # an xs:dateTime
        assert trigger.findtext(f"{T}Enabled") == "true"
        principal = task.find(f"{T}Principals/{T}Principal")
        assert principal.get("id") == task.find(f"{T}Actions").get("Context") == "Author"
        assert principal.findtext(f"{T}LogonType") == "InteractiveToken"
        assert principal.findtext(f"{T}RunLevel") == "LeastPrivilege"
        assert principal.find(f"{T}Password") is None and principal.find(f"{T}UserId") is None   # nothing to keep
        task_settings = task.find(f"{T}Settings")
        assert {c.tag.removeprefix(T) for c in task_settings} <= SETTINGS_CHILDREN
        assert task_settings.findtext(f"{T}MultipleInstancesPolicy") == "IgnoreNew"
        assert ISO_DURATION.fullmatch(task_settings.findtext(f"{T}ExecutionTimeLimit"))
        assert 0 <= int(task_settings.findtext(f"{T}Priority")) <= 10
        exec_ = task.find(f"{T}Actions/{T}Exec")
        assert exec_.findtext(f"{T}Command") == exe
        assert schtasks.split_command_line(exec_.findtext(f"{T}Arguments")) == target.command(job)[1:]
    result = backend.install(JOBS, target)          # not Windows: the definitions only, read back, removed
    assert result.changed and not backend.install(JOBS, target).changed
    assert sorted((e.job, e.every, e.command) for e in backend.registered(target.instance)) == \
        sorted((j.key, j.every, target.command(j)) for j in JOBS)
    assert len(backend.remove(target.instance)) == 4 and backend.registered() == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list('ab \\"\t%^&é')), max_size=8), min_size=1, max_size=5))
def test_windows_arguments_read_back_as_written(args: list[str]) -> None:
    assert schtasks.split_command_line(schtasks.command_line(args)) == args


# -- the command line ------------------------------------------------------------------------------------------
def test_schedule_install_status_and_remove_on_the_command_line(db: Database, actor, store, user_crontab: str) -> None:  # type: ignore[no-untyped-def]
    url = url_of(db)
    base = ("--db", url, "--user", "tester")
    code, out = invoke("schedule", "install", "--scheduler", "cron", *base)
    assert code == 0, out
    assert out.splitlines()[0] == "Registered with the user's crontab (cron) for " + url + " as tester:"
    assert "  left out: orders process: no orders in this database yet" in out
    assert "  left out: store sync: no active store connection" in out
    target = target_for(url=url, user="tester")
    assert [e.job for e in backend_named("cron").registered(target.instance)] == ["reports-run-due", "stock-alerts"]
    code, out = invoke("schedule", "install", "--scheduler", "cron", *base)
    assert code == 0 and "Already registered as it is: nothing changed." in out
    # where the database calls for them: orders once there are orders, store sync with a connected store
    orders.place_order(db, actor, lines=[(store.variant_ids[0], 1, "59.99")])
    store_links.create_connection(db, actor, name="medusa", kind="medusa", url="http://127.0.0.1:9")
    code, out = invoke("schedule", "install", "--scheduler", "cron", "--every", "store=30m", "--without", "alerts", *base)
    assert code == 0, out
    assert re.search(r"\n  store sync +every 30 min +syncs medusa\n", out) and "left out: stock alerts --send" in out
    assert "removed: stock-alerts (no longer called for)" in out
    entries = {e.job: e for e in backend_named("cron").registered(target.instance)}
    assert sorted(entries) == ["orders-process", "reports-run-due", "store-sync"] and entries["store-sync"].every == 1800
    assert entries["store-sync"].command == [*app_program(), "--db", url, "--user", "tester", "store", "sync"]
    code, out = invoke("reports", "run-due", *base)
    assert code == 0 and out.strip() == "nothing due"
    code, out = invoke("schedule", "status", "--json", *base)
    assert code == 0, out
    status = {j["job"]: j for j in json.loads(out)["jobs"]}
    assert status["reports-run-due"]["registered"] and status["reports-run-due"]["entry"]["every_seconds"] == 300
    assert [(r["status"], r["summary"], r["user"]) for r in status["reports-run-due"]["last_runs"]] == \
        [("ok", "nothing due", "tester")]
    assert status["stock-alerts"]["registered"] is False and status["stock-alerts"]["last_runs"] == []
    code, text = invoke("schedule", "status", *base)
    assert code == 0 and "reports run-due      every 5 min    cron, enabled" in text
    assert re.search(r"last run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC on \S+ pid \d+, took \d+\.\d s, ok: nothing due", text)
    code, out = invoke("schedule", "remove", *base)
    assert code == 0 and out.count("Removed ") == 3
    code, out = invoke("schedule", "remove", *base)
    assert code == 0 and "nothing to remove" in out
    assert _crontab() == user_crontab


def test_profiles_are_registered_side_by_side_and_a_dry_run_writes_nothing(db: Database, actor, user_crontab: str) -> None:  # type: ignore[no-untyped-def]
    url = url_of(db)
    for name in ("north", "south"):
        code, out = invoke("profiles", "add", name, url, "--username", "tester")
        assert code == 0, out
    folder = backend_named("systemd").folder
    code, out = invoke("schedule", "install", "--scheduler", "systemd", "--dry-run", "--profile", "north")
    assert code == 0 and out.startswith("Would register with systemd user timers")
    assert f"--- {folder}/backoffice-north-reports-run-due.timer" in out and not folder.exists()
    for name in ("north", "south"):
        code, out = invoke("schedule", "install", "--scheduler", "systemd", "--profile", name)
        assert code == 0, out
    verify_units(folder)
    assert sorted({e.instance for e in backend_named("systemd").registered()}) == ["north", "south"]
    code, out = invoke("schedule", "status", "--scheduler", "systemd", "--profile", "north")
    assert code == 0 and "(1 other profile(s) or database(s) registered: --all lists them)" in out
    code, out = invoke("schedule", "remove", "--scheduler", "systemd", "--profile", "north")
    assert code == 0 and out.count("Removed ") == 2
    assert sorted({e.instance for e in backend_named("systemd").registered()}) == ["south"]
    code, out = invoke("schedule", "remove", "--all")
    assert code == 0 and "of south (systemd" in out and backend_named("systemd").registered() == []
    assert _crontab() == user_crontab


@pytest.mark.postgres
def test_a_scheduled_run_signs_in_with_the_profiles_password_from_the_keyring(pg_db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL every run signs in; the scheduler's entry holds no password and no one is at a
    terminal: the password is the one the profile keeps in the keyring (``profiles add --ask-password``)."""
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore
    from backoffice.services.users import ensure_user
    from tests.conftest import STAFF_PASSWORD

    ensure_user(pg_db, "tester", password=STAFF_PASSWORD)
    code, out = invoke("profiles", "add", "pgshop", url_of(pg_db), "--username", "tester")
    assert code == 0, out
    monkeypatch.delenv("BACKOFFICE_PASSWORD")
    code, out = invoke("reports", "run-due", "--profile", "pgshop")
    assert code == 1 and "password" in out                       # nothing to sign in with yet
    SecretStore().set(ProfileStore().get("pgshop").secret_key(), STAFF_PASSWORD)
    code, out = invoke("reports", "run-due", "--profile", "pgshop")
    assert code == 0 and out.strip() == "nothing due", out


def test_the_schedulers_programs_are_found_with_a_path_that_holds_only_the_bundle(user_crontab: str,
                                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                                  tmp_path: Path) -> None:
    """The desktop bundle may start with PATH holding only its own folder: crontab and systemctl are still
    found where the system keeps them, and an install writes and removes the same block."""
    from backoffice.scheduling.base import find_program

    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_program("crontab") == shutil.which("crontab", path="/usr/local/bin:/usr/bin:/bin")
    assert find_program("no-such-scheduler-program") is None
    target = target_for(url=f"sqlite:///{tmp_path / 'shop.sqlite'}", program=(str(tmp_path / "backoffice"),))
    cron_backend = backend_named("cron")
    assert cron_backend.unavailable() is None
    cron_backend.install([JOBS[0]], target)
    assert [e.job for e in cron_backend.registered(target.instance)] == ["reports-run-due"]
    assert cron_backend.registered(target.instance)[0].command[0] == str(tmp_path / "backoffice")
    cron_backend.remove(target.instance)
    monkeypatch.undo()
    assert _crontab() == user_crontab
