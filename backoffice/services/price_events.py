"""Price events and flash sales: a price rule on a set of variants from a start to an end.

Planning (:func:`plan_event`) freezes the variants the target names (a selection, or every variant a
grid filter matches, as the bulk editor means them) and refuses an event that would overlap, on any of
its variants, another planned or active event (naming that event and some SKUs). This module holds the
values, the setting, planning and reading; :mod:`backoffice.services.price_event_runs` moves events
through their transitions (start, per-variant limit, end, cancel) and resolves conflicts.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Product, StoreSetting, Variant, utcnow
from backoffice.models.price_events import PriceEvent, PriceEventVariant
from backoffice.services.base import (
    Actor,
    NotFound,
    ValidationError,
    audit,
    chunked_in,
    claim_operation,
    store_operation_result,
)
from backoffice.services.bulk import BulkOperation, PriceStep, Target, compute_money
from backoffice.services.catalog_grid import VariantFilter, apply_filter
from backoffice.services.price_rules import compare_at_below_price
from backoffice.services.wording import count_text, money_text

SETTINGS_KEY = "price_events"
OPEN_STATES = ("planned", "active")
SAMPLE = 50
PLAN_LOCK = 702_100          # PostgreSQL advisory lock: one event planned at a time (the overlap check)
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


# -- values ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventDraft:
    """An event as the user plans it. ``starts_at``/``ends_at`` aware datetimes; ``time_zone`` the zone
    they were written in (an IANA name such as ``Europe/Paris``, or an offset ``+01:00``), for display."""

    name: str
    target: Target
    steps: tuple[PriceStep, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime
    time_zone: str = "UTC"
    quantity_limit: int | None = None


@dataclass(frozen=True)
class Clash:
    """Another planned or active event that shares variants with a draft over an overlapping time."""

    event: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    variants: int
    skus: list[str]

    def text(self) -> str:
        more = f" and {self.variants - len(self.skus):,} more" if self.variants > len(self.skus) else ""
        return (f"{count_text(self.variants, 'variant is', 'variants are')} already in event “{self.event}” "
                f"({self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M} UTC): "
                f"SKU {', '.join(self.skus)}{more}")


@dataclass(frozen=True)
class EventPreview:
    """What a draft would do if it started now: its variants, a sample of price before → after (SKU,
    price, event price, compare-at during the event), the rows that cannot take it, the clashes with
    other events, and the rows it would price below their cost (allowed)."""

    considered: int
    changing: int
    sample: list[tuple[str, Decimal | None, Decimal | None, Decimal | None]]
    invalid: list[tuple[str, str, str]]
    clashes: list[Clash]
    below_cost: int
    compare_at_regular: bool

    @property
    def can_save(self) -> bool:
        return self.considered > 0 and not self.invalid and not self.clashes


@dataclass(frozen=True)
class EventInfo:
    id: int
    name: str
    rule_text: str
    steps: list[PriceStep]
    target: dict[str, Any]
    starts_at: dt.datetime
    ends_at: dt.datetime
    time_zone: str
    quantity_limit: int | None
    state: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    start_changeset_id: int | None
    end_changeset_id: int | None
    variants: int
    variant_states: dict[str, int]
    sold: int
    created_by: str
    note: str
    version: int

    @property
    def conflicts(self) -> int:
        return self.variant_states.get("conflict", 0)


@dataclass(frozen=True)
class EventConflict:
    """A variant edited during an event: the event left the edit as it is."""

    variant_id: int
    sku: str
    event_price: Decimal | None
    current_price: Decimal | None
    regular_price: Decimal | None


@dataclass
class RunDueResult:
    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)        # ended before any run could start them
    limit_reached: int = 0                                 # variants back at their price by their limit
    restored: int = 0                                      # variants back at their regular price
    conflicts: int = 0                                     # variants edited during an event, left as edited
    skipped: int = 0                                       # variants that could not take the event price
    changesets: list[int] = field(default_factory=list)

    def add(self, other: RunDueResult) -> None:
        """Count in what one committed transition did."""
        for name in ("started", "ended", "missed", "changesets"):
            getattr(self, name).extend(getattr(other, name))
        for name in ("limit_reached", "restored", "conflicts", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def changed(self) -> bool:
        return bool(self.changesets or self.started or self.ended or self.missed or self.conflicts)

    def summary(self) -> str:
        parts = [f"{len(self.started)} started", f"{len(self.ended)} ended"]
        if self.missed:
            parts.append(f"{len(self.missed)} missed")
        parts.append(f"{self.limit_reached} variants at their limit")
        parts.append(f"{self.restored} restored, {self.conflicts} conflicts")
        return "price events: " + ", ".join(parts)


@dataclass(frozen=True)
class ResolveResult:
    restored: int
    kept: int
    changeset_id: int | None


@dataclass(frozen=True)
class EventSettings:
    compare_at_regular: bool = False       # compare-at price = the regular price while an event runs


# -- time zones -------------------------------------------------------------------------------------------
def zone_of(name: str) -> dt.tzinfo:
    """The zone an event was planned in: an IANA name (``Europe/Paris``), ``UTC`` or an offset
    (``+01:00``); ValueError otherwise."""
    name = (name or "UTC").strip()
    m = _OFFSET.match(name)
    if m:
        sign, hours, minutes = m.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        if delta >= dt.timedelta(hours=24):
            raise ValueError(f"{name!r} is not a UTC offset")
        return dt.timezone(-delta if sign == "-" else delta)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a time zone (write Europe/Paris, UTC or +01:00)") from exc


def local_time(moment: dt.datetime | None, zone: str) -> str:
    """``2026-12-05 09:00 Europe/Paris``: the moment as the planner wrote it."""
    if moment is None:
        return "—"
    try:
        tz = zone_of(zone)
    except ValueError:
        tz, zone = dt.timezone.utc, "UTC"
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M} {zone}"


# -- settings -------------------------------------------------------------------------------------------
def get_settings(db: Database) -> EventSettings:
    with db.read() as session:
        return settings_in(session)


def settings_in(session: Session) -> EventSettings:
    row = session.scalar(select(StoreSetting).where(StoreSetting.key == SETTINGS_KEY))
    return EventSettings(bool((row.value or {}).get("compare_at_regular"))) if row else EventSettings()


def save_settings(db: Database, actor: Actor, settings: EventSettings, *,
                  operation_id: str | None = None) -> EventSettings:
    def save(session: Session) -> EventSettings:
        previous = claim_operation(session, operation_id, "events.save_settings", actor)
        if previous is not None:
            return EventSettings(bool(previous.get("compare_at_regular")))
        row = session.scalar(select(StoreSetting).where(StoreSetting.key == SETTINGS_KEY))
        value = {"compare_at_regular": bool(settings.compare_at_regular)}
        before = dict(row.value) if row else None
        if row is None:
            session.add(StoreSetting(key=SETTINGS_KEY, value=value))
        else:
            row.value = value
        session.flush()
        audit(session, actor, "setting", SETTINGS_KEY, "update", before, value, operation_id)
        store_operation_result(session, operation_id, value)
        return EventSettings(value["compare_at_regular"])

    return db.run_write(save)


# -- prices -------------------------------------------------------------------------------------------
def rule_text(steps: tuple[PriceStep, ...] | list[PriceStep]) -> str:
    return BulkOperation("money", "price", steps=tuple(steps)).describe()


def event_prices(price: Decimal | None, compare_at: Decimal | None, cost: Decimal | None,
                 steps: tuple[PriceStep, ...], compare_at_regular: bool) -> tuple[Decimal, Decimal | None]:
    """(event price, compare-at during the event) of a variant at ``price``; ValueError saying why it
    cannot take the event."""
    if price is None:
        raise ValueError("has no price")
    new = compute_money(price, steps, cost)
    if new is None or new < 0:
        raise ValueError(f"would be priced {money_text(new)}, below zero")
    new_compare = price if compare_at_regular and new < price else compare_at
    if compare_at_below_price(new, new_compare):
        raise ValueError(f"compare-at {money_text(new_compare)} would be below the event price {money_text(new)}")
    return new, new_compare


# -- planning ---------------------------------------------------------------------------------------------
def steps_of(steps: Any) -> tuple[PriceStep, ...]:
    return tuple(s if isinstance(s, PriceStep) else PriceStep(s["op"], Decimal(str(s["value"]))) for s in steps)


def _check_draft(draft: EventDraft, now: dt.datetime) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    name = draft.name.strip()
    if not name:
        problems.append(("event", "name", "must not be empty"))
    elif len(name) > 200:
        problems.append(("event", "name", "is longer than 200 characters"))
    steps = steps_of(draft.steps)
    if not steps:
        problems.append(("event", "rule", "at least one step is needed"))
    problems.extend(("event", "rule", f"unknown step {s.op!r}") for s in steps if s.op not in PriceStep.OPS)
    for label, moment in (("start", draft.starts_at), ("end", draft.ends_at)):
        if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
            problems.append(("event", label, "needs a date, a time and a time zone"))
    if not problems and draft.ends_at <= draft.starts_at:
        problems.append(("event", "end", f"{draft.ends_at:%Y-%m-%d %H:%M} is not after the start "
                                         f"{draft.starts_at:%Y-%m-%d %H:%M}"))
    elif not problems and draft.ends_at <= now:
        problems.append(("event", "end", f"{draft.ends_at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC has "
                                         "already passed"))
    if draft.quantity_limit is not None and (not isinstance(draft.quantity_limit, int) or draft.quantity_limit < 1):
        problems.append(("event", "limit", f"{draft.quantity_limit!r} is not a number of units of 1 or more"))
    try:
        zone_of(draft.time_zone)
    except ValueError as exc:
        problems.append(("event", "time zone", str(exc)))
    return problems


def _variant_ids(session: Session, target: Target) -> list[int]:
    """The variants a target names, as the bulk editor means them: the selection, or every variant its
    grid filter matches."""
    if target.variant_ids:
        return sorted(set(target.variant_ids))
    stmt = apply_filter(select(Variant.id).join(Product, Product.id == Variant.product_id), target.filter or VariantFilter())
    return list(session.scalars(stmt.order_by(Variant.id)))


def _target(target: Target | dict[str, Any]) -> Target:
    if isinstance(target, Target):
        return target
    flt = target.get("filter")
    return Target(tuple(int(i) for i in target.get("variant_ids") or ()),
                  VariantFilter.from_dict(flt) if isinstance(flt, dict) else flt)


def _target_doc(target: Target) -> dict[str, Any]:
    if target.variant_ids:
        return {"variant_ids": sorted(set(target.variant_ids))}
    return {"filter": (target.filter or VariantFilter()).to_dict()}


def _clashes(session: Session, ids: list[int], starts: dt.datetime, ends: dt.datetime,
             exclude: int | None = None) -> list[Clash]:
    found: dict[int, list[Any]] = {}
    skus: dict[int, list[str]] = defaultdict(list)
    counts: Counter[int] = Counter()
    for cond in chunked_in(session, PriceEventVariant.variant_id, ids):
        stmt = (select(PriceEvent.id, PriceEvent.name, PriceEvent.starts_at, PriceEvent.ends_at, PriceEventVariant.sku)
                .join(PriceEventVariant, PriceEventVariant.event_id == PriceEvent.id)
                .where(cond, PriceEvent.state.in_(OPEN_STATES), PriceEventVariant.state.in_(OPEN_STATES),
                       PriceEvent.starts_at < ends, PriceEvent.ends_at > starts)
                .order_by(PriceEvent.id, PriceEventVariant.sku))
        for eid, name, s, e, sku in session.execute(stmt):
            if eid == exclude:
                continue
            found[eid] = [name, s, e]
            counts[eid] += 1
            if len(skus[eid]) < 5:
                skus[eid].append(sku)
    return [Clash(n, s, e, counts[eid], skus[eid]) for eid, (n, s, e) in sorted(found.items())]


def _preview(session: Session, draft: EventDraft, ids: list[int]) -> EventPreview:
    steps = steps_of(draft.steps)
    compare_regular = settings_in(session).compare_at_regular
    sample: list[tuple[str, Decimal | None, Decimal | None, Decimal | None]] = []
    invalid: list[tuple[str, str, str]] = []
    changing = below_cost = 0
    for cond in chunked_in(session, Variant.id, ids):
        for _vid, sku, price, compare_at, cost in session.execute(
                select(Variant.id, Variant.sku, Variant.price, Variant.compare_at_price, Variant.cost)
                .where(cond).order_by(Variant.id)):
            try:
                new, new_compare = event_prices(price, compare_at, cost, steps, compare_regular)
            except ValueError as exc:
                invalid.append((f"SKU {sku}", "price", str(exc)))
                continue
            if new != price or new_compare != compare_at:
                changing += 1
            if cost is not None and new < cost:
                below_cost += 1
            if len(sample) < SAMPLE:
                sample.append((sku, price, new, new_compare))
    clashes = _clashes(session, ids, draft.starts_at, draft.ends_at)
    return EventPreview(len(ids), changing, sample, invalid, clashes, below_cost, compare_regular)


def preview_event(db: Database, draft: EventDraft, *, now: dt.datetime | None = None) -> EventPreview:
    """What ``draft`` would do to its variants at today's prices; nothing is written. Bad input (a name,
    a rule, times, a limit) is a ValidationError; rows that cannot take it and clashes are reported."""
    draft = _normalised(draft)
    problems = _check_draft(draft, now or utcnow())
    if problems:
        raise ValidationError(problems)
    with db.read() as session:
        if session.scalar(select(PriceEvent.id).where(PriceEvent.name == draft.name)) is not None:
            raise ValidationError([("event", "name", f"“{draft.name}” is already the name of an event")])
        return _preview(session, draft, _variant_ids(session, draft.target))


def _normalised(draft: EventDraft) -> EventDraft:
    return EventDraft(draft.name.strip(), _target(draft.target), steps_of(draft.steps), draft.starts_at, draft.ends_at,
                      (draft.time_zone or "UTC").strip(), draft.quantity_limit)


def plan_event(db: Database, actor: Actor, draft: EventDraft, *, operation_id: str | None = None,
               now: dt.datetime | None = None) -> EventInfo:
    """Save ``draft`` as a planned event with its variants frozen. Refused (ValidationError, nothing
    written) for bad input, a name in use, no variants, rows that cannot take the rule, or another
    planned or active event on some of the same variants over an overlapping time."""
    draft = _normalised(draft)
    problems = _check_draft(draft, now or utcnow())
    if problems:
        raise ValidationError(problems)
    steps = steps_of(draft.steps)

    def save(session: Session) -> int:
        previous = claim_operation(session, operation_id, "events.plan", actor)
        if previous is not None:
            return int(previous["id"])
        if session.get_bind().dialect.name == "postgresql":   # two planners at once: one overlap check at a time
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLAN_LOCK})
        if session.scalar(select(PriceEvent.id).where(PriceEvent.name == draft.name)) is not None:
            raise ValidationError([("event", "name", f"“{draft.name}” is already the name of an event")])
        ids = _variant_ids(session, draft.target)
        if not ids:
            raise ValidationError([("event", "variants", "the filter or selection names no variant")])
        p = _preview(session, draft, ids)
        refused = list(p.invalid[:50]) + [(f"event {c.event}", "variants", c.text()) for c in p.clashes]
        if refused:
            raise ValidationError(refused)
        event = PriceEvent(name=draft.name, rule={"field": "price", "steps": [_step_doc(s) for s in steps]},
                           rule_text=rule_text(steps)[:500], target=_target_doc(draft.target),
                           starts_at=draft.starts_at, ends_at=draft.ends_at, time_zone=draft.time_zone,
                           quantity_limit=draft.quantity_limit, state="planned", created_by=actor.username[:100])
        session.add(event)
        session.flush()
        rows = []
        for cond in chunked_in(session, Variant.id, ids):
            rows.extend({"event_id": event.id, "variant_id": vid, "sku": sku[:100], "state": "planned"}
                        for vid, sku in session.execute(select(Variant.id, Variant.sku).where(cond)))
        for start in range(0, len(rows), 2000):
            session.execute(PriceEventVariant.__table__.insert(), rows[start:start + 2000])
        audit(session, actor, "price_event", event.id, "plan", None,
              {"name": event.name, "rule": event.rule_text, "starts_at": event.starts_at, "ends_at": event.ends_at,
               "time_zone": event.time_zone, "limit": event.quantity_limit, "variants": len(rows)}, operation_id)
        store_operation_result(session, operation_id, {"id": event.id})
        return event.id

    return get_event(db, db.run_write(save))


def _step_doc(step: PriceStep) -> dict[str, str]:
    return {"op": step.op, "value": str(step.value)}


# -- reading ----------------------------------------------------------------------------------------------
def _info(event: PriceEvent, states: dict[str, int], sold: int) -> EventInfo:
    return EventInfo(event.id, event.name, event.rule_text, list(steps_of(event.rule.get("steps", []))),
                     dict(event.target), event.starts_at, event.ends_at, event.time_zone, event.quantity_limit,
                     event.state, event.started_at, event.ended_at, event.start_changeset_id, event.end_changeset_id,
                     sum(states.values()), states, sold, event.created_by, event.note, event.version)


def _infos(session: Session, events: list[PriceEvent]) -> list[EventInfo]:
    if not events:
        return []
    ids = [e.id for e in events]
    states: dict[int, dict[str, int]] = defaultdict(dict)
    sold: Counter[int] = Counter()
    for cond in chunked_in(session, PriceEventVariant.event_id, ids):
        for eid, state, n, units in session.execute(
                select(PriceEventVariant.event_id, PriceEventVariant.state, func.count(), func.sum(PriceEventVariant.sold))
                .where(cond).group_by(PriceEventVariant.event_id, PriceEventVariant.state)):
            states[eid][state] = int(n)
            sold[eid] += int(units or 0)
    return [_info(e, states[e.id], sold[e.id]) for e in events]


def list_events(db: Database, *, states: tuple[str, ...] = (), since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> list[EventInfo]:
    """Events by start, optionally of some states and overlapping [since, until)."""
    query = select(PriceEvent).order_by(PriceEvent.starts_at, PriceEvent.id)
    if states:
        query = query.where(PriceEvent.state.in_(list(states)))
    if since is not None:
        query = query.where(PriceEvent.ends_at > since)
    if until is not None:
        query = query.where(PriceEvent.starts_at < until)
    with db.read() as session:
        return _infos(session, list(session.scalars(query)))


def find_event(session: Session, ref: str | int, *, lock: bool = False) -> PriceEvent:
    query = select(PriceEvent)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()
                                and session.scalar(select(PriceEvent.id).where(PriceEvent.name == ref.strip())) is None):
        query = query.where(PriceEvent.id == int(ref))
    else:
        query = query.where(PriceEvent.name == str(ref).strip())
    event = session.scalar(query.with_for_update() if lock else query)
    if event is None:
        raise NotFound(f"no price event {ref!r}")
    return event


def get_event(db: Database, ref: str | int) -> EventInfo:
    with db.read() as session:
        return _infos(session, [find_event(session, ref)])[0]


def event_variants(db: Database, ref: str | int, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The event's variants: SKU, state, regular and event price, sold, note (first ``limit``)."""
    with db.read() as session:
        event = find_event(session, ref)
        rows = session.execute(select(PriceEventVariant).where(PriceEventVariant.event_id == event.id)
                               .order_by(PriceEventVariant.sku).limit(max(1, min(limit, 100_000)))).scalars()
        return [{"variant_id": r.variant_id, "sku": r.sku, "state": r.state, "regular_price": r.regular_price,
                 "event_price": r.event_price, "current_price": r.current_price, "sold": r.sold, "note": r.note}
                for r in rows]


def conflicts(db: Database, ref: str | int) -> list[EventConflict]:
    """The event's variants edited during it (left as edited), by SKU."""
    with db.read() as session:
        event = find_event(session, ref)
        rows = session.execute(select(PriceEventVariant).where(PriceEventVariant.event_id == event.id,
                                                               PriceEventVariant.state == "conflict")
                               .order_by(PriceEventVariant.sku)).scalars()
        return [EventConflict(r.variant_id, r.sku, r.event_price, r.current_price, r.regular_price) for r in rows]

__all__ = ["Clash", "EventConflict", "EventDraft", "EventInfo", "EventPreview", "EventSettings", "ResolveResult",
           "RunDueResult", "conflicts", "event_prices", "event_variants", "find_event", "get_event", "get_settings",
           "list_events", "local_time", "plan_event", "preview_event", "rule_text", "save_settings", "settings_in",
           "steps_of", "zone_of"]
