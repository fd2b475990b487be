"""Low-stock thresholds, alerts and the e-mail digest.

The threshold of a (variant, location) is, from the most specific rule to the least: the level's own
``low_stock_threshold``; a default for the product's category (or the nearest ancestor category that has
one) at that location; the same for any location; a default for the location; a store-wide default.

``evaluate`` compares available stock (on hand minus reserved) with the thresholds: a pair at or below
its threshold opens an alert, unless one is already open; an open alert whose pair is back above its
threshold is closed. So each crossing makes exactly one alert, however often ``evaluate`` runs, and a
pair that recovers and falls again makes a new one. ``send_digest`` mails the alerts not mailed yet in
one message and marks them, so each crossing is mailed once.

Every figure shown to a user is a true count from the database: a limit may cap the rows read for a list,
never a number (``overview`` returns the rows and the counts separately). ``evaluate`` records when it last
ran (a store setting), so a store that was never checked is told apart from one with no low stock.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from backoffice.db import Database
from backoffice.models import (
    Category,
    Location,
    LocationKind,
    LowStockDefault,
    Product,
    StockAlert,
    StockLevel,
    StoreSetting,
    Variant,
    utcnow,
)
from backoffice.services.base import (
    Actor,
    NotFound,
    ServiceError,
    ValidationError,
    audit,
    dialect_insert,
)
from backoffice.services.settings import SmtpSettings

CHECK_KEY = "low_stock_check"   # store setting: when evaluate last ran, and what it found
DIGEST_ROWS = 500               # rows listed in one digest mail; its subject and text give the true count
LIST_LIMIT = 2000               # rows read for the Alerts tab (the counts beside them are never capped)


class MailError(ServiceError):
    """The mail server refused or could not be reached; nothing was marked as sent."""


# -- thresholds -----------------------------------------------------------------------------------------
def set_threshold(db: Database, actor: Actor, *, variant_id: int, location_id: int, threshold: int | None,
                  reorder_point: int | None = None) -> None:
    """The threshold (None: use the defaults) of one variant at one location."""
    for name, value in (("threshold", threshold), ("reorder_point", reorder_point)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValidationError([(f"variant {variant_id}", name, f"{value!r} must be a whole number, zero or more")])

    def set_level_threshold(session: Session) -> None:
        loc = session.get(Location, location_id)
        if loc is None or loc.kind not in (LocationKind.WAREHOUSE, LocationKind.STORE):
            raise ValidationError([(f"location {location_id}", "location", "is not a warehouse or store")])
        if session.get(Variant, variant_id) is None:
            raise NotFound(f"variant {variant_id} does not exist")
        from backoffice.services.inventory import open_level

        open_level(session, variant_id, location_id)
        level = session.scalar(select(StockLevel).where(StockLevel.variant_id == variant_id,
                                                        StockLevel.location_id == location_id).with_for_update())
        before = {"low_stock_threshold": level.low_stock_threshold, "reorder_point": level.reorder_point}
        level.low_stock_threshold = threshold
        if reorder_point is not None:
            level.reorder_point = reorder_point
        session.flush()
        audit(session, actor, "stock_level", level.id, "update", before,
              {"low_stock_threshold": level.low_stock_threshold, "reorder_point": level.reorder_point})

    db.run_write(set_level_threshold)


def set_default(db: Database, actor: Actor, *, threshold: int | None, category_id: int | None = None,
                location_id: int | None = None) -> None:
    """A default threshold for a category and/or a location (both None: the store-wide default).
    ``threshold`` None removes the rule."""
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0):
        raise ValidationError([("default", "threshold", f"{threshold!r} must be a whole number, zero or more")])

    def set_default_rule(session: Session) -> None:
        if category_id is not None and session.get(Category, category_id) is None:
            raise NotFound(f"category {category_id} does not exist")
        if location_id is not None and session.get(Location, location_id) is None:
            raise NotFound(f"location {location_id} does not exist")
        cond = and_(LowStockDefault.category_id.is_(None) if category_id is None else LowStockDefault.category_id == category_id,
                    LowStockDefault.location_id.is_(None) if location_id is None else LowStockDefault.location_id == location_id)
        rule = session.scalar(select(LowStockDefault).where(cond).with_for_update())
        before = {"threshold": rule.threshold} if rule else None
        if threshold is None:
            if rule is not None:
                session.delete(rule)
        elif rule is None:
            session.add(LowStockDefault(category_id=category_id, location_id=location_id, threshold=threshold))
        else:
            rule.threshold = threshold
        session.flush()
        audit(session, actor, "low_stock_default", f"{category_id or '*'}/{location_id or '*'}", "update", before,
              {"threshold": threshold})

    db.run_write(set_default_rule)


def effective_threshold(own: Any, location: Any, product: Any) -> Any:
    """SQL for the threshold at ``location`` of a product's variant whose own threshold is ``own``."""
    d, c, pc = aliased(LowStockDefault), aliased(Category), aliased(Category)
    product_path = select(pc.path).where(pc.id == product.category_id).correlate(product).scalar_subquery()

    def by_category(location_match: Any) -> Any:
        return (select(d.threshold).join(c, c.id == d.category_id)
                .where(location_match, product_path.like(c.path + literal("%")))
                .order_by(func.length(c.path).desc()).limit(1).scalar_subquery())

    def plain(location_match: Any) -> Any:
        return select(d.threshold).where(d.category_id.is_(None), location_match).limit(1).scalar_subquery()

    return func.coalesce(own,
                         by_category(d.location_id == location), by_category(d.location_id.is_(None)),
                         plain(d.location_id == location), plain(d.location_id.is_(None)))


@dataclass(frozen=True)
class LowRow:
    variant_id: int
    location_id: int
    available: int
    threshold: int


def low_stock(db: Database, *, location_id: int | None = None) -> list[LowRow]:
    """Every (variant, warehouse/store) at or below its threshold now."""
    with db.read() as session:
        return _low(session, location_id)


def _low(session: Session, location_id: int | None = None) -> list[LowRow]:
    threshold = effective_threshold(StockLevel.low_stock_threshold, StockLevel.location_id, Product).label("threshold")
    inner = (select(StockLevel.variant_id, StockLevel.location_id,
                    (StockLevel.on_hand - StockLevel.reserved).label("available"), threshold)
             .join(Variant, Variant.id == StockLevel.variant_id).join(Product, Product.id == Variant.product_id)
             .join(Location, Location.id == StockLevel.location_id)
             .where(Location.kind.in_([LocationKind.WAREHOUSE.value, LocationKind.STORE.value]), Location.active.is_(True)))
    if location_id is not None:
        inner = inner.where(StockLevel.location_id == location_id)
    sq = inner.subquery()
    rows = session.execute(select(sq).where(sq.c.threshold.is_not(None), sq.c.available <= sq.c.threshold)
                           .order_by(sq.c.location_id, sq.c.variant_id))
    return [LowRow(v, loc, int(a), int(t)) for v, loc, a, t in rows]


# -- alerts ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    opened: int
    closed: int
    open_now: int        # open alerts after the check (counted, not capped)
    checked_at: dt.datetime | None = None


def evaluate(db: Database) -> Evaluation:
    """Open an alert for each new crossing, close the alerts of pairs that recovered, and record the check."""

    def open_and_close_alerts(session: Session) -> Evaluation:
        low = {(r.variant_id, r.location_id): r for r in _low(session)}
        open_alerts = {(a.variant_id, a.location_id): a for a in session.scalars(
            select(StockAlert).where(StockAlert.closed_at.is_(None)).with_for_update())}
        now = utcnow()
        new = [low[k] for k in sorted(low.keys() - open_alerts.keys())]
        if new:
            session.execute(
                dialect_insert(session)(StockAlert).values([
                    {"variant_id": r.variant_id, "location_id": r.location_id, "available": r.available,
                     "threshold": r.threshold, "opened_at": now, "open_key": f"{r.variant_id}:{r.location_id}"}
                    for r in new]).on_conflict_do_nothing(index_elements=["open_key"]))
        recovered = [a.id for k, a in open_alerts.items() if k not in low]
        if recovered:
            session.execute(update(StockAlert).where(StockAlert.id.in_(recovered)).values(closed_at=now, open_key=None))
        for k, a in open_alerts.items():  # keep the figure of still-open alerts current
            if k in low and a.available != low[k].available:
                a.available = low[k].available
        session.flush()
        open_now = _count_open(session)
        _record_check(session, now, {"opened": len(new), "closed": len(recovered), "open": open_now})
        return Evaluation(len(new), len(recovered), open_now, now)

    return db.run_write(open_and_close_alerts)


def _record_check(session: Session, at: dt.datetime, figures: dict[str, int]) -> None:
    value = {"at": at.isoformat(), **figures}
    stmt = dialect_insert(session)(StoreSetting).values(key=CHECK_KEY, value=value, version=1, created_at=at,
                                                        updated_at=at)
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={
        "value": stmt.excluded.value, "updated_at": at, "version": StoreSetting.version + 1}))


def last_check(db: Database) -> dt.datetime | None:
    """When ``evaluate`` last ran on this store (None: never)."""
    with db.read() as session:
        return _last_check(session)


def _last_check(session: Session) -> dt.datetime | None:
    value = session.scalar(select(StoreSetting.value).where(StoreSetting.key == CHECK_KEY))
    if not value or not value.get("at"):
        return None
    at = dt.datetime.fromisoformat(value["at"])
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


def _count_open(session: Session, *, only_unsent: bool = False) -> int:
    stmt = select(func.count()).select_from(StockAlert).where(StockAlert.closed_at.is_(None))
    if only_unsent:
        stmt = stmt.where(StockAlert.notified_at.is_(None))
    return int(session.scalar(stmt) or 0)


@dataclass(frozen=True)
class AlertRow:
    id: int
    variant_id: int
    sku: str
    title: str
    location: str
    available: int
    threshold: int
    opened_at: dt.datetime
    notified_at: dt.datetime | None


def open_alerts(db: Database, *, only_unsent: bool = False, limit: int = 5000) -> list[AlertRow]:
    """The newest ``limit`` open alerts. A list, not a count: use ``open_alert_count`` or ``overview``
    for how many there are."""
    with db.read() as session:
        return _alert_rows(session, only_unsent=only_unsent, limit=limit)


def _alert_rows(session: Session, *, only_unsent: bool, limit: int | None, lock: bool = False,
                ids: list[int] | None = None) -> list[AlertRow]:
    stmt = (select(StockAlert.id, StockAlert.variant_id, Variant.sku, Product.title, Variant.title, Location.code,
                   StockAlert.available, StockAlert.threshold, StockAlert.opened_at, StockAlert.notified_at)
            .join(Variant, Variant.id == StockAlert.variant_id).join(Product, Product.id == Variant.product_id)
            .join(Location, Location.id == StockAlert.location_id)
            .where(StockAlert.closed_at.is_(None)).order_by(StockAlert.opened_at.desc(), StockAlert.id.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    if only_unsent:
        stmt = stmt.where(StockAlert.notified_at.is_(None))
    if ids is not None:
        stmt = stmt.where(StockAlert.id.in_(ids))
    if lock:
        stmt = stmt.with_for_update(of=StockAlert)
    return [AlertRow(r[0], r[1], r[2], f"{r[3]} · {r[4]}" if r[4] else r[3], r[5], int(r[6]), int(r[7]), r[8], r[9])
            for r in session.execute(stmt)]


def open_alert_count(db: Database) -> int:
    """How many alerts are open: the true number (the sidebar badge, the Alerts tab, the CLI)."""
    with db.read() as session:
        return _count_open(session)


@dataclass(frozen=True)
class AlertOverview:
    """What the Alerts tab shows: up to ``limit`` rows, and the true counts beside them."""

    rows: list[AlertRow]
    open_total: int                  # every open alert, however many rows were read
    unsent_total: int                # open alerts not mailed yet
    checked_at: dt.datetime | None   # the last check (None: the store was never checked)

    @property
    def truncated(self) -> bool:
        return len(self.rows) < self.open_total

    @property
    def checked(self) -> bool:
        return self.checked_at is not None


def overview(db: Database, *, limit: int = LIST_LIMIT) -> AlertOverview:
    """The newest ``limit`` open alerts with the true open and not-mailed counts, in one read."""
    with db.read() as session:
        return AlertOverview(_alert_rows(session, only_unsent=False, limit=limit), _count_open(session),
                             _count_open(session, only_unsent=True), _last_check(session))


def count_text(n: int, singular: str = "item", plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def compose_digest(rows: list[AlertRow], smtp: SmtpSettings, store_name: str = "Backoffice", *,
                   total: int | None = None, open_total: int | None = None) -> EmailMessage:
    """The digest of ``total`` new alerts (default: the rows given) listing ``rows`` (maybe only the first
    of them). The subject and the first line always state the true number; when the list is shorter, the
    text says how many are listed and where to see the rest."""
    total = len(rows) if total is None else total
    msg = EmailMessage()
    msg["Subject"] = f"{store_name}: {count_text(total)} low on stock"
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(smtp.recipients)
    head = f"{count_text(total)} fell to or below {'its' if total == 1 else 'their'} low-stock threshold."
    notes = []
    if len(rows) < total:
        notes.append(f"The first {len(rows):,} are listed below; all {total:,} are in the Alerts tab of the "
                     "Inventory view and in `backoffice stock alerts`.")
    if open_total is not None and open_total != total:
        notes.append(f"{open_total:,} low-stock alerts are open in all, including those mailed before.")
    width = max([len(r.sku) for r in rows] + [3])
    lines = [head, *notes, "",
             f"{'SKU':<{width}}  {'Location':<10} {'Available':>9} {'Threshold':>9}  Product"]
    lines += [f"{r.sku:<{width}}  {r.location:<10} {r.available:>9,} {r.threshold:>9,}  {r.title}" for r in rows]
    if len(rows) < total:
        lines += ["", f"… and {total - len(rows):,} more."]
    msg.set_content("\n".join(lines) + "\n")
    rows_html = "".join(
        f"<tr><td>{_esc(r.sku)}</td><td>{_esc(r.title)}</td><td>{_esc(r.location)}</td>"
        f"<td align='right'>{r.available:,}</td><td align='right'>{r.threshold:,}</td></tr>" for r in rows)
    more = f"<p>… and {total - len(rows):,} more.</p>" if len(rows) < total else ""
    msg.add_alternative(
        f"<p>{_esc(head)}</p>" + "".join(f"<p>{_esc(n)}</p>" for n in notes) +
        "<table border='1' cellpadding='4' cellspacing='0'><tr><th>SKU</th><th>Product</th><th>Location</th>"
        f"<th>Available</th><th>Threshold</th></tr>{rows_html}</table>{more}", subtype="html")
    return msg


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_message(smtp: SmtpSettings, password: str | None, msg: EmailMessage) -> None:
    """Send one message; any failure becomes a MailError with the server's reason."""
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, password or "")
            client.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"could not send through {smtp.host}:{smtp.port}: {exc}") from exc


@dataclass(frozen=True)
class DigestResult:
    sent: int            # alerts in the message, all of them (0: nothing new, no message)
    recipients: tuple[str, ...]
    listed: int = 0      # rows listed in the message (at most DIGEST_ROWS)


def send_digest(db: Database, actor: Actor, smtp: SmtpSettings, password: str | None, *,
                max_rows: int = DIGEST_ROWS) -> DigestResult:
    """Mail every open alert not mailed yet, in one message, then mark them. The message lists the newest
    ``max_rows`` of them and states the true number. Two senders at once cannot both mail an alert: the
    rows are locked while the message goes out. If the mail server refuses, nothing is marked and the next
    run tries again."""
    problems = smtp.problems()
    if not smtp.recipients:
        problems.append(("mail server", "recipients", "name at least one recipient"))
    if problems:
        raise ValidationError(problems)

    def mail_unsent_alerts(session: Session) -> DigestResult:
        ids = list(session.scalars(
            select(StockAlert.id).where(StockAlert.closed_at.is_(None), StockAlert.notified_at.is_(None))
            .order_by(StockAlert.opened_at.desc(), StockAlert.id.desc()).with_for_update()))
        if not ids:
            return DigestResult(0, smtp.recipients)
        rows = _alert_rows(session, only_unsent=True, limit=None, ids=ids[:max_rows])
        send_message(smtp, password, compose_digest(rows, smtp, total=len(ids), open_total=_count_open(session)))
        now = utcnow()
        for start in range(0, len(ids), 5000):
            session.execute(update(StockAlert).where(StockAlert.id.in_(ids[start:start + 5000])).values(notified_at=now))
        audit(session, actor, "stock_alert", "digest", "send", None,
              {"alerts": len(ids), "listed": len(rows), "recipients": list(smtp.recipients)})
        return DigestResult(len(ids), smtp.recipients, len(rows))

    return db.run_write(mail_unsent_alerts, attempts=1)


def thresholds_for(db: Database, location_id: int, variant_ids: list[int]) -> dict[int, int | None]:
    """The effective threshold of each variant at the location (None: no rule applies)."""
    if not variant_ids:
        return {}
    lvl = aliased(StockLevel)
    with db.read() as session:
        rows = session.execute(
            select(Variant.id, effective_threshold(lvl.low_stock_threshold, literal(location_id), Product))
            .select_from(Variant).join(Product, Product.id == Variant.product_id)
            .outerjoin(lvl, and_(lvl.variant_id == Variant.id, lvl.location_id == location_id))
            .where(Variant.id.in_(variant_ids)))
        found = dict(rows.all())
    return {v: found.get(v) for v in variant_ids}


