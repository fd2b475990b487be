"""Price events and flash sales: a price rule on a set of variants from a start to an end.

Planning (:func:`plan_event`) freezes the variants the target names (a selection, or every variant a
grid filter matches, as the bulk editor means them) and refuses an event that would overlap, on any of
its variants, another planned or active event (naming that event and some SKUs). :func:`run_due` then
drives each event through its transitions, each one **claimed** in the database with an ``UPDATE …
WHERE state = …`` that must touch its row, in the same transaction as the changeset it writes: two
runners at once (the OS scheduler and a desktop, two machines) never both apply or revert a price.

- **start** (planned → active): each variant's price becomes the rule's result of its price at that
  moment (the bulk price steps: ``compute_money``); with the store setting "compare-at at the regular
  price during events" the compare-at price becomes the regular price. One changeset; the regular and
  event prices are recorded per variant. A variant that cannot take its event price then (no price, a
  compare-at price that would end up below it) is skipped and says why; the others go on.
- **limit** (per variant, active → limit_reached): the units sold of the variant since the start (order
  lines of orders placed since, less their cancelled units) reaching the event's limit restore its
  regular price at the next run.
- **end** (active → ended, or cancelled while active): the variants still at their event price go back
  to their regular (and compare-at) price as one changeset. A variant whose price (or compare-at price)
  someone edited during the event keeps that edit: it becomes a *conflict* (event price, price found,
  regular price) that the user resolves later (:func:`resolve`: keep the edit, or restore the regular
  price), never silently overwritten.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Order, OrderLine, Product, StoreSetting, Variant, utcnow
from backoffice.models.price_events import PriceEvent, PriceEventVariant
from backoffice.services.base import (
    Actor,
    NotFound,
    ServiceError,
    ValidationError,
    audit,
    chunked_in,
    claim_operation,
    store_operation_result,
)
from backoffice.services.bulk import BulkOperation, PriceStep, Target, compute_money
from backoffice.services.catalog_grid import VariantFilter, apply_filter
from backoffice.services.changesets import RowChange, apply_in_session
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
        return _settings(session)


def _settings(session: Session) -> EventSettings:
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
def _steps(steps: Any) -> tuple[PriceStep, ...]:
    return tuple(s if isinstance(s, PriceStep) else PriceStep(s["op"], Decimal(str(s["value"]))) for s in steps)


def _check_draft(draft: EventDraft, now: dt.datetime) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    name = draft.name.strip()
    if not name:
        problems.append(("event", "name", "must not be empty"))
    elif len(name) > 200:
        problems.append(("event", "name", "is longer than 200 characters"))
    steps = _steps(draft.steps)
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
    steps = _steps(draft.steps)
    compare_regular = _settings(session).compare_at_regular
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
    return EventDraft(draft.name.strip(), _target(draft.target), _steps(draft.steps), draft.starts_at, draft.ends_at,
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
    steps = _steps(draft.steps)

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
    return EventInfo(event.id, event.name, event.rule_text, list(_steps(event.rule.get("steps", []))),
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


def _find(session: Session, ref: str | int, *, lock: bool = False) -> PriceEvent:
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
        return _infos(session, [_find(session, ref)])[0]


def event_variants(db: Database, ref: str | int, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The event's variants: SKU, state, regular and event price, sold, note (first ``limit``)."""
    with db.read() as session:
        event = _find(session, ref)
        rows = session.execute(select(PriceEventVariant).where(PriceEventVariant.event_id == event.id)
                               .order_by(PriceEventVariant.sku).limit(max(1, min(limit, 100_000)))).scalars()
        return [{"variant_id": r.variant_id, "sku": r.sku, "state": r.state, "regular_price": r.regular_price,
                 "event_price": r.event_price, "current_price": r.current_price, "sold": r.sold, "note": r.note}
                for r in rows]


def conflicts(db: Database, ref: str | int) -> list[EventConflict]:
    """The event's variants edited during it (left as edited), by SKU."""
    with db.read() as session:
        event = _find(session, ref)
        rows = session.execute(select(PriceEventVariant).where(PriceEventVariant.event_id == event.id,
                                                               PriceEventVariant.state == "conflict")
                               .order_by(PriceEventVariant.sku)).scalars()
        return [EventConflict(r.variant_id, r.sku, r.event_price, r.current_price, r.regular_price) for r in rows]


# -- transitions ------------------------------------------------------------------------------------------
def _claim_event(session: Session, event_id: int, from_states: tuple[str, ...], to_state: str,
                 **values: Any) -> bool:
    """The transition's claim: the event moves from one of ``from_states`` to ``to_state`` in this
    transaction only if no one moved it first (a concurrent runner waits on the row, then finds 0 rows)."""
    result = session.execute(update(PriceEvent)
                             .where(PriceEvent.id == event_id, PriceEvent.state.in_(from_states))
                             .values(state=to_state, version=PriceEvent.version + 1, updated_at=utcnow(), **values))
    return result.rowcount == 1  # type: ignore[attr-defined]


_PEV = PriceEventVariant.__table__
_SET_VARIANT = (_PEV.update().where(_PEV.c.id == bindparam("_id"))
                .values(state=bindparam("_state"), regular_price=bindparam("_regular", type_=_PEV.c.regular_price.type),
                        event_price=bindparam("_event", type_=_PEV.c.event_price.type),
                        regular_compare_at=bindparam("_regular_compare", type_=_PEV.c.regular_compare_at.type),
                        event_compare_at=bindparam("_event_compare", type_=_PEV.c.event_compare_at.type),
                        note=bindparam("_note")))
_END_VARIANT = (_PEV.update().where(_PEV.c.id == bindparam("_id"))
                .values(state=bindparam("_state"), current_price=bindparam("_current", type_=_PEV.c.current_price.type),
                        end_changeset_id=bindparam("_changeset")))


def _locked_variants(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for cond in chunked_in(session, Variant.id, ids):
        for vid, version, sku, price, compare_at, cost in session.execute(
                select(Variant.id, Variant.version, Variant.sku, Variant.price, Variant.compare_at_price, Variant.cost)
                .where(cond).order_by(Variant.id).with_for_update()):
            out[vid] = {"version": version, "sku": sku, "price": price, "compare_at_price": compare_at, "cost": cost}
    return out


def _start(session: Session, actor: Actor, event_id: int, now: dt.datetime, result: RunDueResult) -> None:
    if not _claim_event(session, event_id, ("planned",), "active", started_at=now):
        return
    event = session.get(PriceEvent, event_id)
    assert event is not None
    steps = _steps(event.rule.get("steps", []))
    compare_regular = _settings(session).compare_at_regular
    pevs = list(session.execute(select(PriceEventVariant.id, PriceEventVariant.variant_id)
                                .where(PriceEventVariant.event_id == event_id, PriceEventVariant.state == "planned")
                                .order_by(PriceEventVariant.variant_id)))
    current = _locked_variants(session, [vid for _, vid in pevs])
    changes: list[RowChange] = []
    updates: list[dict[str, Any]] = []
    for pev_id, vid in pevs:
        cur = current.get(vid)
        row = {"_id": pev_id, "_state": "active", "_regular": None, "_event": None, "_regular_compare": None,
               "_event_compare": None, "_note": ""}
        if cur is None:
            row.update(_state="skipped", _note="the variant no longer exists")
            updates.append(row)
            continue
        price, compare_at = cur["price"], cur["compare_at_price"]
        try:
            new, new_compare = event_prices(price, compare_at, cur["cost"], steps, compare_regular)
        except ValueError as exc:
            row.update(_state="skipped", _note=str(exc)[:300])
            updates.append(row)
            result.skipped += 1
            continue
        row.update(_regular=price, _event=new, _regular_compare=compare_at, _event_compare=new_compare)
        updates.append(row)
        values = {k: v for k, v, old in (("price", new, price), ("compare_at_price", new_compare, compare_at))
                  if v != old}
        if values:
            changes.append(RowChange("variant", vid, cur["version"], values,
                                     {"price": price, "compare_at_price": compare_at}))
    changeset_id = None
    if changes:
        applied = apply_in_session(session, actor, changes, description=f"Price event “{event.name}” starts: "
                                   f"{event.rule_text}"[:500], kind="event", locked_variants=current)
        changeset_id = applied.changeset_id
        if changeset_id is not None:
            result.changesets.append(changeset_id)
    if updates:
        session.execute(_SET_VARIANT, updates)
    session.execute(update(PriceEvent).where(PriceEvent.id == event_id).values(start_changeset_id=changeset_id))
    audit(session, actor, "price_event", event_id, "start", {"state": "planned"},
          {"state": "active", "changeset": changeset_id, "variants": len(changes)})
    result.started.append(event.name)


def _restore(session: Session, actor: Actor, event: PriceEvent, pev_ids: list[int], description: str,
             result: RunDueResult, final_state: str = "restored") -> int | None:
    """Put the claimed variants back at their regular (and compare-at) price, those still at their event
    price; the others (edited meanwhile) become conflicts. One changeset; its id (None: nothing to write)."""
    rows = []
    for cond in chunked_in(session, PriceEventVariant.id, pev_ids):
        rows.extend(session.execute(select(PriceEventVariant.id, PriceEventVariant.variant_id,
                                           PriceEventVariant.regular_price, PriceEventVariant.event_price,
                                           PriceEventVariant.regular_compare_at, PriceEventVariant.event_compare_at)
                                    .where(cond)))
    rows.sort(key=lambda r: r[1])
    current = _locked_variants(session, [r[1] for r in rows])
    changes: list[RowChange] = []
    states: list[dict[str, Any]] = []
    for pev_id, vid, regular, event_price, regular_compare, event_compare in rows:
        cur = current.get(vid)
        if cur is None:
            states.append({"_id": pev_id, "_state": final_state, "_current": None})
            continue
        if cur["price"] != event_price or cur["compare_at_price"] != event_compare:
            states.append({"_id": pev_id, "_state": "conflict", "_current": cur["price"]})
            result.conflicts += 1
            continue
        values = {k: v for k, v, now in (("price", regular, cur["price"]),
                                         ("compare_at_price", regular_compare, cur["compare_at_price"])) if v != now}
        if values:
            changes.append(RowChange("variant", vid, cur["version"], values,
                                     {"price": cur["price"], "compare_at_price": cur["compare_at_price"]}))
        states.append({"_id": pev_id, "_state": final_state, "_current": None})
        result.restored += 1
    changeset_id = None
    if changes:
        applied = apply_in_session(session, actor, changes, description=description[:500], kind="event",
                                   locked_variants=current)
        changeset_id = applied.changeset_id
        if changeset_id is not None:
            result.changesets.append(changeset_id)
    for s in states:
        s["_changeset"] = changeset_id
    if states:
        session.execute(_END_VARIANT, states)
    return changeset_id


def _end(session: Session, actor: Actor, event_id: int, now: dt.datetime, result: RunDueResult, *,
         to_state: str = "ended") -> bool:
    if not _claim_event(session, event_id, ("active",), to_state, ended_at=now):
        return False
    event = session.get(PriceEvent, event_id)
    assert event is not None
    # Locked: a limit being reached at this moment (another runner) is waited for, and its variants then
    # no longer read as active here (PostgreSQL re-checks the condition once the lock is released).
    pev_ids = list(session.scalars(select(PriceEventVariant.id).where(PriceEventVariant.event_id == event_id,
                                                                      PriceEventVariant.state == "active")
                                   .order_by(PriceEventVariant.id).with_for_update()))
    verb = "ends" if to_state == "ended" else "is cancelled"
    changeset_id = _restore(session, actor, event, pev_ids, f"Price event “{event.name}” {verb}: regular prices "
                            "restored", result)
    session.execute(update(PriceEvent).where(PriceEvent.id == event_id).values(end_changeset_id=changeset_id))
    audit(session, actor, "price_event", event_id, "end" if to_state == "ended" else "cancel", {"state": "active"},
          {"state": to_state, "changeset": changeset_id})
    result.ended.append(event.name)
    return True


def _sold_since(session: Session, variant_ids: list[int], since: dt.datetime) -> dict[int, int]:
    sold: dict[int, int] = {}
    for cond in chunked_in(session, OrderLine.variant_id, variant_ids):
        for vid, units in session.execute(
                select(OrderLine.variant_id, func.sum(OrderLine.quantity - OrderLine.cancelled))
                .join(Order, Order.id == OrderLine.order_id)
                .where(cond, Order.ordered_at >= since).group_by(OrderLine.variant_id)):
            sold[vid] = int(units or 0)
    return sold


def _limits(session: Session, actor: Actor, event_id: int, result: RunDueResult) -> None:
    event = session.get(PriceEvent, event_id)
    if event is None or event.state != "active" or event.started_at is None:
        return
    pevs = list(session.execute(select(PriceEventVariant.id, PriceEventVariant.variant_id, PriceEventVariant.sold)
                                .where(PriceEventVariant.event_id == event_id, PriceEventVariant.state == "active")
                                .order_by(PriceEventVariant.id)))      # rows locked in id order, as by _end
    if not pevs:
        return
    sold = _sold_since(session, [vid for _, vid, _ in pevs], event.started_at)
    moved = [{"_id": pev_id, "_sold": sold.get(vid, 0)} for pev_id, vid, before in pevs if sold.get(vid, 0) != before]
    if moved:
        session.execute(_PEV.update().where(_PEV.c.id == bindparam("_id")).values(sold=bindparam("_sold")), moved)
    if event.quantity_limit is None:
        return
    claimed = []
    for pev_id, vid, _ in pevs:
        if sold.get(vid, 0) >= event.quantity_limit:
            done = session.execute(update(PriceEventVariant).where(PriceEventVariant.id == pev_id,
                                                                   PriceEventVariant.state == "active")
                                   .values(state="limit_reached"))
            if done.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(pev_id)
    if claimed:
        before = result.restored
        _restore(session, actor, event, claimed, f"Price event “{event.name}”: limit of {event.quantity_limit:,} "
                 f"units reached for {count_text(len(claimed), 'variant', 'variants')}", result, "limit_reached")
        result.limit_reached += result.restored - before
        result.restored = before


def database_now(db: Database) -> dt.datetime:
    """The database's clock on PostgreSQL (one clock for every machine), this machine's on SQLite."""
    if db.is_sqlite:
        return utcnow()
    with db.read() as session:
        return session.execute(select(func.clock_timestamp())).scalar_one()


def run_due(db: Database, actor: Actor, *, now: dt.datetime | None = None) -> RunDueResult:
    """Every transition that is due at ``now``: events to start, variants at their limit, events to
    end. Each in its own transaction, claimed there: running it again, or in two processes at once,
    changes nothing more."""
    now = now or database_now(db)
    result = RunDueResult()
    with db.read() as session:
        to_start = list(session.execute(select(PriceEvent.id, PriceEvent.ends_at)
                                        .where(PriceEvent.state == "planned", PriceEvent.starts_at <= now)
                                        .order_by(PriceEvent.starts_at, PriceEvent.id)))
    for event_id, ends_at in to_start:
        if ends_at <= now:    # its whole time passed before any run: nothing to apply
            _transition(db, result, _miss, actor, event_id, now)
        else:
            _transition(db, result, _start, actor, event_id, now)
    with db.read() as session:
        active = list(session.execute(select(PriceEvent.id, PriceEvent.ends_at).where(PriceEvent.state == "active")
                                      .order_by(PriceEvent.ends_at, PriceEvent.id)))
    for event_id, ends_at in active:
        if ends_at <= now:
            _transition(db, result, _end, actor, event_id, now)
        else:
            _transition(db, result, _limits, actor, event_id)
    return result


def _transition(db: Database, result: RunDueResult, step: Any, *args: Any) -> None:
    """One transition in its own write transaction; what it did is counted in only once it committed (a
    retried transaction starts its count afresh)."""
    def work(session: Session) -> RunDueResult:
        part = RunDueResult()
        step(session, *args, part)
        return part

    result.add(db.run_write(work))


def _miss(session: Session, actor: Actor, event_id: int, now: dt.datetime, result: RunDueResult) -> None:
    if not _claim_event(session, event_id, ("planned",), "ended", ended_at=now,
                        note="its end passed before any run of `events run-due` could start it"):
        return
    session.execute(update(PriceEventVariant).where(PriceEventVariant.event_id == event_id)
                    .values(state="cancelled"))
    name = session.scalar(select(PriceEvent.name).where(PriceEvent.id == event_id))
    audit(session, actor, "price_event", event_id, "missed", {"state": "planned"}, {"state": "ended"})
    result.missed.append(str(name))


# -- the user's writes -------------------------------------------------------------------------------------
def cancel_event(db: Database, actor: Actor, ref: str | int, *, operation_id: str | None = None,
                 now: dt.datetime | None = None) -> tuple[EventInfo, RunDueResult]:
    """Cancel an event: a planned one never starts; an active one ends now (its regular prices restored,
    edits made meanwhile left as conflicts). An ended or cancelled one cannot be cancelled."""
    def cancel(session: Session) -> tuple[int, RunDueResult]:
        result = RunDueResult()       # afresh at each attempt (a retried transaction)
        event = _find(session, ref)
        if claim_operation(session, operation_id, "events.cancel", actor) is not None:
            return event.id, result
        if event.state in ("ended", "cancelled"):
            raise ServiceError(f"price event “{event.name}” has already {'ended' if event.state == 'ended' else 'been cancelled'}")
        moment = now or (utcnow() if session.get_bind().dialect.name == "sqlite"
                         else session.execute(select(func.clock_timestamp())).scalar_one())
        if _claim_event(session, event.id, ("planned",), "cancelled", ended_at=moment):
            session.execute(update(PriceEventVariant).where(PriceEventVariant.event_id == event.id)
                            .values(state="cancelled"))
            audit(session, actor, "price_event", event.id, "cancel", {"state": "planned"}, {"state": "cancelled"},
                  operation_id)
        elif not _end(session, actor, event.id, moment, result, to_state="cancelled"):
            raise ServiceError(f"price event “{event.name}” changed meanwhile; look again")
        store_operation_result(session, operation_id, {"id": event.id})
        return event.id, result

    event_id, result = db.run_write(cancel)
    return get_event(db, event_id), result


def resolve(db: Database, actor: Actor, ref: str | int, *, keep_current: bool, skus: list[str] | None = None,
            operation_id: str | None = None) -> ResolveResult:
    """Resolve the event's conflicts (all, or those of ``skus``): keep the price found, or restore the
    regular price (version-checked against the variant as it is now; a variant whose price moved again
    since the conflict was recorded is refused, naming it)."""
    wanted = {s.strip() for s in skus or [] if s.strip()}

    def settle(session: Session) -> ResolveResult:
        event = _find(session, ref, lock=True)
        previous = claim_operation(session, operation_id, "events.resolve", actor)
        if previous is not None:
            return ResolveResult(int(previous.get("restored", 0)), int(previous.get("kept", 0)), previous.get("changeset"))
        rows = list(session.execute(select(PriceEventVariant.id, PriceEventVariant.variant_id, PriceEventVariant.sku,
                                           PriceEventVariant.regular_price, PriceEventVariant.regular_compare_at,
                                           PriceEventVariant.current_price)
                                    .where(PriceEventVariant.event_id == event.id, PriceEventVariant.state == "conflict")
                                    .order_by(PriceEventVariant.variant_id)))
        if wanted:
            unknown = sorted(wanted - {r[2] for r in rows})
            if unknown:
                raise ValidationError([(f"SKU {s}", "", f"is not a conflict of price event “{event.name}”")
                                       for s in unknown])
            rows = [r for r in rows if r[2] in wanted]
        if not rows:
            raise ValidationError([("event", "conflicts", f"price event “{event.name}” has no conflict to resolve")])
        changeset_id = None
        if keep_current:
            session.execute(update(PriceEventVariant).where(PriceEventVariant.id.in_([r[0] for r in rows]))
                            .values(state="kept"))
        else:
            current = _locked_variants(session, [r[1] for r in rows])
            problems = []
            changes = []
            for _pev_id, vid, sku, regular, regular_compare, found in rows:
                cur = current.get(vid)
                if cur is None:
                    continue
                if cur["price"] != found:
                    problems.append((f"SKU {sku}", "price", f"is {money_text(cur['price'])} now, not the "
                                                            f"{money_text(found)} of the conflict; look again"))
                    continue
                values = {k: v for k, v, now in (("price", regular, cur["price"]),
                                                 ("compare_at_price", regular_compare, cur["compare_at_price"]))
                          if v != now}
                if values:
                    changes.append(RowChange("variant", vid, cur["version"], values,
                                             {"price": cur["price"], "compare_at_price": cur["compare_at_price"]}))
            if problems:
                raise ValidationError(problems)
            if changes:
                applied = apply_in_session(session, actor, changes, kind="event", locked_variants=current,
                                           description=f"Price event “{event.name}”: regular prices restored "
                                                       f"after conflicts"[:500])
                changeset_id = applied.changeset_id
            session.execute(_END_VARIANT, [{"_id": r[0], "_state": "restored", "_current": r[5],
                                            "_changeset": changeset_id} for r in rows])
        done = ResolveResult(0 if keep_current else len(rows), len(rows) if keep_current else 0, changeset_id)
        audit(session, actor, "price_event", event.id, "resolve", None,
              {"keep_current": keep_current, "skus": [r[2] for r in rows][:200], "changeset": changeset_id},
              operation_id)
        store_operation_result(session, operation_id, {"restored": done.restored, "kept": done.kept,
                                                       "changeset": changeset_id})
        return done

    return db.run_write(settle)


__all__ = ["Clash", "EventConflict", "EventDraft", "EventInfo", "EventPreview", "EventSettings",
           "ResolveResult", "RunDueResult", "cancel_event", "conflicts", "event_prices", "event_variants",
           "get_event", "get_settings", "list_events", "local_time", "plan_event", "preview_event", "resolve",
           "rule_text", "run_due", "save_settings", "zone_of"]
