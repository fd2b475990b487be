"""The leases of the scheduled jobs: two runs of a job never overlap, on SQLite and on PostgreSQL.

Two real ``backoffice`` processes run ``reports run-due`` (and ``stock alerts --send``) at once against a
real SMTP server on loopback that holds the first delivery until the other process has finished: one
message, one file, the other run skipped with one line and exit 0. Claims racing from many connections:
exactly one wins. A run whose process is killed leaves a lease that expires, and the next run takes it
over and records the dead one; a live run's lease is renewed however long it works. Through the store
API the refusal arrives as the same error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import JobLock, JobRun
from backoffice.operations.local import LocalOperations
from backoffice.operations.schedule import JobBusy
from backoffice.reports.schedules import ScheduleSpec
from backoffice.services import alerts, inventory, job_runs, settings, store_links, users
from backoffice.services.inventory import MoveLine
from backoffice.services.report_state import create_schedule
from backoffice.services.settings import SmtpSettings
from tests.mail_server import Inbox, free_port

UTC = dt.timezone.utc
ROOT = Path(__file__).resolve().parent.parent


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def statuses(db: Database, job: str) -> list[str]:
    with db.read() as session:
        return sorted(session.scalars(select(JobRun.status).where(JobRun.job == job)))


class GatedInbox(Inbox):
    """An inbox that holds each message (the sender waits in DATA) until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 60)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def gated_smtp() -> Iterator[tuple[GatedInbox, int]]:
    inbox, port = GatedInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        inbox.gate.set()
        controller.stop()


def start_cli(db: Database, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "backoffice", "--db", url_of(db), "--user", "tester", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def race(first: subprocess.Popen[str], second: subprocess.Popen[str], inbox: GatedInbox, *,
         hold: float = 60.0) -> list[tuple[int, str, str]]:
    """Both processes are running; the one that got the lease is held in the mail server's DATA until
    the other has exited (or, at most, ``hold`` seconds after its message arrived). Returns (exit status,
    stdout, stderr) of the one that exited first, then of the other."""
    procs = [first, second]
    deadline = time.monotonic() + 120
    held_since = None
    done = None
    while done is None and time.monotonic() < deadline:
        done = next((p for p in procs if p.poll() is not None), None)
        if inbox.arrived.is_set() and held_since is None:
            held_since = time.monotonic()
        if held_since is not None and time.monotonic() - held_since > hold:
            break
        time.sleep(0.05)
    inbox.gate.set()
    if done is None:
        done = procs[0]
    other = procs[1] if done is procs[0] else procs[0]
    results = []
    for p in (done, other):
        out, err = p.communicate(timeout=120)
        results.append((p.returncode, out, err))
    return results


def mail_settings(db: Database, actor, port: int) -> None:  # type: ignore[no-untyped-def]
    settings.save_smtp(db, actor, SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_s=90,
                                               sender="shop@shop.test", recipients=("ops@shop.test",)))


SKIPPED = re.compile(r"^skipped: `(?P<label>[a-z -]+)` is already running \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, "
                     r"on (?P<host>\S+) pid (?P<pid>\d+)\)$")


# -- two processes at once --------------------------------------------------------------------------------
def test_two_concurrent_run_due_processes_deliver_once(db: Database, actor, store, gated_smtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    inbox, port = gated_smtp
    mail_settings(db, actor, port)
    out = tmp_path / "out"
    create_schedule(db, actor, ScheduleSpec("inventory-valuation", "daily", "06:00", format="csv",
                                            folder_pattern=str(out) + "/", email_to=["boss@shop.test"]),
                    starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    now = "2026-06-10T06:30:00"
    first, second = start_cli(db, "reports", "run-due", "--now", now), start_cli(db, "reports", "run-due", "--now", now)
    (skip_code, skip_out, skip_err), (ok_code, ok_out, ok_err) = race(first, second, inbox)
    assert (skip_code, ok_code) == (0, 0), (skip_err, ok_err)
    match = SKIPPED.match(skip_out.strip())
    assert match and match["label"] == "reports run-due", skip_out
    assert int(match["pid"]) in (first.pid, second.pid)       # the run that held the lease
    assert "inventory-valuation (schedule" in ok_out and "rows →" in ok_out
    assert len(inbox.messages) == 1                                           # one message
    assert [p.name for p in out.iterdir()] == ["inventory-valuation-2026-06-10.csv"]   # one file
    assert statuses(db, "reports-run-due") == ["ok", "skipped"]
    with db.read() as session:
        ok = session.scalar(select(JobRun).where(JobRun.status == "ok"))
        assert ok.summary == "1 delivered" and ok.pid == int(match["pid"]) and ok.username == "tester"
        assert ok.finished_at >= ok.started_at
        assert session.scalar(select(JobLock)) is None                        # the lease is released


def test_two_concurrent_alert_digests_mail_once(db: Database, actor, store, gated_smtp) -> None:  # type: ignore[no-untyped-def]
    """The digest holds its alerts' rows while the message goes out, so the other run may wait for them
    (an SQLite file's writers always do) and then find nothing new, or find the lease taken: either way
    one message."""
    inbox, port = gated_smtp
    mail_settings(db, actor, port)
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], store.locations["WH1"], 1) for v in store.variant_ids])
    alerts.set_default(db, actor, threshold=4)
    first, second = start_cli(db, "stock", "alerts", "--send"), start_cli(db, "stock", "alerts", "--send")
    results = race(first, second, inbox, hold=3.0)
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    last_lines = sorted(out.strip().splitlines()[-1] for _, out, _ in results)
    assert last_lines[0] == "Mailed 3 new alert(s) to ops@shop.test."
    assert last_lines[1] == "Nothing new to mail." or SKIPPED.match(last_lines[1])["label"] == "stock alerts --send"
    assert len(inbox.messages) == 1
    assert statuses(db, "stock-alerts") in (["ok", "ok"], ["ok", "skipped"])


# -- the lease itself ----------------------------------------------------------------------------------------
def test_of_many_claims_at_once_exactly_one_wins(db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    runners = 6
    barrier = threading.Barrier(runners)
    won: list[job_runs.Claim] = []
    busy: list[JobBusy] = []
    errors: list[BaseException] = []
    databases = [Database(url_of(db), pool_size=1) for _ in range(runners)]

    def claim(own: Database) -> None:
        try:
            barrier.wait()
            won.append(job_runs.claim(own, "orders-process", actor))
        except JobBusy as exc:
            busy.append(exc)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(d,)) for d in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for d in databases:
        d.dispose()
    assert errors == []
    assert (len(won), len(busy)) == (1, runners - 1)
    assert statuses(db, "orders-process") == ["running"] + ["skipped"] * (runners - 1)
    job_runs.finish(db, won[0], "ok", "done")
    assert statuses(db, "orders-process") == ["ok"] + ["skipped"] * (runners - 1)
    job_runs.finish(db, job_runs.claim(db, "orders-process", actor), "ok", "again")   # free again


CRASHING_RUN = """
import datetime as dt, os, signal, sys
from backoffice.db import Database
from backoffice.services import job_runs
db = Database(sys.argv[1])
job_runs.claim(db, "orders-process", None, lease=dt.timedelta(seconds=float(sys.argv[2])))
os.kill(os.getpid(), signal.SIGKILL)
"""


def crash_a_run(db: Database, lease: float) -> int:
    """A real process that claims ``orders-process`` and is killed (SIGKILL) holding it; its pid."""
    crashed = subprocess.run([sys.executable, "-c", CRASHING_RUN, url_of(db), str(lease)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -9, crashed.stderr
    with db.read() as session:
        return session.scalar(select(JobLock.pid))


def test_a_killed_run_on_this_machine_is_taken_over_at_once(db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    dead_pid = crash_a_run(db, 600)
    with db.read() as session:
        dead_run = session.scalar(select(JobLock.run_id))
    taken = job_runs.claim(db, "orders-process", actor)        # its process is gone: no need to wait
    with db.read() as session:
        dead = session.get(JobRun, dead_run)
        assert dead.status == "failed" and dead.finished_at is not None
        assert dead.summary.startswith(f"abandoned: the run stopped without finishing (its process, pid {dead_pid} on ")
    job_runs.finish(db, taken, "ok", "took over")
    assert statuses(db, "orders-process") == ["failed", "ok"]


def test_the_lease_of_a_run_killed_elsewhere_expires_and_is_taken_over(db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    lease = 3.0
    crash_a_run(db, lease)
    with db.write() as session:     # as if it had run on another machine: its pid says nothing here
        lock = session.scalar(select(JobLock))
        lock.node, lock.host = "another-machine", "till-2"
        dead_run = lock.run_id
    with pytest.raises(JobBusy, match=r"`orders process` is already running \(since .*, on till-2 pid \d+\)"):
        job_runs.claim(db, "orders-process", actor)      # the dead run's lease is live for a while
    time.sleep(lease + 0.5)
    taken = job_runs.claim(db, "orders-process", actor)
    with db.read() as session:
        dead = session.get(JobRun, dead_run)
        assert dead.status == "failed" and dead.summary.startswith("abandoned: the run stopped without finishing "
                                                                   "(its lease expired at ")
        assert dead.finished_at is not None
        lock = session.scalar(select(JobLock))
        assert lock.run_id == taken.run_id and lock.pid == os.getpid() and lock.node != "another-machine"
    job_runs.finish(db, taken, "ok", "took over")
    assert statuses(db, "orders-process") == ["failed", "ok", "skipped"]


def test_a_long_run_keeps_its_lease(db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    lease = dt.timedelta(seconds=1)
    refused: list[str] = []
    with job_runs.exclusive(db, "store-sync", actor, scope="medusa", lease=lease) as job:
        for _ in range(3):          # three leases long: renewed all along
            time.sleep(lease.total_seconds())
            with pytest.raises(JobBusy) as busy:
                job_runs.claim(db, "store-sync", actor, scope="medusa")
            refused.append(str(busy.value))
        other = job_runs.claim(db, "store-sync", actor, scope="another-store")   # another store's sync is its own
        job_runs.finish(db, other, "ok", "")
        job.done("synced")
    assert all(text.startswith("`store sync medusa` is already running") for text in refused)
    runs = job_runs.runs(db, "store-sync")
    assert [(r.scope, r.status) for r in runs] == [("another-store", "ok")] + [("medusa", "skipped")] * 3 + [("medusa", "ok")]
    assert runs[-1].summary == "synced" and runs[-1].seconds >= 3


def test_a_failing_run_is_recorded_and_releases_its_lease(db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="store down"):
        with job_runs.exclusive(db, "stock-alerts", actor):
            raise RuntimeError("store down\nmore text")
    (last,) = job_runs.last_runs(db)
    assert (last.job, last.status, last.summary, last.alive) == ("stock-alerts", "failed", "store down", False)
    job_runs.finish(db, job_runs.claim(db, "stock-alerts", actor), "ok", "")


# -- every job, whoever starts it ---------------------------------------------------------------------------
def test_each_job_operation_is_refused_while_another_run_holds_its_lease(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    ops = LocalOperations(db, actor, owns_database=False)
    calls = {"reports-run-due": lambda: ops.reports.run_due(),
             "stock-alerts": lambda: ops.alerts.send_digest(),
             "orders-process": lambda: ops.orders.process()}
    for job, call in calls.items():
        held = job_runs.claim(db, job, None)
        with pytest.raises(JobBusy, match=f"`{job_runs.label_of(job)}` is already running"):
            call()
        job_runs.finish(db, held, "ok", "")
    assert ops.orders.process().orders == 0
    assert ops.reports.run_due() == []
    last = {r.job: r for r in ops.schedule.last_runs()}
    assert last["orders-process"].status == "ok" and last["orders-process"].summary.startswith("0 new orders processed")
    assert last["reports-run-due"].summary == "nothing due"
    assert last["stock-alerts"].status == "skipped"
    held = job_runs.claim(db, "store-sync", None, scope="medusa")
    with pytest.raises(JobBusy, match="`store sync medusa` is already running"):
        ops.connectors.sync("medusa")
    job_runs.finish(db, held, "ok", "")


def test_the_refusal_crosses_the_store_api_as_the_same_error(db: Database, api) -> None:  # type: ignore[no-untyped-def]
    from backoffice.remote.session import sign_in
    from tests.api_support import PASSWORD

    admin = users.sign_in(db, "admin")
    store_links.create_connection(db, admin, name="medusa", kind="medusa", url="http://127.0.0.1:9")
    held = [job_runs.claim(db, "orders-process", None), job_runs.claim(db, "store-sync", None, scope="medusa")]
    remote = sign_in(api.base_url, "manager", PASSWORD)
    try:
        with pytest.raises(JobBusy) as busy:
            remote.orders.process()                       # a plain call
        assert busy.value.job == "orders-process" and busy.value.pid == os.getpid()
        assert str(busy.value).startswith("`orders process` is already running (since ")
        with pytest.raises(JobBusy) as busy:
            remote.connectors.sync("medusa")              # a call that runs as a job on the server
        assert (busy.value.job, busy.value.scope) == ("store-sync", "medusa")
        assert str(busy.value).startswith("`store sync medusa` is already running (since ")
    finally:
        remote.close()
        for claim in held:
            job_runs.finish(db, claim, "ok", "")
    assert statuses(db, "store-sync") == ["ok", "skipped"]
