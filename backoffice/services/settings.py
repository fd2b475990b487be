"""Store-wide settings kept in the database (shared by every user and by scheduled jobs).

The outgoing mail server (``smtp``) is the first: alert digests and scheduled reports send through it.
Its password is not stored here: it lives in the OS keyring of each machine that sends, under the key
:func:`smtp_secret_key`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import StoreSetting
from backoffice.services.base import Actor, ValidationError, audit, claim_operation, store_operation_result

SMTP_KEY = "smtp"
SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    security: str = "starttls"       # starttls, ssl or none
    username: str = ""               # empty: no login
    sender: str = ""
    recipients: tuple[str, ...] = field(default_factory=tuple)  # who gets alert digests
    timeout_s: float = 20.0

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["recipients"] = list(self.recipients)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SmtpSettings:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if "recipients" in known:
            known["recipients"] = tuple(known["recipients"])
        return cls(**known)

    def problems(self) -> list[tuple[str, str, str]]:
        out = []
        if not self.host.strip():
            out.append(("mail server", "host", "must not be empty"))
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            out.append(("mail server", "port", f"{self.port!r} is not a port number"))
        if self.security not in SECURITY:
            out.append(("mail server", "security", f"{self.security!r} is not one of {', '.join(SECURITY)}"))
        for name, addr in [("sender", self.sender)] + [("recipients", r) for r in self.recipients]:
            if "@" not in parseaddr(addr)[1]:
                out.append(("mail server", name, f"{addr!r} is not an e-mail address"))
        return out


def smtp_secret_key(s: SmtpSettings) -> str:
    """The keyring entry that holds the mail server password."""
    return f"smtp:{s.username}@{s.host}:{s.port}"


def _get(session: Session, key: str) -> StoreSetting | None:
    return session.scalar(select(StoreSetting).where(StoreSetting.key == key))


def get_smtp(db: Database) -> SmtpSettings:
    with db.read() as session:
        row = _get(session, SMTP_KEY)
        return SmtpSettings.from_dict(row.value) if row else SmtpSettings()


def save_smtp(db: Database, actor: Actor, settings: SmtpSettings, *, operation_id: str | None = None) -> SmtpSettings:
    problems = settings.problems()
    if not settings.recipients:
        problems.append(("mail server", "recipients", "name at least one recipient"))
    if problems:
        raise ValidationError(problems)

    def save_smtp_row(session: Session) -> SmtpSettings:
        previous = claim_operation(session, operation_id, "save_smtp", actor)
        if previous is not None:   # a retry: the settings the first call saved, nothing written again
            return SmtpSettings.from_dict(previous)
        row = _get(session, SMTP_KEY)
        before = row.value if row else None
        if row is None:
            row = StoreSetting(key=SMTP_KEY, value=settings.to_dict())
            session.add(row)
        else:
            row.value = settings.to_dict()
        session.flush()
        audit(session, actor, "setting", SMTP_KEY, "update", before, settings.to_dict(), operation_id)
        store_operation_result(session, operation_id, settings.to_dict())
        return settings

    return db.run_write(save_smtp_row)
