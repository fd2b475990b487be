"""Idempotency keys of the store API: the first request under a key runs; a replay gets its answer.

``begin`` claims ``(user, key)`` for a request (its hash) in a transaction of its own; ``finish`` stores
the answer; ``forget`` drops a claim whose request failed for a reason a retry may not meet again (the
server or the database failing). A claim still unanswered after ``ABANDONED_AFTER`` (the server stopped
mid-request) may be run again: the write under it carries an operation id derived from the key, so it
applies at most once however often it runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from backoffice.db import Database
from backoffice.models import ApiRequest
from backoffice.models.base import utcnow
from backoffice.services.base import Actor, ValidationError

ABANDONED_AFTER = dt.timedelta(seconds=60)
# A server that restarts with a first request left unanswered (it was killed mid-request) runs it again
# when its key comes back after this long. Shorter for a server whose requests are all quick.
ENV_ABANDONED_AFTER = "BACKOFFICE_IDEMPOTENCY_ABANDONED_SECONDS"


def abandoned_after() -> dt.timedelta:
    value = os.environ.get(ENV_ABANDONED_AFTER, "")
    try:
        return dt.timedelta(seconds=max(1.0, float(value))) if value else ABANDONED_AFTER
    except ValueError:
        return ABANDONED_AFTER
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Claim:
    """What ``begin`` found: ``run`` (this request runs, under ``operation_id``), ``replay`` (answered
    before: ``status``/``body``/``media_type``), ``busy`` (the first request is still running) or
    ``mismatch`` (the key was used for another request)."""

    outcome: str
    operation_id: str
    status: int | None = None
    body: str | None = None
    media_type: str | None = None
    route: str = ""
    headers: dict[str, str] | None = None


def operation_id_for(actor: Actor, key: str) -> str:
    """The operation id of the write a keyed request makes (at most 64 characters)."""
    return "api-" + hashlib.sha256(f"{actor.user_id}:{key}".encode()).hexdigest()[:40]


def request_hash(route: str, body: bytes) -> str:
    return hashlib.sha256(route.encode() + b"\n" + body).hexdigest()


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError([("", "Idempotency-Key", f"must be 1–{MAX_KEY_LENGTH} printable characters")])
    return key


def begin(db: Database, actor: Actor, key: str, route: str, fingerprint: str, *,
          now: dt.datetime | None = None) -> Claim:
    key = _check_key(key)
    op_id = operation_id_for(actor, key)
    moment = now or utcnow()
    try:
        with db.write() as session:
            session.add(ApiRequest(user_id=actor.user_id, idempotency_key=key, request_hash=fingerprint,
                                   route=route[:300], started_at=moment))
        return Claim("run", op_id)
    except IntegrityError:
        pass
    with db.read() as session:
        row = session.scalar(select(ApiRequest).where(ApiRequest.user_id == actor.user_id,
                                                      ApiRequest.idempotency_key == key))
    if row is None:          # forgotten in between: claim it again
        return begin(db, actor, key, route, fingerprint, now=now)
    if row.request_hash != fingerprint:
        return Claim("mismatch", op_id, route=row.route)
    if row.status is not None:
        return Claim("replay", op_id, row.status, row.response, row.media_type, row.route, dict(row.headers or {}))
    if moment - row.started_at > abandoned_after():
        with db.write() as session:
            session.execute(update(ApiRequest).where(ApiRequest.id == row.id).values(started_at=moment))
        return Claim("run", op_id)
    return Claim("busy", op_id, route=row.route)


def finish(db: Database, actor: Actor, key: str, status: int, body: str, media_type: str,
           headers: dict[str, str] | None = None) -> None:
    with db.write() as session:
        session.execute(update(ApiRequest)
                        .where(ApiRequest.user_id == actor.user_id, ApiRequest.idempotency_key == key.strip())
                        .values(status=status, response=body, media_type=media_type, headers=headers or None,
                                answered_at=utcnow()))


def forget(db: Database, actor: Actor, key: str) -> None:
    with db.write() as session:
        session.execute(delete(ApiRequest).where(ApiRequest.user_id == actor.user_id,
                                                 ApiRequest.idempotency_key == key.strip(),
                                                 ApiRequest.status.is_(None)))
