"""Small reads the stock screens need besides the stock services: pickers and open documents. No writes.

Kept apart from ``stock_query`` (the levels and the ledger) because these only feed pickers: the
category tree of the Inventory filter, the on-hand figures beside an adjustment's lines, the counts
still open at a location so a count can be resumed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import (
    Category,
    CountState,
    Location,
    StockCount,
    StockCountLine,
    StockLevel,
    User,
)


@dataclass(frozen=True)
class CategoryChoice:
    id: int
    name: str
    depth: int        # 0 for a top-level category
    label: str        # "Women › Clothing › Tops"


def category_choices(db: Database) -> list[CategoryChoice]:
    """Every category in tree order (parents before children, siblings by name), with its depth."""
    with db.read() as session:
        rows = session.execute(select(Category.id, Category.parent_id, Category.name)).all()
    children: dict[int | None, list[tuple[int, str]]] = {}
    names = {cid: name for cid, _parent, name in rows}
    for cid, parent, name in rows:
        children.setdefault(parent if parent in names else None, []).append((cid, name))
    out: list[CategoryChoice] = []

    def walk(parent: int | None, depth: int, trail: tuple[str, ...]) -> None:
        for cid, name in sorted(children.get(parent, []), key=lambda c: (c[1].lower(), c[0])):
            if depth > 50:  # a cycle in bad data must not hang the picker
                return
            path = (*trail, name)
            out.append(CategoryChoice(cid, name, depth, " › ".join(path)))
            walk(cid, depth + 1, path)

    walk(None, 0, ())
    return out


def levels_at(db: Database, location_id: int, variant_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(on hand, reserved) of the variants at one location; (0, 0) for a variant never stocked there."""
    if not variant_ids:
        return {}
    with db.read() as session:
        found = {v: (int(o), int(r)) for v, o, r in session.execute(
            select(StockLevel.variant_id, StockLevel.on_hand, StockLevel.reserved)
            .where(StockLevel.location_id == location_id, StockLevel.variant_id.in_(variant_ids)))}
    return {v: found.get(v, (0, 0)) for v in variant_ids}


@dataclass(frozen=True)
class OpenCount:
    id: int
    number: str
    location_id: int
    location: str
    lines: int
    created_at: dt.datetime
    created_by: str


def open_counts(db: Database, *, location_id: int | None = None, limit: int = 50) -> list[OpenCount]:
    """Stock counts not posted or cancelled yet, newest first."""
    lines = (select(StockCountLine.count_id.label("cid"), func.count().label("n"))
             .group_by(StockCountLine.count_id).subquery())
    stmt = (select(StockCount.id, StockCount.number, StockCount.location_id, Location.code, lines.c.n,
                   StockCount.created_at, User.username)
            .join(Location, Location.id == StockCount.location_id)
            .outerjoin(lines, lines.c.cid == StockCount.id).outerjoin(User, User.id == StockCount.created_by)
            .where(StockCount.state == CountState.OPEN).order_by(StockCount.id.desc()).limit(limit))
    if location_id is not None:
        stmt = stmt.where(StockCount.location_id == location_id)
    with db.read() as session:
        return [OpenCount(r[0], r[1], r[2], r[3], int(r[4] or 0), r[5], r[6] or "") for r in session.execute(stmt)]
