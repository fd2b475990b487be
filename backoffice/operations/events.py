"""The events area of the contract: price events and flash sales.

An event is planned from a draft (a name, a selection or a grid filter, the bulk price steps, a start
and an end with their time zone, an optional quantity limit per variant), previewed first (variants,
prices before → after, rows that cannot take it, clashes with other events). :meth:`EventOperations.run_due`
(the OS scheduler's ``events run-due``, and the desktop once a minute) applies each due start, limit and
end exactly once, as changesets. Variants edited during an event are left as edited at its end and
listed by :meth:`EventOperations.conflicts` until :meth:`EventOperations.resolve` settles them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from backoffice.operations.base import Area
from backoffice.operations.changes import CHANGESETS, PRICES, SETTINGS, Changes
from backoffice.services import job_runs
from backoffice.services import price_event_runs as runs
from backoffice.services import price_events as events
from backoffice.services.bulk import PriceStep, Target
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.price_events import (
    Clash,
    EventConflict,
    EventDraft,
    EventInfo,
    EventPreview,
    EventSettings,
    ResolveResult,
    RunDueResult,
    local_time,
    zone_of,
)

__all__ = ["Clash", "EventConflict", "EventDraft", "EventInfo", "EventOperations", "EventPreview", "EventSettings",
           "PriceStep", "ResolveResult", "RunDueResult", "Target", "VariantFilter", "local_time", "zone_of"]

JOB = "events-run-due"


def _changes(result: RunDueResult) -> Changes:
    return Changes.of(PRICES, CHANGESETS) if result.changed else Changes()


class EventOperations(Area):
    # -- reads ---------------------------------------------------------------------------------------------
    def list(self, *, states: list[str] | None = None, since: dt.datetime | None = None,
             until: dt.datetime | None = None) -> list[EventInfo]:
        """Events by start (of ``states``; overlapping [since, until) when given)."""
        return events.list_events(self._db, states=tuple(states or ()), since=since, until=until)

    def get(self, ref: str) -> EventInfo:
        """An event by name (or id)."""
        return events.get_event(self._db, ref)

    def variants(self, ref: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """An event's variants with their state, regular and event price and units sold."""
        return events.event_variants(self._db, ref, limit=limit)

    def conflicts(self, ref: str) -> list[EventConflict]:
        """An event's variants edited during it: left as edited, to resolve."""
        return events.conflicts(self._db, ref)

    def settings(self) -> EventSettings:
        return events.get_settings(self._db)

    def preview(self, draft: EventDraft) -> EventPreview:
        """What ``draft`` would do at today's prices; nothing is written."""
        return events.preview_event(self._db, draft)

    # -- writes -------------------------------------------------------------------------------------------
    def plan(self, draft: EventDraft, *, op_id: str | None = None) -> EventInfo:
        """Save ``draft`` as a planned event (its variants frozen now); refused when it clashes with
        another planned or active event, or some rows cannot take its rule."""
        return self._write(lambda: events.plan_event(self._db, self._actor, draft, operation_id=op_id),
                           Changes.of(PRICES))

    def cancel(self, ref: str, *, op_id: str | None = None) -> EventInfo:
        """Cancel an event: a planned one never starts, an active one ends now."""
        info, result = runs.cancel_event(self._db, self._actor, ref, operation_id=op_id)
        self.changed(Changes.of(PRICES, CHANGESETS) if result.changesets else Changes.of(PRICES))
        return info

    def resolve(self, ref: str, *, keep_current: bool, skus: list[str] | None = None,
                op_id: str | None = None) -> ResolveResult:
        """Settle an event's conflicts (all, or those of ``skus``): keep the edited price or restore the
        regular one."""
        return self._write(lambda: runs.resolve(self._db, self._actor, ref, keep_current=keep_current,
                                                  skus=list(skus or []), operation_id=op_id),
                           lambda r: Changes.of(PRICES, CHANGESETS) if r.changeset_id else Changes.of(PRICES))

    def save_settings(self, settings: EventSettings, *, op_id: str | None = None) -> EventSettings:
        return self._write(lambda: events.save_settings(self._db, self._actor, settings, operation_id=op_id),
                           Changes.of(SETTINGS))

    def run_due(self) -> RunDueResult:
        """Start, limit and end every due event, each transition exactly once. One run at a time: while
        another is under way this one does nothing and raises JobBusy (recorded as skipped)."""
        with job_runs.exclusive(self._db, JOB, self._actor) as job:
            result = runs.run_due(self._db, self._actor)
            job.done(result.summary())
        self.changed(_changes(result))
        return result
