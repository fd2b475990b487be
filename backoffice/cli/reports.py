"""``backoffice reports …``: list and run reports, manage schedules, and run what is due.

``backoffice reports run-due`` is what cron, a systemd timer or the Windows Task Scheduler calls every few
minutes: each due slot of each schedule runs once, however often it is called and from however many
machines; a failed delivery is recorded and retried by the next call.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from backoffice.cli.app import EXIT_ERROR, Context, db_options, main


def _params(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in values:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--param {spec!r}: write it as NAME=VALUE (e.g. period=last_week)")
        out[key.strip()] = value.strip()
    return out


@main.group()
def reports() -> None:
    """Reports: list, run now, schedules and scheduled delivery."""


@reports.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@db_options
@click.pass_obj
def list_cmd(obj: Context, as_json: bool) -> None:
    """The built-in and saved reports, by name."""
    entries = obj.operations().reports.library()
    if as_json:
        click.echo(json.dumps([e.__dict__ for e in entries], indent=2))
        return
    width = max((len(e.name) for e in entries), default=10)
    for e in entries:
        kind = "built-in" if e.builtin else "saved"
        click.echo(f"{e.name:<{width}}  {kind:<8}  {e.source:<15}  {e.title}")


@reports.command("show")
@click.argument("name")
@db_options
@click.pass_obj
def show_cmd(obj: Context, name: str) -> None:
    """The definition of report NAME as JSON (save it, edit it, load it with `reports save`)."""
    click.echo(obj.operations().reports.get(name).to_json())


@reports.command("save")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_options
@click.pass_obj
def save_cmd(obj: Context, file: Path) -> None:
    """Save the report definition in FILE (JSON, as `reports show` prints it); replaces a saved one of
    the same name."""
    from backoffice.operations.reports import ReportDefinition

    defn = ReportDefinition.from_json(file.read_text(encoding="utf-8"))
    reports_area = obj.operations().reports
    version = reports_area.save(defn, expected_version=reports_area.saved_version(defn.name))
    click.echo(f"saved {defn.name} (version {version})")


_RANGES_HELP = ("Periods: today, yesterday, this_week, last_week, this_month, last_month, this_quarter, "
                "last_quarter, this_year, last_year, year_to_date, last_7_days, last_30_days, last_90_days, "
                "last_12_months, last_24_months, all_time, or FROM..TO as 2026-01-01..2026-04-01 (TO not included). "
                "`backoffice reports show NAME` shows a report's parameters and their defaults.")


@reports.command("run", epilog=_RANGES_HELP)
@click.argument("name")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here (default: NAME-DATE.FORMAT in the current folder).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "pdf"]), default=None,
              help="File format (default: from --out's extension, else xlsx).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A report parameter, e.g. period=last_week or period=2026-01-01..2026-04-01 (repeatable).")
@click.option("--partial", "partial", type=click.Choice(["mark", "exclude"]), default=None,
              help="The current, incomplete period (this month of a monthly report): mark it as partial, or "
                   "leave it out (default: the report's setting, usually mark).")
@click.option("--tz", "timezone", default=None, metavar="ZONE",
              help="Time zone the run time is shown in (e.g. Europe/Berlin; default: this machine's); "
                   "periods are always UTC.")
@db_options
@click.pass_obj
def run_cmd(obj: Context, name: str, out: Path | None, fmt: str | None, params: tuple[str, ...],
            partial: str | None, timezone: str | None) -> None:
    """Run report NAME now and write it to a file (the file appears whole, with your umask)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from backoffice.operations.reports import slug
    from backoffice.reports.formats import local_zone_name

    timezone = timezone or local_zone_name()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.UsageError(f"--tz {timezone!r} is not a time zone (e.g. Europe/Berlin)") from None
    reports_area = obj.operations().reports
    defn = reports_area.get(name)
    if partial:
        defn.partial_periods = partial
    if out is None:
        out = Path(f"{slug(name)}-{dt.date.today().isoformat()}.{fmt or 'xlsx'}")
    result = reports_area.export(defn, out, fmt, _params(params), timezone=timezone)
    sheets = f" on {result.sheets} sheets" if result.sheets > 1 else ""
    click.echo(f"{result.path}: {result.rows:,} rows{sheets} ({result.format})")
    for note in result.notes:
        click.echo(f"  {note}")


@reports.command("run-due")
@click.option("--now", "now_text", default=None, metavar="ISO-TIME", hidden=True,
              help="Pretend it is this UTC time (for checking a schedule).")
@db_options
@click.pass_obj
def run_due_cmd(obj: Context, now_text: str | None) -> None:
    """Run every scheduled report that is due (for cron / Task Scheduler; safe to call repeatedly).
    Exits 1 if a delivery failed (it is recorded and retried by the next call); while another run is
    under way, says so in one line ("skipped: …") and exits 0."""
    now = None
    if now_text:
        try:
            now = dt.datetime.fromisoformat(now_text)
        except ValueError:
            raise click.UsageError(f"--now {now_text!r} is not an ISO date and time") from None
        now = now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)
    from backoffice.operations.schedule import JobBusy

    try:
        outcomes = obj.operations().reports.run_due(now=now)
    except JobBusy as busy:   # another run is delivering: nothing to do here
        click.echo(f"skipped: {busy}")
        return
    if not outcomes:
        click.echo("nothing due")
    failed = 0
    for o in outcomes:
        if o.status == "ok":
            click.echo(f"{o.report_name} (schedule {o.schedule_id}, due {o.due_at:%Y-%m-%d %H:%M} UTC): "
                       f"{o.rows:,} rows → {o.output}")
        else:
            failed += 1
            click.echo(f"{o.report_name} (schedule {o.schedule_id}, due {o.due_at:%Y-%m-%d %H:%M} UTC): "
                       f"failed: {o.error}", err=True)
    if failed:
        raise click.exceptions.Exit(EXIT_ERROR)


# -- schedules ------------------------------------------------------------------------------------------
@reports.group("schedule")
def schedule() -> None:
    """Add, list and delete report schedules; see their run history."""


@schedule.command("add")
@click.argument("name")
@click.option("--daily", "kind", flag_value="daily", default=True, help="Every day (default).")
@click.option("--weekdays", "kind", flag_value="weekdays", help="Monday to Friday.")
@click.option("--weekly", "weekday", type=click.Choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
              default=None, help="Every week on this day.")
@click.option("--monthly", "day_of_month", type=click.IntRange(1, 31), default=None,
              help="Every month on this day (the last day of a shorter month).")
@click.option("--at", "at_time", default="07:00", show_default=True, metavar="HH:MM")
@click.option("--tz", "timezone", default="UTC", show_default=True, help="Time zone, e.g. Europe/Berlin.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "pdf"]), default="xlsx", show_default=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A report parameter (repeatable).")
@click.option("--folder", "folder", default="", metavar="PATTERN",
              help="Deliver to this folder or file path; {report}, {title}, {format} and {date:%Y-%m-%d} are filled in.")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help="Mail the file to this address (repeatable).")
@click.option("--subject", default="", help="Mail subject ({title}, {date:%Y-%m-%d}, {rows}).")
@click.option("--body", default="", help="Mail text (same placeholders).")
@db_options
@click.pass_obj
def schedule_add(obj: Context, name: str, kind: str, weekday: str | None, day_of_month: int | None, at_time: str,
                 timezone: str, fmt: str, params: tuple[str, ...], folder: str, emails: tuple[str, ...],
                 subject: str, body: str) -> None:
    """Schedule report NAME."""
    from backoffice.operations.reports import ScheduleSpec

    if weekday and day_of_month:
        raise click.UsageError("choose --weekly DAY or --monthly N, not both")
    wd = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(weekday) if weekday else None
    kind = "weekly" if weekday else "monthly" if day_of_month else kind
    spec = ScheduleSpec(name, kind, at_time, wd, day_of_month, timezone, _params(params), fmt, folder, list(emails),
                        subject, body)
    info = obj.operations().reports.add_schedule(spec)
    due = info.next_due
    click.echo(f"schedule {info.id}: {name} {spec.describe()}; next run {due:%Y-%m-%d %H:%M} UTC" if due else
               f"schedule {info.id}: {name} {spec.describe()}")


@schedule.command("list")
@db_options
@click.pass_obj
def schedule_list(obj: Context) -> None:
    """Every schedule with its next due time and last result."""
    infos = obj.operations().reports.schedules()
    if not infos:
        click.echo("no schedules")
    for s in infos:
        nxt = f"next {s.next_due:%Y-%m-%d %H:%M} UTC" if s.next_due else "inactive"
        last = f"last {s.last_status} ({s.last_due:%Y-%m-%d %H:%M})" if s.last_status else "never run"
        where = ", ".join(p for p in (s.spec.folder_pattern, ", ".join(s.spec.email_to)) if p)
        err = f": {s.last_error}" if s.last_status == "failed" and s.last_error else ""
        click.echo(f"{s.id:>4}  {s.spec.report_name}  {s.spec.describe()}  {s.spec.format}  → {where}  {nxt}; {last}{err}")


@schedule.command("delete")
@click.argument("schedule_id", type=int)
@db_options
@click.pass_obj
def schedule_delete(obj: Context, schedule_id: int) -> None:
    """Delete schedule SCHEDULE_ID and its history."""
    obj.operations().reports.delete_schedule(schedule_id)
    click.echo(f"schedule {schedule_id} deleted")


@schedule.command("history")
@click.argument("schedule_id", type=int, required=False)
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True)
@db_options
@click.pass_obj
def schedule_history(obj: Context, schedule_id: int | None, limit: int) -> None:
    """Runs of one schedule (or all): due time, start, end, rows, status, error."""
    runs = obj.operations().reports.last_runs(schedule_id, limit=limit)
    if not runs:
        click.echo("no runs")
    for r in runs:
        end = f"{r.finished_at:%H:%M:%S}" if r.finished_at else "…"
        rows = "" if r.rows is None else f"{r.rows:,} rows"
        click.echo(f"{r.schedule_id:>4}  due {r.due_at:%Y-%m-%d %H:%M}  ran {r.started_at:%Y-%m-%d %H:%M:%S}–{end}  "
                   f"{r.status:<7} {rows}  {r.error or r.output}  (attempt {r.attempts})")
