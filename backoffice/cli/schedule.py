"""``backoffice schedule …``: scheduled work without the app. Registers the periodic jobs with the OS
scheduler of the current user (systemd user timers, else the crontab, on Linux; launchd on macOS; the
Task Scheduler on Windows), shows what is registered with each job's last run, and removes it.

The entries run this app with the profile (``--profile NAME``) or database (``--db URL``) the command was
given; a URL holding a password is refused (save a profile: the password goes to the keyring). Each run
takes its job's lease in the database, so overlapping runs never deliver twice (a run that finds another
under way says "skipped: …" and exits 0). ``backoffice reports schedule …`` is another thing: when each
report is delivered (``reports run-due`` is the job that delivers them).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import click

from backoffice.cli.app import EXIT_ERROR, Context, db_options, json_text, main

SCHEDULER_CHOICE = click.Choice(["systemd", "cron", "launchd", "schtasks"])
JOB_NAMES = ("reports", "alerts", "orders", "store", "events")


@main.group("schedule")
def schedule_group() -> None:
    """Run the periodic jobs without the app: register them with this computer's scheduler, see them, remove them."""


def _target(obj: Context) -> Any:  # noqa: ANN401 - a scheduling.Target
    from backoffice.scheduling import target_for

    url, profile = obj.target()
    user = obj.user_option or os.environ.get("BACKOFFICE_USER") or None
    return target_for(url=url, profile=profile.name if profile is not None else None, user=user)


def _backend(name: str | None) -> Any:  # noqa: ANN401 - a scheduling.Backend
    from backoffice.scheduling import backend_for_platform, backend_named

    return backend_named(name) if name else backend_for_platform()


def _scheduling_errors() -> tuple[type[BaseException], ...]:
    from backoffice.scheduling import SchedulingError

    return (SchedulingError,)


def _fail(message: str) -> None:
    click.echo(f"backoffice: error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_ERROR)


def _when(value: dt.datetime | None) -> str:
    return "—" if value is None else f"{value.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


# -- install -------------------------------------------------------------------------------------------------
@schedule_group.command("install")
@click.option("--scheduler", type=SCHEDULER_CHOICE, default=None,
              help="Use this scheduler (default: systemd user timers when this user's manager runs, else the "
                   "crontab, on Linux; launchd on macOS; the Task Scheduler on Windows).")
@click.option("--every", "every", multiple=True, metavar="JOB=DURATION",
              help="How often a job runs, e.g. reports=5m, alerts=30m, orders=2m, store=1h (repeatable; defaults: "
                   "reports 5m, alerts 1h, orders 5m, store 15m, events 5m).")
@click.option("--with", "include", multiple=True, type=click.Choice(JOB_NAMES),
              help="Register this job even where the database does not call for it (repeatable).")
@click.option("--without", "exclude", multiple=True, type=click.Choice(JOB_NAMES),
              help="Leave this job out (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print what would be written; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@db_options
@click.pass_obj
def install_cmd(obj: Context, scheduler: str | None, every: tuple[str, ...], include: tuple[str, ...],
                exclude: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Register the periodic jobs of this profile or database with this computer's scheduler: reports
    run-due and stock alerts --send always; orders process once the database has orders; store sync while
    a store is connected. Running it again changes nothing; it also removes jobs no longer called for."""
    from backoffice.scheduling import describe_every, install, parse_every, planned_jobs

    try:
        target = _target(obj)
        backend = _backend(scheduler)
        if not dry_run:
            backend.check()
        intervals = parse_every(every, set(JOB_NAMES))
        plan = planned_jobs(obj.operations(), every=intervals, include=include, exclude=exclude)
        if not plan.jobs:
            _fail("nothing to schedule: " + "; ".join(f"{j.label}: {plan.reasons[j.key]}" for j in plan.left_out))
        result = install(plan.jobs, target, backend=backend, dry_run=dry_run)
    except _scheduling_errors() as exc:
        _fail(str(exc))
        return
    if as_json:
        click.echo(json_text({
            "scheduler": result.scheduler, "instance": result.instance, "dry_run": dry_run,
            "changed": result.changed, "connection": list(target.connection),
            "jobs": [{"job": j.key, "label": j.label, "every_seconds": j.every, "command": target.command(j),
                      "reason": plan.reasons[j.key]} for j in plan.jobs],
            "left_out": [{"job": j.key, "label": j.label, "reason": plan.reasons[j.key]} for j in plan.left_out],
            "removed": [e.job for e in result.removed],
            "files": [str(a.path) if a.path else "crontab" for a in result.artifacts], "notes": result.notes}))
        return
    verb = "Would register" if dry_run else "Registered"
    click.echo(f"{verb} with {backend.description} ({backend.name}) for {target.description}:")
    width = max(len(j.label) for j in plan.jobs)
    for job in plan.jobs:
        click.echo(f"  {job.label:<{width}}  every {describe_every(job.every):<8} {plan.reasons[job.key]}")
    for job in plan.left_out:
        click.echo(f"  left out: {job.label}: {plan.reasons[job.key]}")
    for entry in result.removed:
        click.echo(f"  {'would remove' if dry_run else 'removed'}: {entry.job} (no longer called for)")
    if dry_run:
        for artifact in result.artifacts:
            click.echo(f"\n--- {artifact.path if artifact.path else 'the Backoffice block of your crontab'}")
            click.echo(artifact.text().replace("\r\n", "\n").rstrip("\n"))
    elif not result.changed:
        click.echo("Already registered as it is: nothing changed.")
    for note in result.notes:
        click.echo(f"Note: {note}")
    if _shared_database(target):
        click.echo("Note: on PostgreSQL each run signs in: with a profile, with its password from the keyring "
                   "(`backoffice profiles add NAME URL --ask-password`), which the scheduler's session must reach.")


# -- status --------------------------------------------------------------------------------------------------
@schedule_group.command("status")
@click.option("--scheduler", type=SCHEDULER_CHOICE, default=None,
              help="Look only at this scheduler (default: every one this platform may use).")
@click.option("--all", "every_instance", is_flag=True, help="Also list the entries of other profiles and databases.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@db_options
@click.pass_obj
def status_cmd(obj: Context, scheduler: str | None, every_instance: bool, as_json: bool) -> None:
    """What is registered for this profile or database (each job's interval, command and what the scheduler
    says of it) and each job's last run, from the database's run history."""
    from backoffice.scheduling import backend_named, job_states, registered

    try:
        target = _target(obj)
        found = registered(instance=None, backend=backend_named(scheduler) if scheduler else None)
    except _scheduling_errors() as exc:
        _fail(str(exc))
        return
    ours = [e for e in found if e.instance == target.instance]
    others = [e for e in found if e.instance != target.instance]
    problem = None
    runs: list[Any] = []
    plans = None
    try:
        ops = obj.operations()
        plans, runs = ops.schedule.jobs(), ops.schedule.last_runs()
    except Exception as exc:  # noqa: BLE001 - shown after what is registered; exit 1
        text = str(getattr(exc, "orig", None) or exc).strip()
        problem = text.splitlines()[0] if text else type(exc).__name__
    states = job_states(ours, runs, plans)
    if as_json:
        click.echo(json_text({
            "instance": target.instance, "connection": list(target.connection), "error": problem,
            "jobs": [_state_json(s) for s in states],
            "others": [_entry_json(e) for e in others] if every_instance else [],
        }))
    else:
        schedulers = sorted({e.scheduler for e in ours})
        where = ", ".join(schedulers) if schedulers else "nothing registered"
        click.echo(f"{target.description} ({' '.join(target.connection)}): {where}")
        for s in states:
            _show_state(s)
        if every_instance:
            for e in others:
                click.echo(f"other: {e.instance}  {e.job}  every {_every(e.every)}  ({e.scheduler}: {e.where})")
        elif others:
            click.echo(f"({len({e.instance for e in others})} other profile(s) or database(s) registered: "
                       "--all lists them)")
    if problem:
        click.echo(f"backoffice: error: the run history could not be read: {problem}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR)


def _shared_database(target: Any) -> bool:  # noqa: ANN401
    from backoffice.config import resolve_target

    try:
        url = target.connection[1] if target.connection[0] == "--db" else resolve_target(None, target.connection[1])[0]
    except Exception:  # noqa: BLE001 - only for a note
        return False
    return url.startswith(("postgresql", "postgres"))


def _every(seconds: int | None) -> str:
    from backoffice.scheduling import describe_every

    return describe_every(seconds) if seconds else "?"


def _show_state(s: Any) -> None:  # noqa: ANN401 - a scheduling.JobState
    e = s.entry
    if e is None:
        click.echo(f"  {s.label:<20} not registered" + (f": {s.reason}" if s.reason else ""))
    else:
        state = []
        if e.enabled is not None:
            state.append("enabled" if e.enabled else "disabled")
        if e.active is not None:
            state.append("active" if e.active else "inactive")
        if e.next_run is not None:
            state.append(f"next {_when(e.next_run)}")
        click.echo(f"  {s.label:<20} every {_every(e.every):<8} {e.scheduler}"
                   + (f", {', '.join(state)}" if state else ""))
        click.echo(f"  {'':<20} runs: {' '.join(_quoted(a) for a in e.command)}")
        if s.wanted is False:
            click.echo(f"  {'':<20} not called for any more ({s.reason}): `backoffice schedule install` removes it")
    if not s.last_runs and e is not None:
        click.echo(f"  {'':<20} never run")
    for r in s.last_runs:
        took = f", took {r.seconds:.1f} s" if r.seconds is not None else (", running now" if r.alive else
                                                                         ", did not finish")
        scope = f" [{r.scope}]" if r.scope else ""
        summary = f": {r.summary}" if r.summary else ""
        click.echo(f"  {'':<20} last run{scope} {_when(r.started_at)} on {r.host} pid {r.pid}{took}, "
                   f"{r.status}{summary}")


def _quoted(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _entry_json(e: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"scheduler": e.scheduler, "instance": e.instance, "job": e.job, "every_seconds": e.every,
            "command": e.command, "where": e.where, "enabled": e.enabled, "active": e.active,
            "next_run": e.next_run, "last_trigger": e.last_trigger}


def _state_json(s: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"job": s.key, "label": s.label, "wanted": s.wanted, "reason": s.reason, "registered": s.entry is not None,
            "entry": _entry_json(s.entry) if s.entry else None,
            "last_runs": [{"scope": r.scope, "status": r.status, "started_at": r.started_at,
                           "finished_at": r.finished_at, "seconds": r.seconds, "summary": r.summary, "host": r.host,
                           "pid": r.pid, "user": r.username, "running": r.status == "running" and r.alive}
                          for r in s.last_runs]}


# -- remove --------------------------------------------------------------------------------------------------
@schedule_group.command("remove")
@click.option("--scheduler", type=SCHEDULER_CHOICE, default=None,
              help="Remove only from this scheduler (default: every one this platform may use).")
@click.option("--all", "every_instance", is_flag=True,
              help="Remove the entries of every profile and database, not only this one's.")
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@db_options
@click.pass_obj
def remove_cmd(obj: Context, scheduler: str | None, every_instance: bool, dry_run: bool) -> None:
    """Remove this profile's or database's Backoffice entries from the scheduler (nothing else is
    touched; removing again changes nothing). The database is not opened."""
    from backoffice.scheduling import backend_named, remove

    try:
        instance = None if every_instance else _target(obj).instance
        removed = remove(instance=instance, backend=backend_named(scheduler) if scheduler else None, dry_run=dry_run)
    except _scheduling_errors() as exc:
        _fail(str(exc))
        return
    if not removed:
        click.echo("Nothing of Backoffice is registered" + ("" if every_instance else " for this profile or database")
                   + ": nothing to remove.")
        return
    verb = "Would remove" if dry_run else "Removed"
    for e in removed:
        click.echo(f"{verb} {e.job} of {e.instance} ({e.scheduler}: {Path(e.where).name})")
