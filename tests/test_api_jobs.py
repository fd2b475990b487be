"""Jobs on the store API: an import is uploaded, dry-run and applied as jobs; exports and reports run as
jobs whose result is a file; only a job's owner (or an admin) sees it. Checked against the database
with SQL, on a real loopback server over SQLite and PostgreSQL; the runner's own rules (cancel, expiry,
errors as problem details) without a server."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import text

from backoffice.db import Database
from backoffice.operations import ValidationError
from backoffice.server import create_app
from backoffice.server.jobs import CANCELLED, FAILED, SUCCEEDED, Job, JobRunner, error_of
from backoffice.services import inventory
from backoffice.services.users import ensure_user
from tests.api_support import RunningServer
from tests.conftest import SmallStore

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def shop(api: RunningServer, db: Database) -> SmallStore:
    """The small store, made by the server's admin (the `api` fixture made the first account)."""
    return SmallStore(db, ensure_user(db, "admin"))


def finished(client: httpx.Client, job: dict[str, Any], seconds: float = 30) -> dict[str, Any]:
    """Poll the job until it has finished (or fail the test after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        r = client.get(f"/v1/jobs/{job['id']}")
        assert r.status_code == 200, r.text
        if r.json()["state"] in ("succeeded", "failed", "cancelled"):
            return r.json()
        assert time.monotonic() < deadline, f"job {job['id']} still {r.json()['state']}"
        time.sleep(0.05)


def upload(client: httpx.Client, csv: str, key: str | None = None, **form: str) -> httpx.Response:
    return client.post("/v1/imports", files={"file": ("prices.csv", csv.encode(), "text/csv")}, data=form,
                       headers={"Idempotency-Key": key or str(uuid.uuid4())})


def prices(db: Database) -> dict[str, Decimal]:
    with db.engine.connect() as conn:
        return {sku: Decimal(str(price)) for sku, price in conn.execute(text("SELECT sku, price FROM variants"))}


def cents(value: Any) -> Decimal:  # noqa: ANN401
    return Decimal(str(value)).quantize(Decimal("0.01"))


def scalar(db: Database, sql: str) -> Any:  # noqa: ANN401
    with db.engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


# -- import: upload → dry run → apply ------------------------------------------------------------------------
def test_a_dry_run_names_the_bad_row_and_writes_nothing(api: RunningServer, db: Database, shop: SmallStore) -> None:
    before, changesets = prices(db), scalar(db, "SELECT count(*) FROM changesets")
    with api.as_user("merchandiser") as c:
        r = upload(c, "sku,price\nMC-S,61.00\nMC-M,abc\nMC-L,62.00\n")
        assert r.status_code == 202, r.text
        assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
        job = finished(c, r.json())
        assert job["state"] == "succeeded", job
        report = job["result"]
        assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "price")]
        assert (report["ok"], report["error_count"], report["rows"]) == (False, 1, 3)

        errors = c.get(report["errors_url"])          # the file's rows with an errors column
        assert errors.status_code == 200 and errors.headers["content-type"] == XLSX
        sheet = openpyxl.load_workbook(io.BytesIO(errors.content)).active
        marked = [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(
            isinstance(v, str) and "price" in v.lower() for v in row[2:])]
        assert [row[0] for row in marked] == ["MC-M"]

        applied = finished(c, c.post(f"/v1/imports/{job['id']}/apply",
                                     headers={"Idempotency-Key": str(uuid.uuid4())}).json())
    assert applied["state"] == "failed"
    assert applied["error"]["status"] == 422
    assert [(e["row"], e["field"]) for e in applied["error"]["errors"]] == [("row 3", "price")], applied["error"]
    assert prices(db) == before                                    # all or nothing: nothing
    assert scalar(db, "SELECT count(*) FROM changesets") == changesets


def test_a_good_file_is_applied_once_per_key_by_a_role_that_may(api: RunningServer, db: Database,
                                                                shop: SmallStore) -> None:
    csv = "sku,price\nMC-S,61.50\nMC-M,62.50\nMC-L,63.50\n"
    with api.as_user("merchandiser") as c:
        first = upload(c, csv, key="upload-1")
        again = upload(c, csv, key="upload-1")                     # a replayed upload: the same job
        assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
        assert again.headers["idempotent-replayed"] == "true"
        dry = finished(c, first.json())
        assert dry["result"]["ok"] is True and dry["result"]["updated_variants"] == 3
        assert prices(db)["MC-S"] == Decimal("59.99")              # a dry run writes nothing

        key = {"Idempotency-Key": "apply-1"}
        r = c.post(f"/v1/imports/{dry['id']}/apply", headers=key)
        assert r.status_code == 202, r.text
        job = finished(c, r.json())
        assert job["state"] == "succeeded", job
        replay = c.post(f"/v1/imports/{dry['id']}/apply", headers=key)
        assert (replay.status_code, replay.json()["id"]) == (202, job["id"])
        assert replay.headers["idempotent-replayed"] == "true"
        other = c.post(f"/v1/imports/{dry['id']}/apply", headers=key, json={"on_conflict": "overwrite"})
        assert other.status_code == 422                            # the key, for another request

        bare = c.post("/v1/imports", files={"file": ("p.csv", csv.encode(), "text/csv")})
        assert bare.status_code == 428                             # no Idempotency-Key
        assert upload(c, csv, mapping="{not json").status_code == 422
        assert c.post(f"/v1/imports/{uuid.uuid4()}/apply", headers={"Idempotency-Key": "k"}).status_code == 404
        export = c.post("/v1/exports", json={"format": "csv"}).json()   # a job, but not a dry run
        assert c.post(f"/v1/imports/{export['id']}/apply", headers={"Idempotency-Key": "k"}).status_code == 404
    with api.as_user("warehouse") as c:
        assert upload(c, csv).status_code == 403
        assert c.post(f"/v1/imports/{dry['id']}/apply", headers={"Idempotency-Key": "k"}).status_code == 403
    assert prices(db) == {"MC-S": Decimal("61.50"), "MC-M": Decimal("62.50"), "MC-L": Decimal("63.50")}
    assert job["result"]["updated_variants"] == 3
    assert scalar(db, "SELECT count(*) FROM changesets WHERE kind = 'import'") == 1
    assert scalar(db, "SELECT max(id) FROM changesets WHERE kind = 'import'") == job["result"]["changeset_id"]


# -- exports ---------------------------------------------------------------------------------------------------
def test_an_export_has_a_row_per_variant_and_its_job_is_its_owners_to_follow_and_cancel(
        api: RunningServer, db: Database, shop: SmallStore) -> None:
    with api.as_user("warehouse") as c:
        job = finished(c, c.post("/v1/exports", json={"format": "xlsx"}).json())
        assert job["state"] == "succeeded" and job["has_file"], job
        r = c.get(job["result_url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"].startswith("attachment;")
    assert ".xlsx" in r.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(v).lower() for v in rows[0]]
    assert len(rows) - 1 == job["result"]["rows"] == scalar(db, "SELECT count(*) FROM variants")
    skus = sorted(row[header.index("sku")] for row in rows[1:])
    assert skus == sorted(prices(db))

    with api.as_user("purchaser") as other:                        # only its owner and an admin see a job
        assert other.get(f"/v1/jobs/{job['id']}").status_code == 404
        assert other.get(f"/v1/jobs/{job['id']}/result").status_code == 404
        assert other.delete(f"/v1/jobs/{job['id']}").status_code == 404
    with api.as_user("admin") as admin:
        assert admin.get(f"/v1/jobs/{job['id']}").json()["state"] == "succeeded"
    with api.client() as anonymous:
        assert anonymous.get(f"/v1/jobs/{job['id']}").status_code == 401
    with api.as_user("warehouse") as owner:
        assert owner.delete(f"/v1/jobs/{job['id']}").status_code == 204          # finished: forgotten
        assert owner.get(f"/v1/jobs/{job['id']}").status_code == 404

        started = threading.Event()

        def until_cancelled(job: Job) -> None:         # long work, as an operation runs it
            job.report(0.5, "half way")
            started.set()
            while not job.cancelled():
                time.sleep(0.01)
            raise RuntimeError("stopped")              # what an operation's Cancelled does

        slow = api.app.state.jobs.submit(owner.get("/v1/auth/me").json()["id"], "test", until_cancelled)
        assert started.wait(10)
        running = owner.get(f"/v1/jobs/{slow.id}").json()
        assert (running["state"], running["progress"], running["status"]) == ("running", 0.5, "half way")
        assert owner.get(f"/v1/jobs/{slow.id}/result").status_code == 409     # not finished
        cancel = owner.delete(f"/v1/jobs/{slow.id}")
        assert cancel.status_code == 202 and cancel.json()["cancel_requested"] is True
        stopped = finished(owner, cancel.json())
        assert (stopped["state"], stopped["error"]) == ("cancelled", None)


# -- reports ---------------------------------------------------------------------------------------------------
def _stock_up(db: Database, shop: SmallStore) -> None:
    admin = ensure_user(db, "admin")
    wh, store, sup = (shop.locations[c] for c in ("WH1", "SHOP", "SUP"))
    lines = [{"variant_id": v, "from_location_id": sup, "to_location_id": to, "quantity": q}
             for v, to, q in ((shop.variant_ids[0], wh, 7), (shop.variant_ids[1], wh, 5),
                              (shop.variant_ids[2], store, 3), (shop.variant_ids[0], store, 2))]
    inventory.post_moves(db, admin, operation_id="stock-up", reason="receipt", lines=lines)


def test_a_report_export_xlsx_adds_up_to_the_database(api: RunningServer, db: Database, shop: SmallStore) -> None:
    _stock_up(db, shop)
    with db.engine.connect() as conn:
        expected = {code: (int(units), cents(value)) for code, units, value in conn.execute(text(
            "SELECT l.code, sum(s.on_hand), sum(s.on_hand * coalesce(v.cost, 0)) FROM stock_levels s "
            "JOIN locations l ON l.id = s.location_id JOIN variants v ON v.id = s.variant_id GROUP BY l.code"))}
    assert expected["WH1"][0] == 12 and expected["SHOP"][0] == 5
    with api.as_user("warehouse") as c:
        job = finished(c, c.post("/v1/reports/inventory-valuation/export", json={"format": "xlsx"}).json())
        assert job["state"] == "succeeded", job
        r = c.get(f"/v1/jobs/{job['id']}/result")
        run = finished(c, c.post("/v1/reports/inventory-valuation/run", json={}).json())
        assert c.get(f"/v1/jobs/{run['id']}/result").status_code == 409     # a JSON result, no file
    assert r.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["Report"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    at, units, value = header.index("Location"), header.index("On hand"), header.index("Value at cost")
    totals: dict[str, tuple[int, Decimal]] = {}
    for row in rows[1:]:
        if any(isinstance(v, str) and v.startswith("=") for v in row):
            continue                  # the totals row: formulas (SUBTOTAL) the file computes when opened
        n, v = totals.get(row[at], (0, Decimal(0)))
        totals[row[at]] = (n + int(row[units]), v + cents(row[value]))
    assert totals == expected

    table = run["result"]
    keys = [col["key"] for col in table["columns"]]
    from_json: dict[str, int] = {}
    for row in table["rows"]:
        code = row[keys.index("location")]
        from_json[code] = from_json.get(code, 0) + int(row[keys.index("sum_on_hand")])
    assert from_json == {code: units for code, (units, _) in expected.items()}
    assert table["chart"]["kind"] == "bar"


def test_saved_reports_follow_if_match_and_roles(api: RunningServer) -> None:
    definition = {"source": "stock", "title": "Units by location", "group_by": [{"field": "location"}],
                  "columns": [{"field": "on_hand", "agg": "sum", "label": "Units"}]}
    with api.as_user("merchandiser") as c:
        assert c.put("/v1/reports/units", json=definition, headers={"If-None-Match": "*"}).status_code == 403
        assert c.get("/v1/reports").status_code == 200
    with api.as_user("manager") as c:
        assert c.put("/v1/reports/units", json=definition).status_code == 428
        made = c.put("/v1/reports/units", json=definition, headers={"If-None-Match": "*"})
        assert (made.status_code, made.headers["etag"]) == (201, '"1"'), made.text
        assert c.put("/v1/reports/units", json=definition, headers={"If-None-Match": "*"}).status_code == 412
        changed = c.put("/v1/reports/units", json={**definition, "title": "Units"}, headers={"If-Match": '"1"'})
        assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')
        stale = c.put("/v1/reports/units", json={**definition, "title": "Late"}, headers={"If-Match": '"1"'})
        assert stale.status_code == 412 and stale.json()["current"]["title"] == "Units"
        got = c.get("/v1/reports/units")
        assert (got.headers["etag"], got.json()["title"]) == ('"2"', "Units")
        assert "units" in [e["name"] for e in c.get("/v1/reports").json()]
        assert "etag" not in c.get("/v1/reports/low-stock").headers              # built in: not editable

        schedule = {"kind": "weekly", "weekday": 0, "at_time": "06:30", "format": "csv",
                    "email_to": ["boss@example.com"]}
        added = c.post("/v1/reports/units/schedules", json=schedule, headers={"Idempotency-Key": "sched-1"})
        assert added.status_code == 201, added.text
        replay = c.post("/v1/reports/units/schedules", json=schedule, headers={"Idempotency-Key": "sched-1"})
        assert replay.json()["id"] == added.json()["id"]
        assert [s["id"] for s in c.get("/v1/reports/units/schedules").json()] == [added.json()["id"]]
        assert c.get(f"/v1/reports/units/schedules/{added.json()['id']}/runs").json() == []
        assert c.delete("/v1/reports/units", headers={"If-Match": '"2"'}).status_code == 422   # scheduled
        assert c.delete(f"/v1/reports/low-stock/schedules/{added.json()['id']}").status_code == 404
        assert c.delete(f"/v1/reports/units/schedules/{added.json()['id']}").status_code == 204
        assert c.delete("/v1/reports/units", headers={"If-Match": '"1"'}).status_code == 412
        assert c.delete("/v1/reports/units", headers={"If-Match": '"2"'}).status_code == 204
        assert c.get("/v1/reports/units").status_code == 404
    with api.as_user("warehouse") as c:
        assert c.get("/v1/reports/units/schedules").status_code == 403
        assert c.post("/v1/reports/no-such-report/run", json={}).status_code == 404


# -- the runner itself -------------------------------------------------------------------------------------------
def test_the_runner_cancels_expires_and_reports_errors_as_problems() -> None:
    runner = JobRunner(workers=1)
    started, release = threading.Event(), threading.Event()

    def until_cancelled(job: Job) -> None:
        job.report(0.25, "waiting")
        started.set()
        while not job.cancelled():
            time.sleep(0.01)
        raise RuntimeError("stopped")

    busy = runner.submit(1, "test", until_cancelled)
    queued = runner.submit(1, "test", lambda job: release.wait(5))   # behind the busy one on one thread
    assert started.wait(5)
    assert (busy.state, busy.progress, busy.status) == ("running", 0.25, "waiting")
    runner.cancel(queued)
    assert queued.state == CANCELLED and queued.started_at is None     # it never ran
    runner.cancel(busy)
    deadline = time.monotonic() + 5
    while not busy.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert busy.state == CANCELLED and busy.error is None

    def refused(job: Job) -> None:
        raise ValidationError([("row 2", "price", "not a price"), ("row 5", "sku", "missing")])

    failed = runner.submit(2, "test", refused)
    ok = runner.submit(2, "test", lambda job: {"when": dt.date(2026, 1, 2), "n": Decimal("1.50")})
    while not (failed.finished and ok.finished) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert failed.state == FAILED
    assert (failed.error["status"], failed.error["error_count"]) == (422, 2)
    assert failed.error["errors"][0] == {"row": "row 2", "field": "price", "message": "not a price"}
    assert ok.state == SUCCEEDED and ok.result == {"when": "2026-01-02", "n": "1.50"}

    folder = ok.directory
    assert folder.is_dir()
    runner.prune(now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))   # an hour after they finished
    assert runner.get(ok.id) is None and not folder.exists()
    runner.shutdown()
    assert runner.get(failed.id) is None and not failed.directory.exists()
    assert error_of(RuntimeError("secret detail"), "/v1/jobs/x")["status"] == 500
    assert "secret" not in str(error_of(RuntimeError("secret detail"), "/v1/jobs/x"))


def test_the_app_removes_its_jobs_and_their_files_when_it_stops() -> None:
    app = create_app(lambda: None)     # no store is opened: the job needs none

    async def serve_one_job() -> Job:
        async with app.router.lifespan_context(app):
            job = app.state.jobs.submit(1, "test", lambda job: (job.directory / "out.csv").write_text("sku\n"))
            while not job.finished:
                await asyncio.sleep(0.01)
            assert (job.directory / "out.csv").exists()
            return job

    job = asyncio.run(serve_one_job())
    assert job.state == SUCCEEDED and not job.directory.exists() and not job.directory.parent.exists()
