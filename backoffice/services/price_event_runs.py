"""Price events' transitions, each **claimed** in the database with an ``UPDATE … WHERE state = …`` that
must touch its row, in the same transaction as the changeset it writes: two runners at once (the OS
scheduler and a desktop, two machines) never both apply or revert a price.

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
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Order, OrderLine, Variant, utcnow
from backoffice.models.price_events import PriceEvent, PriceEventVariant
from backoffice.services.base import (
    Actor,
    ServiceError,
    ValidationError,
    audit,
    chunked_in,
    claim_operation,
    store_operation_result,
)
from backoffice.services.changesets import RowChange, apply_in_session
from backoffice.services.price_events import (
    EventInfo,
    ResolveResult,
    RunDueResult,
    event_prices,
    find_event,
    get_event,
    settings_in,
    steps_of,
)
from backoffice.services.wording import count_text, money_text


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
    steps = steps_of(event.rule.get("steps", []))
    compare_regular = settings_in(session).compare_at_regular
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
        event = find_event(session, ref)
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
        event = find_event(session, ref, lock=True)
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


__all__ = ["cancel_event", "database_now", "resolve", "run_due"]
