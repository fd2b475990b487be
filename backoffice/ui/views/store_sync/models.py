"""The Store sync view's tables and texts: the sync log, the failed pushes, the location links and a
reconciliation's differences. Plain rows handed in (values of ``ops.connectors``); no queries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.operations.connectors import LocationLinkInfo, OutboxEntryInfo, RunInfo, StockDifference
from backoffice.ui import theme
from backoffice.ui.format import NO_VALUE, format_count, format_percent, plural, translator
from backoffice.ui.widgets.records import Column, RecordsModel
from backoffice.ui.widgets.status_bar import ago

CONTEXT = "StoreSync"
tr = translator(CONTEXT)

# The colours of run and outbox states (pills).
STATE_COLOURS = {"ok": theme.SUCCESS, "partial": theme.WARNING, "failed": theme.DANGER, "running": theme.ACCENT,
                 "conflict": theme.WARNING, "pending": theme.ACCENT, "sending": theme.ACCENT, "done": theme.SUCCESS}
STATE_LABELS = {
    "ok": QT_TRANSLATE_NOOP("StoreSync", "ok"),
    "partial": QT_TRANSLATE_NOOP("StoreSync", "partial"),
    "failed": QT_TRANSLATE_NOOP("StoreSync", "failed"),
    "running": QT_TRANSLATE_NOOP("StoreSync", "running"),
    "conflict": QT_TRANSLATE_NOOP("StoreSync", "conflict"),
    "pending": QT_TRANSLATE_NOOP("StoreSync", "pending"),
    "sending": QT_TRANSLATE_NOOP("StoreSync", "sending"),
    "done": QT_TRANSLATE_NOOP("StoreSync", "done"),
}
DIRECTION_LABELS = {
    "both": QT_TRANSLATE_NOOP("StoreSync", "⇄ both"),
    "pull": QT_TRANSLATE_NOOP("StoreSync", "← pull"),
    "push": QT_TRANSLATE_NOOP("StoreSync", "→ push"),
}
# (setting, what flows, which way) of the direction rules, in the order they are shown
RULES = (
    ("push_catalog", QT_TRANSLATE_NOOP("StoreSync", "Catalog"), QT_TRANSLATE_NOOP("StoreSync", "back-office → store")),
    ("push_prices", QT_TRANSLATE_NOOP("StoreSync", "Prices"), QT_TRANSLATE_NOOP("StoreSync", "back-office → store")),
    ("push_stock", QT_TRANSLATE_NOOP("StoreSync", "Stock"),
     QT_TRANSLATE_NOOP("StoreSync", "back-office → store, at owned locations")),
    ("pull_orders", QT_TRANSLATE_NOOP("StoreSync", "Orders"), QT_TRANSLATE_NOOP("StoreSync", "store → back-office")),
    ("push_fulfilments", QT_TRANSLATE_NOOP("StoreSync", "Fulfilments"),
     QT_TRANSLATE_NOOP("StoreSync", "back-office → store")),
)
KIND_LABELS = {"medusa": "Medusa"}


def state_label(state: str) -> str:
    label = STATE_LABELS.get(state)
    return tr(label) if label else state


def direction_label(direction: str) -> str:
    label = DIRECTION_LABELS.get(direction)
    return tr(label) if label else direction


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.capitalize())


def format_ms(ms: float | None) -> str:
    """``1,234 ms``: whole milliseconds with group separators."""
    return NO_VALUE if ms is None else f"{format_count(round(ms))} ms"


def relative_time(at: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``2 min ago``, ``just now``; "never" for no time."""
    if at is None:
        return tr("never")
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    seconds = ((now or dt.datetime.now(dt.UTC)) - at).total_seconds()
    if seconds < 10:
        return tr("just now")
    return tr("{ago} ago").format(ago=ago(seconds))


def _parts(counts: list[tuple[int, str, str]]) -> list[str]:
    return [plural(n, one, many) for n, one, many in counts if n]


def summary_text(kind: str, dry_run: bool, state: str, s: dict[str, Any]) -> str:
    """What a run sent and received, from its summary: "3 new orders · 12 products sent · 40 stock levels set"."""
    g = lambda key: int(s.get(key, 0) or 0)  # noqa: E731
    if kind == "reconcile":
        text = tr("{checked} compared, {different} different").format(
            checked=format_count(g("checked")), different=format_count(g("difference_count")))
        if g("fixed"):
            text += tr(", {n} fixed").format(n=format_count(g("fixed")))
        return text
    if dry_run:
        parts = _parts([(g("orders_new"), tr("{n} new order"), tr("{n} new orders")),
                        (g("products_planned"), tr("{n} product to send"), tr("{n} products to send")),
                        (g("prices_planned"), tr("{n} price to send"), tr("{n} prices to send")),
                        (g("stock_planned"), tr("{n} stock level to send"), tr("{n} stock levels to send"))])
    else:
        parts = _parts([(g("orders_new"), tr("{n} new order"), tr("{n} new orders")), (g("orders_updated"), tr("{n} order updated"), tr("{n} orders updated")),
                        (g("products_created") + g("products_updated") + g("products_matched"), tr("{n} product sent"),
                         tr("{n} products sent")),
                        (g("prices_pushed"), tr("{n} price sent"), tr("{n} prices sent")),
                        (g("fulfilments_pushed"), tr("{n} shipment sent"), tr("{n} shipments sent")),
                        (g("stock_set"), tr("{n} stock level set"), tr("{n} stock levels set")),
                        (g("variants_linked"), tr("{n} variant linked"), tr("{n} variants linked")),
                        (g("stock_conflict_count"), tr("{n} stock conflict"), tr("{n} stock conflicts"))])
    if parts:
        return " · ".join(parts)
    return tr("nothing to do") if state == "ok" else ""


def run_summary(run: RunInfo) -> str:
    return summary_text(run.kind, run.dry_run, run.state, run.summary)


def run_message(run: RunInfo) -> str:
    """The run's error, else its first listed error."""
    if run.error:
        return run.error
    errors = run.summary.get("errors") or []
    return str(errors[0]) if errors else ""


def run_kind_label(run: RunInfo) -> str:
    """``Sync ⇄ both``, ``Dry run → push``, ``Reconcile · fix``: what ran, and which way."""
    if run.kind == "reconcile":
        return tr("Reconcile · fix") if run.summary.get("fix") else tr("Reconcile")
    kind = tr("Dry run") if run.dry_run else tr("Sync")
    return f"{kind} {direction_label(run.direction)}"


def stats_text(calls: int, errors: int, error_rate: float, mean_ms: float, p95_ms: float) -> str:
    """``1,234 calls · 2.0 % errors · mean 123 ms · p95 456 ms``."""
    return tr("{calls} calls · {errors} errors ({rate}) · mean {mean} · p95 {p95}").format(
        calls=format_count(calls), errors=format_count(errors), rate=format_percent(error_rate * 100),
        mean=format_ms(mean_ms), p95=format_ms(p95_ms))


# -- the tables ------------------------------------------------------------------------------------------------
WHEN = QT_TRANSLATE_NOOP("StoreSync", "When")
RUN = QT_TRANSLATE_NOOP("StoreSync", "Run")
STATE = QT_TRANSLATE_NOOP("StoreSync", "State")
RESULT = QT_TRANSLATE_NOOP("StoreSync", "Sent and received")
CALLS = QT_TRANSLATE_NOOP("StoreSync", "Calls")
ERRORS = QT_TRANSLATE_NOOP("StoreSync", "Errors")
MEAN = QT_TRANSLATE_NOOP("StoreSync", "Mean ms")


def run_result(run: RunInfo) -> str:
    """What the run sent and received, then its error if it has one (a failed run: the error alone)."""
    summary, message = run_summary(run), run_message(run)
    if not message:
        return summary
    return f"{summary} — {message}" if summary else message


RUN_COLUMNS = (
    Column(WHEN, lambda r: r.started_at, "when", 146),
    Column(RUN, run_kind_label, width=124),
    Column(STATE, lambda r: state_label(r.state), width=84),
    Column(CALLS, lambda r: r.calls, "qty", 56),
    Column(ERRORS, lambda r: r.errors, "qty", 60),
    Column(MEAN, lambda r: round(r.mean_ms) if r.calls else None, "qty", 72),
    Column(RESULT, run_result, width=300),
)
RUN_STATE_COL, RUN_ERRORS_COL, RUN_MEAN_COL, RUN_RESULT_COL = 2, 4, 5, 6


def _run_tooltip(run: RunInfo, column: int) -> str | None:
    if column == 0:
        return relative_time(run.started_at)
    if column == RUN_RESULT_COL:
        return run_result(run) or None
    return None


def _run_colour(run: RunInfo, column: int) -> str | None:
    if column == RUN_RESULT_COL and run.state == "failed":
        return theme.BEFORE_FG
    if column == RUN_ERRORS_COL and run.errors:
        return theme.BEFORE_FG
    return None


class RunsModel(RecordsModel):
    """The sync log, newest first."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(RUN_COLUMNS, parent, foreground=_run_colour, tooltip=_run_tooltip, context=CONTEXT)


CREATED = QT_TRANSLATE_NOOP("StoreSync", "Planned")
KIND = QT_TRANSLATE_NOOP("StoreSync", "Kind")
REF = QT_TRANSLATE_NOOP("StoreSync", "Item")
ATTEMPTS = QT_TRANSLATE_NOOP("StoreSync", "Attempts")
ERROR = QT_TRANSLATE_NOOP("StoreSync", "Error")

OUTBOX_COLUMNS = (
    Column(CREATED, lambda e: e.created_at, "when", 146),
    Column(KIND, lambda e: e.kind.replace("_", " ").capitalize(), width=90),
    Column(REF, lambda e: e.ref, width=140),
    Column(STATE, lambda e: state_label(e.state), width=84),
    Column(ATTEMPTS, lambda e: e.attempts, "qty", 70),
    Column(ERROR, lambda e: e.last_error, width=300),
)
OUTBOX_STATE_COL = 3


class OutboxModel(RecordsModel):
    """Pushes that failed or met a conflict, newest first, with their errors."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(OUTBOX_COLUMNS, parent, context=CONTEXT,
                         foreground=lambda e, c: theme.BEFORE_FG if c == 5 and e.last_error else None,
                         tooltip=lambda e, c: (e.last_error or None) if c == 5 else None)

    @property
    def entries(self) -> list[OutboxEntryInfo]:
        return self.rows


OUR_LOCATION = QT_TRANSLATE_NOOP("StoreSync", "Our location")
STORE_LOCATION = QT_TRANSLATE_NOOP("StoreSync", "Store location id")
ROLE = QT_TRANSLATE_NOOP("StoreSync", "Stock")

LOCATION_COLUMNS = (
    Column(OUR_LOCATION, lambda l: f"{l.code} — {l.name}", width=200),
    Column(STORE_LOCATION, lambda l: l.store_location_id, width=240),
    Column(ROLE, lambda l: tr("owned: ours is pushed") if l.owned else tr("compared only"), width=160),
)


class LocationLinksModel(RecordsModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(LOCATION_COLUMNS, parent, context=CONTEXT)

    @property
    def links(self) -> list[LocationLinkInfo]:
        return self.rows


SKU = QT_TRANSLATE_NOOP("StoreSync", "SKU")
LOCATION = QT_TRANSLATE_NOOP("StoreSync", "Location")
OURS = QT_TRANSLATE_NOOP("StoreSync", "Ours")
STORE = QT_TRANSLATE_NOOP("StoreSync", "Store")
FIXED = QT_TRANSLATE_NOOP("StoreSync", "Fixed")

DIFFERENCE_COLUMNS = (
    Column(SKU, lambda d: d.sku, "sku", 160),
    Column(LOCATION, lambda d: d.location, width=100),
    Column(OURS, lambda d: d.ours, "qty", 80),
    Column(STORE, lambda d: d.store, "qty", 80),
    Column(FIXED, lambda d: tr("fixed") if d.fixed else "", width=70),
)


class DifferencesModel(RecordsModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(DIFFERENCE_COLUMNS, parent, context=CONTEXT,
                         foreground=lambda d, c: theme.AFTER_FG if c == 4 and d.fixed else None)

    @property
    def differences(self) -> list[StockDifference]:
        return self.rows
