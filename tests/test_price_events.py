"""Price events on both engines: applied at the start and reverted at the end exactly once, a price
edited during the event kept as a conflict (never overwritten) until resolved, the per-variant quantity
limit, the compare-at setting, overlapping events refused with the clash named, bad input refused with
nothing written, concurrent runners (threads, and two real `events run-due` processes) applying each
transition once, the command line, and the operations over a real store API server."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Changeset, JobRun, Variant
from backoffice.models.price_events import PriceEvent, PriceEventVariant
from backoffice.operations import PermissionDenied
from backoffice.operations.events import EventDraft, EventSettings, PriceStep, Target, VariantFilter
from backoffice.services import orders, price_event_runs, price_events
from backoffice.services.base import ServiceError, ValidationError
from backoffice.services.changesets import RowChange, apply_changes, revert_changeset
from tests.api_support import PASSWORD
from tests.conftest import SmallStore

UTC = dt.timezone.utc
ROOT = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
LOWER_20 = (PriceStep("percent", Decimal("-20")), PriceStep("round_ending", Decimal("0.99")))


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def prices(db: Database) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    with db.read() as session:
        return {sku: (p, c) for sku, p, c in session.execute(
            select(Variant.sku, Variant.price, Variant.compare_at_price).order_by(Variant.sku))}


def event_changesets(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Changeset).where(Changeset.kind == "event")) or 0


def edit_price(db: Database, actor, sku: str, price: str) -> None:  # type: ignore[no-untyped-def]
    with db.read() as session:
        vid, version = session.execute(select(Variant.id, Variant.version).where(Variant.sku == sku)).one()
    result = apply_changes(db, actor, [RowChange("variant", vid, version, {"price": Decimal(price)})],
                           description="a price edited by hand")
    assert result.applied_rows == 1


def draft(store: SmallStore, name: str = "Flash", *, start: dt.datetime = T0, hours: int = 2,
          limit: int | None = None, ids: list[int] | None = None) -> EventDraft:
    return EventDraft(name, Target(variant_ids=tuple(ids if ids is not None else store.variant_ids)), LOWER_20,
                      start, start + dt.timedelta(hours=hours), "Europe/Paris", limit)


def test_an_event_is_applied_and_reverted_exactly_once_and_an_edit_in_between_is_kept_as_a_conflict(
        db: Database, actor, store: SmallStore) -> None:  # type: ignore[no-untyped-def]
    regular = prices(db)
    info = price_events.plan_event(db, actor, draft(store), now=T0 - dt.timedelta(days=1))
    assert (info.state, info.variants, info.variant_states) == ("planned", 3, {"planned": 3})
    assert prices(db) == regular                                       # planning changes no price

    early = price_event_runs.run_due(db, actor, now=T0 - dt.timedelta(minutes=1))
    assert not early.changed and prices(db) == regular

    started = price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(minutes=1))
    assert started.started == ["Flash"] and len(started.changesets) == 1
    during = prices(db)
    assert {sku: p for sku, (p, _) in during.items()} == {"MC-L": Decimal("47.99"), "MC-M": Decimal("47.99"),
                                                          "MC-S": Decimal("47.99")}
    again = price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(minutes=2))
    assert not again.changed and prices(db) == during and event_changesets(db) == 1

    edit_price(db, actor, "MC-M", "45.00")                             # someone reprices during the event

    ended = price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(hours=3))
    assert ended.ended == ["Flash"] and (ended.restored, ended.conflicts) == (2, 1)
    after = prices(db)
    assert after["MC-S"] == regular["MC-S"] and after["MC-L"] == regular["MC-L"]
    assert after["MC-M"][0] == Decimal("45.00")                        # the edit is kept, not overwritten
    assert event_changesets(db) == 2
    twice = price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(hours=4))
    assert not twice.changed and prices(db) == after and event_changesets(db) == 2

    info = price_events.get_event(db, "Flash")
    assert info.state == "ended" and info.variant_states == {"restored": 2, "conflict": 1} and info.conflicts == 1
    [conflict] = price_events.conflicts(db, "Flash")
    assert (conflict.sku, conflict.event_price, conflict.current_price, conflict.regular_price) == \
        ("MC-M", Decimal("47.99"), Decimal("45.00"), Decimal("59.99"))

    done = price_event_runs.resolve(db, actor, "Flash", keep_current=False, skus=["MC-M"])
    assert done.restored == 1 and done.changeset_id is not None
    assert prices(db) == regular and price_events.conflicts(db, "Flash") == []
    with pytest.raises(ValidationError, match="no conflict to resolve"):
        price_event_runs.resolve(db, actor, "Flash", keep_current=True)


def test_keeping_the_edit_and_a_conflict_that_moved_again_is_refused(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    price_events.plan_event(db, actor, draft(store), now=T0)
    price_event_runs.run_due(db, actor, now=T0)
    edit_price(db, actor, "MC-S", "50.00")
    edit_price(db, actor, "MC-L", "40.00")
    price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(hours=2))
    assert [c.sku for c in price_events.conflicts(db, "Flash")] == ["MC-L", "MC-S"]
    edit_price(db, actor, "MC-L", "41.00")                             # moved again since the conflict
    with pytest.raises(ValidationError, match="SKU MC-L price: is 41.00 now"):
        price_event_runs.resolve(db, actor, "Flash", keep_current=False)
    assert prices(db)["MC-S"][0] == Decimal("50.00")                   # refused as a whole: nothing written
    kept = price_event_runs.resolve(db, actor, "Flash", keep_current=True, skus=["MC-S", "MC-L"])
    assert (kept.kept, kept.changeset_id) == (2, None)
    assert prices(db)["MC-S"][0] == Decimal("50.00") and price_events.conflicts(db, "Flash") == []
    with pytest.raises(ValidationError, match="SKU MC-X: is not a conflict"):
        price_event_runs.resolve(db, actor, "Flash", keep_current=True, skus=["MC-X"])


def test_a_variant_reaching_its_limit_goes_back_at_the_next_run_once(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    now = price_event_runs.database_now(db)
    price_events.plan_event(db, actor, draft(store, start=now - dt.timedelta(minutes=5), limit=3), now=now)
    price_event_runs.run_due(db, actor)
    s, m, _ = store.variant_ids
    orders.place_order(db, actor, lines=[(s, 2, "47.99"), (m, 1, "47.99")])
    first = price_event_runs.run_due(db, actor)
    assert first.limit_reached == 0 and prices(db)["MC-S"][0] == Decimal("47.99")
    orders.place_order(db, actor, lines=[(s, 1, "47.99")])
    second = price_event_runs.run_due(db, actor)
    assert second.limit_reached == 1
    assert {sku: p for sku, (p, _) in prices(db).items()} == {"MC-L": Decimal("47.99"), "MC-M": Decimal("47.99"),
                                                              "MC-S": Decimal("59.99")}
    third = price_event_runs.run_due(db, actor)
    assert third.limit_reached == 0 and event_changesets(db) == 2
    rows = {r["sku"]: r for r in price_events.event_variants(db, "Flash")}
    assert (rows["MC-S"]["state"], rows["MC-S"]["sold"]) == ("limit_reached", 3)
    assert (rows["MC-M"]["state"], rows["MC-M"]["sold"]) == ("active", 1)
    assert price_events.get_event(db, "Flash").sold == 4               # the count shown is the units sold


def test_the_compare_at_setting_shows_the_regular_price_during_the_event(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    before = prices(db)
    price_events.save_settings(db, actor, EventSettings(compare_at_regular=True))
    assert price_events.get_settings(db).compare_at_regular
    preview = price_events.preview_event(db, draft(store), now=T0)
    assert preview.compare_at_regular and preview.sample[0][1:] == (Decimal("59.99"), Decimal("47.99"),
                                                                    Decimal("59.99"))
    price_events.plan_event(db, actor, draft(store), now=T0)
    price_event_runs.run_due(db, actor, now=T0)
    assert set(prices(db).values()) == {(Decimal("47.99"), Decimal("59.99"))}
    price_events.save_settings(db, actor, EventSettings(compare_at_regular=False))   # the event keeps its own
    price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(hours=2))
    assert prices(db) == before                                        # compare-at back to none


def test_overlapping_events_are_refused_naming_the_clash(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    s, m, big = store.variant_ids
    price_events.plan_event(db, actor, draft(store, ids=[s, m]), now=T0)
    other = EventDraft("Norda week", Target(filter=VariantFilter(vendors=("Norda",))), (PriceStep("percent", Decimal("-5")),),
                       T0 + dt.timedelta(hours=1), T0 + dt.timedelta(days=7), "UTC")
    preview = price_events.preview_event(db, other, now=T0)
    assert not preview.can_save and [(c.event, c.variants, c.skus) for c in preview.clashes] == \
        [("Flash", 2, ["MC-M", "MC-S"])]
    with pytest.raises(ValidationError, match=r"2 variants are already in event “Flash” .*SKU MC-M, MC-S"):
        price_events.plan_event(db, actor, other, now=T0)
    later = EventDraft("Norda week", other.target, other.steps, T0 + dt.timedelta(hours=2),
                       T0 + dt.timedelta(days=7), "UTC")                   # [start, end): touching is no overlap
    assert price_events.plan_event(db, actor, later, now=T0).variants == 3
    with pytest.raises(ValidationError, match="already the name of an event"):
        price_events.plan_event(db, actor, draft(store, ids=[big], start=T0 + dt.timedelta(days=30)), now=T0)
    price_event_runs.cancel_event(db, actor, "Flash", now=T0)               # a cancelled event clashes no more
    third = EventDraft("Third", other.target, other.steps, other.starts_at, other.ends_at, "UTC")
    assert [c.event for c in price_events.preview_event(db, third, now=T0).clashes] == ["Norda week"]


BAD_INPUT = [
    ({"name": "  "}, "event name: must not be empty"),
    ({"ends_at": T0 - dt.timedelta(hours=1)}, "event end: 2030-03-01 08:00 is not after the start"),
    ({"ends_at": T0 + dt.timedelta(hours=1), "starts_at": T0 - dt.timedelta(days=3)}, "has already passed"),
    ({"time_zone": "Mars/Olympus"}, "event time zone: 'Mars/Olympus' is not a time zone"),
    ({"quantity_limit": 0}, "event limit: 0 is not a number of units"),
    ({"steps": ()}, "event rule: at least one step is needed"),
    ({"steps": (PriceStep("percent", Decimal("-150")),)}, "SKU MC-S price: would be priced -30.00, below zero"),
    ({"target": Target(filter=VariantFilter(vendors=("Nobody",)))}, "names no variant"),
]


def test_bad_input_is_refused_with_one_clear_line_and_writes_nothing(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    base = draft(store)
    for change, message in BAD_INPUT:
        with pytest.raises(ValidationError, match=message):
            price_events.plan_event(db, actor, EventDraft(**{**base.__dict__, **change}), now=T0 + dt.timedelta(hours=1))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PriceEvent)) == 0
        assert session.scalar(select(func.count()).select_from(PriceEventVariant)) == 0


def test_cancelling_a_planned_event_changes_no_price_and_an_active_one_ends_now(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    regular = prices(db)
    price_events.plan_event(db, actor, draft(store), now=T0)
    info, _ = price_event_runs.cancel_event(db, actor, "Flash", now=T0)
    assert info.state == "cancelled" and prices(db) == regular
    assert not price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(minutes=1)).changed
    with pytest.raises(ServiceError, match="already been cancelled"):
        price_event_runs.cancel_event(db, actor, "Flash", now=T0)
    price_events.plan_event(db, actor, draft(store, "Second"), now=T0)
    price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(minutes=1))
    assert prices(db)["MC-S"][0] == Decimal("47.99")
    info, result = price_event_runs.cancel_event(db, actor, "Second", now=T0 + dt.timedelta(minutes=30))
    assert info.state == "cancelled" and result.restored == 3 and prices(db) == regular
    assert not price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(hours=5)).changed


def test_an_event_whose_whole_time_passed_unrun_applies_nothing(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    regular = prices(db)
    price_events.plan_event(db, actor, draft(store), now=T0)
    result = price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(days=1))
    assert result.missed == ["Flash"] and not result.changesets and prices(db) == regular
    assert price_events.get_event(db, "Flash").state == "ended"


def test_reverting_the_start_changeset_by_hand_is_a_conflict_at_the_end(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    price_events.plan_event(db, actor, draft(store), now=T0)
    started = price_event_runs.run_due(db, actor, now=T0)
    revert_changeset(db, actor, started.changesets[0])
    ended = price_event_runs.run_due(db, actor, now=T0 + dt.timedelta(hours=2))
    assert (ended.restored, ended.conflicts) == (0, 3)
    assert {c.current_price for c in price_events.conflicts(db, "Flash")} == {Decimal("59.99")}


def test_two_runners_at_once_apply_each_transition_once(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    price_events.plan_event(db, actor, draft(store), now=T0)
    for moment, expected in ((T0 + dt.timedelta(minutes=1), Decimal("47.99")),
                             (T0 + dt.timedelta(hours=3), Decimal("59.99"))):
        barrier = threading.Barrier(2)
        results: list = []
        errors: list = []

        def run(moment: dt.datetime = moment) -> None:
            barrier.wait()
            try:
                results.append(price_event_runs.run_due(db, actor, now=moment))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(len(r.started) + len(r.ended) for r in results) == [0, 1]
        assert {p for p, _ in prices(db).values()} == {expected}
    assert event_changesets(db) == 2


def test_two_concurrent_run_due_processes_apply_the_start_once(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    now = price_event_runs.database_now(db)
    price_events.plan_event(db, actor, draft(store, start=now - dt.timedelta(minutes=1)), now=now)
    command = [sys.executable, "-m", "backoffice", "--db", url_of(db), "--user", "tester", "events", "run-due"]
    procs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    said = [out.strip() or err.strip() for out, err in outs]
    starters = [line for line in said if line.startswith("price events: 1 started")]
    others = [line for line in said if line not in starters]
    assert len(starters) == 1 and len(others) == 1, said          # one applied the start, the other nothing
    assert others[0].startswith(("nothing due", "skipped: `events run-due` is already running"))
    assert {p for p, _ in prices(db).values()} == {Decimal("47.99")} and event_changesets(db) == 1
    with db.read() as session:
        runs = sorted(session.scalars(select(JobRun.status).where(JobRun.job == "events-run-due")))
    assert runs in (["ok", "ok"], ["ok", "skipped"])


def test_the_command_line(db: Database, actor, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    base = ["--db", url_of(db), "--user", "tester"]
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, [*args, *base])

    now = dt.datetime.now(UTC)
    start, end = (now - dt.timedelta(minutes=1)).isoformat(), (now + dt.timedelta(hours=2)).isoformat()
    bad = run("events", "add", "Flash", "--vendor", "Norda", "--set", "vendor=X", "--start", start, "--end", end)
    assert bad.exit_code == 2 and "an event changes the price" in bad.output
    bad = run("events", "add", "Flash", "--vendor", "Norda", "--set", "price=-20%", "--start", "tomorrow",
              "--end", end)
    assert bad.exit_code == 2 and "--start 'tomorrow': write a date and time" in bad.output
    added = run("events", "add", "Flash", "--vendor", "Norda", "--set", "price=-20%", "--round", ".99",
                "--start", start, "--end", end, "--limit", "5")
    assert added.exit_code == 0, added.output
    assert "SKU MC-S                     59.99 → 47.99" in added.output and "Planned: Flash" in added.output
    again = run("events", "add", "Flash", "--vendor", "Norda", "--set", "price=-20%", "--round", ".99",
                "--start", start, "--end", end, "--op-id", "add-flash-1")
    assert again.exit_code == 1 and "already the name of an event" in again.stderr
    first = run("events", "add", "Flash 2", "--sku", "MC-S", "--set", "price=-5%", "--start", end,
                "--end", (now + dt.timedelta(hours=3)).isoformat(), "--op-id", "add-flash-2")
    retry = run("events", "add", "Flash 2", "--sku", "MC-S", "--set", "price=-5%", "--start", end,
                "--end", (now + dt.timedelta(hours=3)).isoformat(), "--op-id", "add-flash-2")
    assert first.exit_code == retry.exit_code == 0 and retry.output.startswith("Already planned by operation add-flash-2")
    assert run("events", "cancel", "Flash 2").exit_code == 0
    shown = run("events", "show", "Flash")
    assert shown.exit_code == 0 and "SKU MC-S" in shown.output and "planned" in shown.output
    clash = run("events", "add", "Other", "--sku", "MC-S", "--set", "price=-10%", "--start", start, "--end", end)
    assert clash.exit_code == 1
    assert clash.stderr.strip().splitlines()[-1].startswith("backoffice: error: event Flash variants: 1 variant is "
                                                             "already in event “Flash”")
    listed = json.loads(run("events", "list", "--json").output)
    assert [(e["name"], e["state"], e["variants"], e["quantity_limit"]) for e in listed] == \
        [("Flash", "planned", 3, 5), ("Flash 2", "cancelled", 1, None)]
    assert run("events", "run-due").output.startswith("price events: 1 started")
    assert run("events", "run-due").output.strip() == "nothing due"
    edit_price(db, actor, "MC-L", "44.00")
    cancelled = run("events", "cancel", "Flash")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    conflicts = json.loads(run("events", "conflicts", "Flash", "--json").output)
    assert [(c["sku"], c["current_price"]) for c in conflicts] == [("MC-L", "44.00")]
    assert run("events", "resolve", "Flash").exit_code == 2
    resolved = run("events", "resolve", "Flash", "--restore-regular", "MC-L")
    assert resolved.exit_code == 0 and "Restored the regular price of 1 variant" in resolved.output
    assert {p for p, _ in prices(db).values()} == {Decimal("59.99")}
    assert "left as it is" in run("events", "settings").output
    assert "the regular price" in run("events", "settings", "--compare-at-regular").output
    missing = run("events", "cancel", "Nope")
    assert missing.exit_code == 1 and missing.stderr.strip() == "backoffice: error: no price event 'Nope'"


def test_the_events_area_over_the_store_api(api, db: Database, store: SmallStore) -> None:  # type: ignore[no-untyped-def]
    from backoffice.remote.session import sign_in

    merchandiser = sign_in(api.base_url, "merchandiser", PASSWORD)
    warehouse = sign_in(api.base_url, "warehouse", PASSWORD)
    try:
        now = dt.datetime.now(UTC)
        plan = draft(store, start=now - dt.timedelta(minutes=1))
        preview = merchandiser.events.preview(plan)
        assert preview.considered == 3 and preview.sample[0][2] == Decimal("47.99")
        info = merchandiser.events.plan(plan, op_id="plan-flash-1")
        assert merchandiser.events.plan(plan, op_id="plan-flash-1").id == info.id      # a retry plans once
        assert [e.name for e in warehouse.events.list()] == ["Flash"]
        with pytest.raises(PermissionDenied):
            warehouse.events.cancel("Flash")
        assert merchandiser.events.save_settings(EventSettings(compare_at_regular=True)).compare_at_regular
        result = merchandiser.events.run_due()
        assert result.started == ["Flash"]
        assert {c for _, c in prices(db).values()} == {Decimal("59.99")}   # compare-at: the regular price
        assert {p for p, _ in prices(db).values()} == {Decimal("47.99")}
        assert merchandiser.events.get("Flash").state == "active"
    finally:
        merchandiser.close()
        warehouse.close()


def test_run_due_is_refused_while_another_run_holds_the_job_lease(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    from backoffice.operations.local import LocalOperations
    from backoffice.operations.schedule import JobBusy
    from backoffice.services import job_runs

    ops = LocalOperations(db, actor, owns_database=False)
    ops.events.plan(draft(store, start=price_event_runs.database_now(db) - dt.timedelta(minutes=1)))
    held = job_runs.claim(db, "events-run-due", None)
    with pytest.raises(JobBusy, match="`events run-due` is already running"):
        ops.events.run_due()
    assert price_events.get_event(db, "Flash").state == "planned"      # the refused run did nothing
    job_runs.finish(db, held, "ok", "")
    assert ops.events.run_due().started == ["Flash"]
    assert [r.status for r in ops.schedule.runs("events-run-due")] == ["ok", "skipped", "ok"]   # newest first
    plan = {j.key: j for j in ops.schedule.jobs()}["events-run-due"]
    assert plan.wanted and plan.reason == "1 price event(s) planned or under way"
