"""Report schedules: due times (DST, months, missed runs), run-due exactly once per slot even when two
callers race, folder delivery, e-mail with the XLSX attached through a real SMTP server on loopback,
failures recorded and retried; and the ``backoffice reports`` command line."""

from __future__ import annotations

import datetime as dt
import io
import threading

import openpyxl
import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.db import Database
from backoffice.reports import schedules
from backoffice.reports.schedules import ScheduleSpec, last_due, next_due, slot
from backoffice.services import settings
from backoffice.services.report_state import create_schedule, run_due
from backoffice.services.base import ValidationError
from backoffice.services.settings import SmtpSettings
from tests.mail_server import free_port, smtp_server  # noqa: F401 - the fixture

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- due times --------------------------------------------------------------------------------------------
def test_daily_slots_follow_the_local_time_across_dst() -> None:
    spec = ScheduleSpec("sales-by-day", "daily", "07:00", timezone="Europe/Berlin")
    assert slot(spec, dt.date(2026, 3, 28)) == at("2026-03-28T06:00")   # CET, UTC+1
    assert slot(spec, dt.date(2026, 3, 29)) == at("2026-03-29T05:00")   # CEST, UTC+2 from that night
    assert slot(spec, dt.date(2026, 10, 25)) == at("2026-10-25T06:00")  # back to CET
    gap = ScheduleSpec("sales-by-day", "daily", "02:30", timezone="Europe/Berlin")
    assert slot(gap, dt.date(2026, 3, 29)) == at("2026-03-29T01:30")    # 02:30 does not exist: runs at 03:30 CEST
    assert slot(gap, dt.date(2026, 10, 25)) == at("2026-10-25T00:30")   # 02:30 happens twice: the first one
    # one slot per local day, even on the 23- and 25-hour days
    assert last_due(spec, at("2026-03-29T04:59")) == at("2026-03-28T06:00")
    assert last_due(spec, at("2026-03-29T05:00")) == at("2026-03-29T05:00")
    assert next_due(gap, at("2026-10-25T00:31")) == at("2026-10-26T01:30")


def test_weekdays_weekly_and_monthly_slots() -> None:
    weekdays = ScheduleSpec("x", "weekdays", "08:00")
    assert last_due(weekdays, at("2026-12-06T12:00")) == at("2026-12-04T08:00")  # Sunday → Friday's
    weekly = ScheduleSpec("x", "weekly", "06:00", weekday=0)
    assert next_due(weekly, at("2026-12-01T00:00")) == at("2026-12-07T06:00")
    monthly = ScheduleSpec("x", "monthly", "06:00", day_of_month=31)
    assert next_due(monthly, at("2027-02-01T00:00")) == at("2027-02-28T06:00")   # the last day of February
    assert next_due(monthly, at("2027-03-01T00:00")) == at("2027-03-31T06:00")
    assert last_due(monthly, at("2027-03-15T00:00"), starts_at=at("2027-03-01T00:00")) is None


def test_invalid_schedules_are_refused_with_every_reason(db: Database, actor) -> None:
    bad = ScheduleSpec("sales-by-day", "fortnightly", "25:00", timezone="Mars/Olympus", format="docx",
                       params={"colour": "red"}, email_to=["not-an-address"], folder_pattern="{nope}")
    with pytest.raises(ValidationError) as err:
        create_schedule(db, actor, bad)
    text = str(err.value)
    for reason in ("fortnightly", "25:00", "Mars/Olympus", "docx", "no parameter colour", "not-an-address",
                   "unknown placeholder nope"):
        assert reason in text
    with pytest.raises(ValidationError, match="deliver to a folder, by e-mail, or both"):
        create_schedule(db, actor, ScheduleSpec("sales-by-day"))
    with pytest.raises(ValidationError, match="no report named"):
        create_schedule(db, actor, ScheduleSpec("nothing", folder_pattern="/tmp"))


# -- run-due ----------------------------------------------------------------------------------------------
def test_run_due_runs_each_slot_once_and_a_missed_run_once(db: Database, actor, store, tmp_path) -> None:
    folder = tmp_path / "share" / "{report}"
    sid = create_schedule(db, actor, ScheduleSpec("sales-by-day", "daily", "07:00", params={"period": "last_7_days"},
                                                  format="csv", folder_pattern=str(folder) + "/"),
                          starts_at=at("2026-11-01T00:00"))
    assert run_due(db, now=at("2026-11-01T06:59")) == []
    # nothing called run-due for three days: the latest slot runs once, older ones are not replayed
    first = run_due(db, now=at("2026-11-04T09:00"))
    assert [(o.status, o.due_at) for o in first] == [("ok", at("2026-11-04T07:00"))]
    assert run_due(db, now=at("2026-11-04T09:05")) == []
    assert run_due(db, now=at("2026-11-04T23:59")) == []
    files = sorted(p.name for p in (tmp_path / "share" / "sales-by-day").iterdir())
    assert files == ["sales-by-day-2026-11-04.csv"]
    assert [o.due_at for o in run_due(db, now=at("2026-11-05T07:00"))] == [at("2026-11-05T07:00")]
    history = schedules.run_history(db, sid)
    assert [(r.due_at, r.status, r.attempts) for r in history] == [
        (at("2026-11-05T07:00"), "ok", 1), (at("2026-11-04T07:00"), "ok", 1)]
    info = schedules.list_schedules(db, now=at("2026-11-05T08:00"))[0]
    assert info.next_due == at("2026-11-06T07:00") and info.last_status == "ok"


def test_two_concurrent_run_due_calls_deliver_once(db: Database, actor, store, tmp_path) -> None:
    create_schedule(db, actor, ScheduleSpec("inventory-valuation", "daily", "06:00",
                                            folder_pattern=str(tmp_path / "out" / "{report}-{date:%Y%m%d}.xlsx")),
                    starts_at=at("2026-01-01T00:00"))
    now = at("2026-06-10T06:30")
    barrier = threading.Barrier(2)
    results: list[list] = []
    errors: list[BaseException] = []

    def call(name: str) -> None:
        try:
            barrier.wait()
            results.append(run_due(db, now=now, runner=name))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(f"machine-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 1]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["inventory-valuation-20260610.xlsx"]
    assert len(schedules.run_history(db)) == 1


def test_an_unwritable_folder_is_a_failed_run_retried_next_time(db: Database, actor, store, tmp_path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the folder should be")
    sid = create_schedule(db, actor, ScheduleSpec("low-stock", "daily", "05:00",
                                                  folder_pattern=str(blocker / "daily") + "/"),
                          starts_at=at("2026-01-01T00:00"))
    failed = run_due(db, now=at("2026-02-01T05:10"))
    assert failed[0].status == "failed" and "cannot create the folder" in failed[0].error
    blocker.unlink()
    retried = run_due(db, now=at("2026-02-01T05:20"))
    assert [o.status for o in retried] == ["ok"]
    assert (blocker / "daily" / "low-stock-2026-02-01.xlsx").exists()
    assert [(r.status, r.attempts, r.error) for r in schedules.run_history(db, sid)] == [("ok", 2, "")]
    assert run_due(db, now=at("2026-02-01T05:30")) == []


# -- e-mail -----------------------------------------------------------------------------------------------
def test_email_delivery_with_the_xlsx_attached(db: Database, actor, store, smtp_server) -> None:
    inbox, port = smtp_server
    settings.save_smtp(db, actor, SmtpSettings(host="127.0.0.1", port=port, security="none",
                                               sender="reports@shop.test", recipients=("ops@shop.test",)))
    create_schedule(db, actor, ScheduleSpec("inventory-valuation", "weekly", "07:30", weekday=0,
                                            timezone="Europe/Berlin", email_to=["boss@shop.test", "cfo@shop.test"],
                                            subject="{title} for {date:%d.%m.%Y}"),
                    starts_at=at("2026-11-01T00:00"))
    outcome = run_due(db, now=at("2026-11-30T08:00"))  # Monday 30 November, 09:00 in Berlin
    assert [o.status for o in outcome] == ["ok"], outcome
    assert len(inbox.messages) == 1
    sender, rcpts, msg = inbox.messages[0]
    assert sender == "reports@shop.test" and rcpts == ["boss@shop.test", "cfo@shop.test"]
    assert msg["Subject"] == "Inventory valuation for 30.11.2026"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "inventory-valuation-2026-11-30.xlsx"
    assert attachment.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    assert wb["Report"]["A1"].value == "Location" and "Parameters" in wb.sheetnames
    assert run_due(db, now=at("2026-11-30T09:00")) == [] and len(inbox.messages) == 1


def test_unreachable_mail_server_is_recorded_and_retried(db: Database, actor, store, smtp_server) -> None:
    inbox, port = smtp_server
    dead = free_port()
    settings.save_smtp(db, actor, SmtpSettings(host="127.0.0.1", port=dead, security="none", timeout_s=2,
                                               sender="reports@shop.test", recipients=("ops@shop.test",)))
    sid = create_schedule(db, actor, ScheduleSpec("sales-by-month", "daily", "06:00", format="pdf",
                                                  email_to=["boss@shop.test"]), starts_at=at("2026-01-01T00:00"))
    failed = run_due(db, now=at("2026-03-03T06:01"))
    assert failed[0].status == "failed" and f"could not send through 127.0.0.1:{dead}" in failed[0].error
    settings.save_smtp(db, actor, SmtpSettings(host="127.0.0.1", port=port, security="none",
                                               sender="reports@shop.test", recipients=("ops@shop.test",)))
    assert [o.status for o in run_due(db, now=at("2026-03-03T06:10"))] == ["ok"]
    (attachment,) = list(inbox.messages[0][2].iter_attachments())
    assert attachment.get_content()[:5] == b"%PDF-"
    assert [(r.status, r.attempts) for r in schedules.run_history(db, sid)] == [("ok", 2)]


# -- command line -----------------------------------------------------------------------------------------
def _cli(db: Database, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--user", "tester", *args, "--db", db.engine.url.render_as_string(hide_password=False)])


def test_reports_command_line(db: Database, actor, store, tmp_path) -> None:
    listed = _cli(db, "reports", "list")
    assert listed.exit_code == 0 and "sales-by-month" in listed.output and "built-in" in listed.output
    out = tmp_path / "top.csv"
    ran = _cli(db, "reports", "run", "top-products", "--out", str(out), "--param", "period=all_time")
    assert ran.exit_code == 0, ran.output + ran.stderr
    assert out.read_text(encoding="utf-8").splitlines()[0] == "Product,Vendor,Revenue,Units,Gross profit,Margin %,Returned units,Net sales"
    pdf = _cli(db, "reports", "run", "inventory-valuation", "--format", "pdf", "--out", str(tmp_path / "inv"))
    assert pdf.exit_code == 0 and (tmp_path / "inv").read_bytes()[:4] == b"%PDF"

    unknown = _cli(db, "reports", "run", "no-such-report")
    assert unknown.exit_code == 1 and unknown.stderr.strip() == \
        "backoffice: error: no report named 'no-such-report'; `backoffice reports list` shows them"
    bad = _cli(db, "reports", "run", "sales-by-day", "--param", "period=someday", "--out", str(tmp_path / "x.xlsx"))
    assert bad.exit_code == 1 and "unknown date range 'someday'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1

    added = _cli(db, "reports", "schedule", "add", "sales-by-week", "--weekly", "mon", "--at", "06:30",
                 "--tz", "Europe/Berlin", "--folder", str(tmp_path / "weekly") + "/", "--param", "period=last_week")
    assert added.exit_code == 0, added.output + added.stderr
    assert "every Monday at 06:30 (Europe/Berlin)" in added.output
    listing = _cli(db, "reports", "schedule", "list")
    assert "sales-by-week" in listing.output and "never run" in listing.output
    due = _cli(db, "reports", "run-due", "--now", "2099-01-05T06:00:00")   # a Monday, 07:00 in Berlin
    assert due.exit_code == 0, due.output + due.stderr
    assert "sales-by-week" in due.output and "rows" in due.output
    assert _cli(db, "reports", "run-due", "--now", "2099-01-05T06:00:00").output.strip() == "nothing due"
    history = _cli(db, "reports", "schedule", "history")
    assert "ok" in history.output and "due 2099-01-05 05:30" in history.output
    refused = _cli(db, "reports", "schedule", "add", "sales-by-week", "--tz", "Nowhere/City", "--folder", "/tmp/x")
    assert refused.exit_code == 1 and "Nowhere/City" in refused.stderr


def test_show_and_save_a_definition_from_the_command_line(db: Database, actor, store, tmp_path) -> None:
    import json

    shown = _cli(db, "reports", "show", "sales-by-month")
    assert shown.exit_code == 0
    doc = json.loads(shown.output)
    doc.update(name="monthly-units", title="Monthly units", columns=[{"field": "quantity", "agg": "sum"}])
    path = tmp_path / "monthly.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    saved = _cli(db, "reports", "save", str(path))
    assert saved.exit_code == 0 and saved.output.strip() == "saved monthly-units (version 1)"
    assert _cli(db, "reports", "save", str(path)).output.strip() == "saved monthly-units (version 1)"  # unchanged
    doc["limit"] = 6
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert _cli(db, "reports", "save", str(path)).output.strip() == "saved monthly-units (version 2)"
    assert any(line.split()[:2] == ["monthly-units", "saved"] for line in _cli(db, "reports", "list").output.splitlines())
    doc["columns"] = [{"field": "nothing", "agg": "sum"}]
    path.write_text(json.dumps(doc), encoding="utf-8")
    bad = _cli(db, "reports", "save", str(path))
    assert bad.exit_code == 1 and "has no field 'nothing'" in bad.stderr


def _order_on(db: Database, store, oid: int, when: dt.datetime, price: str = "12.50") -> None:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    from backoffice.models import Order, OrderLine

    with db.write() as session:
        session.add(Order(id=oid, number=f"#{oid}", ordered_at=when, status="paid", total=Decimal(price)))
        session.flush()
        session.add(OrderLine(order_id=oid, variant_id=store.variant_ids[0], quantity=1, unit_price=Decimal(price),
                              discount=Decimal("0")))


def test_mailed_report_marks_the_partial_month_and_says_so(db: Database, actor, store, smtp_server) -> None:
    inbox, port = smtp_server
    settings.save_smtp(db, actor, SmtpSettings(host="127.0.0.1", port=port, security="none",
                                               sender="reports@shop.test", recipients=("ops@shop.test",)))
    _order_on(db, store, 1, at("2026-10-20T10:00"))
    _order_on(db, store, 2, at("2026-11-02T10:00"))
    create_schedule(db, actor, ScheduleSpec("sales-by-month", "daily", "07:00", timezone="Europe/Berlin",
                                            email_to=["boss@shop.test"]), starts_at=at("2026-11-01T00:00"))
    assert [o.status for o in run_due(db, now=at("2026-11-05T08:00"))] == ["ok"]
    _, _, msg = inbox.messages[0]
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Partial periods (marked): Nov 2026 so far (as of 2026-11-05)." in body
    wb = openpyxl.load_workbook(io.BytesIO(next(msg.iter_attachments()).get_content()))
    ws = wb["Report"]
    assert [ws["A2"].number_format, ws["A3"].number_format] == ["mmm yyyy", 'mmm yyyy" (partial)"']
    assert ws["B3"].value == 12.5 and ws["B3"].number_format == '"€"#,##0.00;-"€"#,##0.00'
    params = {r[0].value: r[1].value for r in wb["Parameters"].iter_rows(min_row=2)}
    assert params["Run at"].endswith("(Europe/Berlin)") and params["Period"].startswith("Last 24 months (")


def test_command_line_run_can_leave_the_partial_period_out(db: Database, actor, store, tmp_path) -> None:
    now = dt.datetime.now(UTC)
    _order_on(db, store, 1, now - dt.timedelta(days=40))
    _order_on(db, store, 2, now)
    marked = _cli(db, "reports", "run", "sales-by-month", "--out", str(tmp_path / "m.csv"), "--tz", "Europe/Berlin")
    assert marked.exit_code == 0, marked.output + marked.stderr
    assert "so far" in marked.output
    this_month = now.date().replace(day=1).isoformat()
    assert this_month in (tmp_path / "m.csv").read_text(encoding="utf-8")
    left_out = _cli(db, "reports", "run", "sales-by-month", "--out", str(tmp_path / "x.csv"), "--partial", "exclude")
    assert left_out.exit_code == 0 and "left out" in left_out.output
    assert this_month not in (tmp_path / "x.csv").read_text(encoding="utf-8")
    bad = _cli(db, "reports", "run", "sales-by-month", "--tz", "Mars/Olympus")
    assert bad.exit_code != 0 and "Mars/Olympus" in bad.stderr
