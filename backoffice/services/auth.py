"""Proven identity: passwords (argon2id), login with lockout, one-time reset tokens, access and refresh
tokens, API keys and the sessions they make.

Passwords are stored only as argon2id hashes (argon2-cffi). Tokens and API keys are random
(``secrets.token_urlsafe``) and stored only as their SHA-256 (enough for secrets of that entropy): the
secret itself is returned once and never kept. A wrong password and an unknown user name fail with the
same text. Five failures in a row lock the account for a minute, the next five for two, then four…
(at most a day); a success resets the count. Every login, failure, lock, password change, key creation
and revocation writes an audit row naming the acting user.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, or_, select, update

from backoffice.db import Database
from backoffice.models import AuditEntry, AuthToken, Role, TokenKind, User, utcnow
from backoffice.services.base import Actor, NotFound, PermissionDenied, ServiceError, ValidationError, audit

ACCESS_TTL = dt.timedelta(minutes=15)
REFRESH_TTL = dt.timedelta(days=30)
RESET_TTL = dt.timedelta(days=3)
LOCK_AFTER = 5                           # failures in a row
LOCK_FIRST = dt.timedelta(minutes=1)     # doubled at each further lock
LOCK_LONGEST = dt.timedelta(days=1)
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_TOUCH_EVERY = dt.timedelta(minutes=1)   # last_used_at is written at most this often per token

WRONG_CREDENTIALS = "wrong user name or password"
BAD_TOKEN = "invalid, expired or revoked token"

_hasher = PasswordHasher()               # argon2id with the library's recommended parameters
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AuthenticationFailed(ServiceError):
    """The credentials do not prove who the caller is (a server answers 401)."""


class AccountLocked(AuthenticationFailed):
    def __init__(self, until: dt.datetime) -> None:
        self.until = until
        super().__init__(f"too many failed logins: the account is locked until {until:%Y-%m-%d %H:%M:%S} UTC")


# -- hashing --------------------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError([("user", "password", f"must be at least {MIN_PASSWORD} characters long")])
    if len(password) > MAX_PASSWORD:
        raise ValidationError([("user", "password", f"must be at most {MAX_PASSWORD} characters long")])


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def _actor(user: User) -> Actor:
    return Actor(user.id, user.username, user.role)


def _lock_delay(failures: int) -> dt.timedelta:
    """The lock after ``failures`` failures in a row (a multiple of LOCK_AFTER): 1 min, 2, 4, … ≤ a day."""
    locks = max(1, failures // LOCK_AFTER)
    return min(LOCK_FIRST * (2 ** min(locks - 1, 20)), LOCK_LONGEST)


def _audit_unknown(session: Any, username: str, action: str) -> None:
    """An audit row for a name that is no account (no user id to name)."""
    session.add(AuditEntry(at=utcnow(), user_id=None, username=username[:100], entity="login",
                           entity_id=username[:64], action=action, before=None, after=None))


def _acting_user(session: Any, actor: Actor) -> User:
    user = session.get(User, actor.user_id)
    if user is None:
        raise PermissionDenied(f"{actor.username}: no such account")
    if not user.active:
        raise PermissionDenied(f"{actor.username}: account deactivated")
    return user


def _require_admin(session: Any, actor: Actor, what: str) -> User:
    user = _acting_user(session, actor)
    if user.role is not Role.ADMIN:
        raise PermissionDenied(f"{actor.username} ({user.role.value}) may not {what}; it needs the role admin")
    return user


def _user_named(session: Any, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"no user named {username.strip()!r}")
    return user


# -- passwords ------------------------------------------------------------------------------------------
def login(db: Database, username: str, password: str, *, now: dt.datetime | None = None) -> Actor:
    """The actor of ``username`` when ``password`` is theirs; otherwise AuthenticationFailed (the same
    text for an unknown user and a wrong password), counted, and a lock after LOCK_AFTER in a row."""
    now = now or utcnow()
    username = username.strip()
    with db.read() as session:
        row = session.execute(select(User.id, User.password_hash, User.locked_until)
                              .where(User.username == username)).first()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        def refused(session):  # type: ignore[no-untyped-def]
            user = session.get(User, row.id)
            audit(session, _actor(user), "user", user.id, "login_locked", {"locked_until": row.locked_until},
                  {"locked_until": row.locked_until})
        db.run_write(refused)
        raise AccountLocked(row.locked_until)
    good = _verify(row.password_hash if row is not None else None, password)   # same work for unknown names

    def record(session):  # type: ignore[no-untyped-def]
        if row is None:
            _audit_unknown(session, username, "login_failed")
            return None
        user = session.get(User, row.id, with_for_update=True)   # concurrent sign-ins (a rehash) take turns
        if not good:
            session.execute(update(User).where(User.id == user.id)
                            .values(failed_logins=User.failed_logins + 1, version=User.version + 1)
                            .execution_options(synchronize_session=False))
            session.refresh(user)
            audit(session, _actor(user), "user", user.id, "login_failed", {"failed_logins": user.failed_logins - 1},
                  {"failed_logins": user.failed_logins})
            if user.failed_logins % LOCK_AFTER == 0:
                user.locked_until = now + _lock_delay(user.failed_logins)
                audit(session, _actor(user), "user", user.id, "lock", {"locked_until": None},
                      {"locked_until": user.locked_until})
            return None
        if not user.active:
            audit(session, _actor(user), "user", user.id, "login_refused", {"active": False}, {"active": False})
            return "deactivated"
        if _hasher.check_needs_rehash(user.password_hash or ""):
            user.password_hash = _hasher.hash(password)
        failed = user.failed_logins
        user.failed_logins = 0
        user.locked_until = None
        audit(session, _actor(user), "user", user.id, "login", {"failed_logins": failed} if failed else None,
              {"failed_logins": 0} if failed else None)
        return _actor(user)

    result = db.run_write(record)
    if result == "deactivated":
        raise AuthenticationFailed(f"{username}: account deactivated")
    if result is None:
        raise AuthenticationFailed(WRONG_CREDENTIALS)
    return result


def _revoke_user_sessions(session: Any, user_id: int, now: dt.datetime, *, api_keys: bool = False) -> int:
    kinds = [TokenKind.ACCESS, TokenKind.REFRESH] + ([TokenKind.API_KEY] if api_keys else [])
    return session.execute(update(AuthToken)
                           .where(AuthToken.user_id == user_id, AuthToken.kind.in_(kinds),
                                  AuthToken.revoked_at.is_(None))
                           .values(revoked_at=now)).rowcount or 0


def set_password(db: Database, actor: Actor, username: str, password: str) -> None:
    """Set ``username``'s password (the user themself or an admin). Clears a reset token and a lock, and
    signs the account's sessions out (its API keys stay)."""
    hashed = hash_password(password)
    now = utcnow()

    def work(session):  # type: ignore[no-untyped-def]
        me = _acting_user(session, actor)
        user = _user_named(session, username)
        if user.id != me.id and me.role is not Role.ADMIN:
            raise PermissionDenied(f"{actor.username} ({me.role.value}) may not set another user's password; "
                                   "it needs the role admin")
        if user.db_login is not None and session.get_bind().dialect.name == "postgresql":
            _set_login_password(session, actor, me, user, password, now)
            had = True   # the account has a login, so a password (staff may not read hashes)
        else:
            had = user.password_hash is not None
        user.password_hash = hashed
        user.password_reset_hash = user.password_reset_expires_at = None
        user.failed_logins = 0
        user.locked_until = None
        signed_out = _revoke_user_sessions(session, user.id, now)
        audit(session, actor, "user", user.id, "password",
              {"password": "set" if had else "none"},
              {"password": "changed", "sessions_revoked": signed_out})

    db.run_write(work)


def _set_login_password(session: Any, actor: Actor, me: User, user: User, password: str, now: dt.datetime) -> None:
    """The PostgreSQL login's password too: one's own is kept, one an admin sets for someone else is
    temporary (users.INITIAL_PASSWORD_DAYS) until its owner replaces it."""
    from backoffice.services import db_roles
    from backoffice.services.db_roles import INITIAL_PASSWORD_DAYS

    conn = session.connection()
    own = me.id == user.id
    if own and conn.exec_driver_sql("SELECT session_user").scalar_one() == user.db_login:
        db_roles.set_own_password(conn, user.db_login, password)
    else:
        db_roles.set_login_password(conn, user.db_login, password,
                                    valid_until=None if own else now + dt.timedelta(days=INITIAL_PASSWORD_DAYS))


def has_password(db: Database, username: str) -> bool:
    """True when the account has a password to sign in with (an SQLite file's owner may have none)."""
    with db.read() as session:
        return bool(session.scalar(select(User.password_hash.is_not(None)).where(User.username == username.strip())))


def issue_reset_token(db: Database, actor: Actor, username: str, *, ttl: dt.timedelta = RESET_TTL) -> str:
    """A one-time token with which ``username`` sets a password (admin only); shown once, stored hashed."""
    token = _new_secret("bo_reset")
    now = utcnow()

    def work(session):  # type: ignore[no-untyped-def]
        _require_admin(session, actor, "issue a password reset")
        user = _user_named(session, username)
        user.password_reset_hash = token_digest(token)
        user.password_reset_expires_at = now + ttl
        audit(session, actor, "user", user.id, "reset_token", {"reset_token": None},
              {"reset_token": "issued", "expires_at": user.password_reset_expires_at})

    db.run_write(work)
    return token


def reset_password(db: Database, token: str, password: str, *, now: dt.datetime | None = None) -> Actor:
    """Set a password with a reset token; the token works once, before it expires."""
    hashed = hash_password(password)
    now = now or utcnow()

    def work(session):  # type: ignore[no-untyped-def]
        user = session.scalar(select(User).where(User.password_reset_hash == token_digest(token)))
        if user is None or user.password_reset_expires_at is None or user.password_reset_expires_at <= now:
            raise AuthenticationFailed("invalid or expired reset token")
        if not user.active:
            raise AuthenticationFailed(f"{user.username}: account deactivated")
        user.password_hash = hashed
        user.password_reset_hash = user.password_reset_expires_at = None
        user.failed_logins = 0
        user.locked_until = None
        _revoke_user_sessions(session, user.id, now)
        audit(session, _actor(user), "user", user.id, "password_reset", {"password": "reset token"},
              {"password": "changed"})
        return _actor(user)

    return db.run_write(work)


# -- tokens ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedTokens:
    """An access and a refresh token (shown once); unpacks as ``access, refresh``."""

    access: str
    refresh: str
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime
    session_id: int

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.access, self.refresh))


def _issue(session: Any, user: User, now: dt.datetime) -> IssuedTokens:
    access, refresh = _new_secret("bo_at"), _new_secret("bo_rt")
    parent = AuthToken(user_id=user.id, kind=TokenKind.REFRESH, token_hash=token_digest(refresh), created_at=now,
                       expires_at=now + REFRESH_TTL)
    session.add(parent)
    session.flush()
    session.add(AuthToken(user_id=user.id, kind=TokenKind.ACCESS, token_hash=token_digest(access), created_at=now,
                          expires_at=now + ACCESS_TTL, session_id=parent.id))
    session.flush()
    return IssuedTokens(access, refresh, now + ACCESS_TTL, now + REFRESH_TTL, parent.id)


def issue_tokens(db: Database, actor: Actor, *, now: dt.datetime | None = None) -> IssuedTokens:
    """A new session for ``actor`` (after :func:`login`): a short-lived access token and a refresh token."""
    now = now or utcnow()

    def work(session):  # type: ignore[no-untyped-def]
        return _issue(session, _acting_user(session, actor), now)

    return db.run_write(work)


def _live(kinds: list[TokenKind], digest: str, now: dt.datetime) -> Any:
    return (select(AuthToken).where(AuthToken.token_hash == digest, AuthToken.kind.in_(kinds),
                                    AuthToken.revoked_at.is_(None),
                                    or_(AuthToken.expires_at.is_(None), AuthToken.expires_at > now)))


@functools.cache
def _verify_statement() -> Any:
    """The token check every request pays: built once, the digest and the time bound per call."""
    now = bindparam("now", type_=AuthToken.expires_at.type)
    return (select(AuthToken.id, AuthToken.last_used_at, User.id, User.username, User.role, User.active)
            .join(User, User.id == AuthToken.user_id)
            .where(AuthToken.token_hash == bindparam("digest"),
                   AuthToken.kind.in_([TokenKind.ACCESS, TokenKind.API_KEY]),
                   AuthToken.revoked_at.is_(None),
                   or_(AuthToken.expires_at.is_(None), AuthToken.expires_at > now)))


def verify_access_token(db: Database, token: str, *, now: dt.datetime | None = None) -> Actor:
    """The actor an access token or API key stands for; AuthenticationFailed when it is unknown, expired,
    revoked or its account deactivated."""
    now = now or utcnow()
    params = {"digest": token_digest(token or ""), "now": now}
    statement = _verify_statement()                         # one statement: every request pays it
    found = db.read_statement(lambda conn: conn.execute(statement, params).first())
    if found is None:
        raise AuthenticationFailed(BAD_TOKEN)
    token_id, last, user_id, username, role, active = found
    if not active:
        raise AuthenticationFailed(f"{username}: account deactivated")
    actor = Actor(user_id, username, role if isinstance(role, Role) else Role(role))
    if last is None or now - last >= _TOUCH_EVERY:
        db.run_write(lambda s: s.execute(update(AuthToken).where(AuthToken.id == token_id)
                                         .values(last_used_at=now)))
    return actor


def refresh(db: Database, refresh_token: str, *, now: dt.datetime | None = None) -> IssuedTokens:
    """A new token pair for a valid refresh token, which is used up (rotated) with its access tokens."""
    now = now or utcnow()
    digest = token_digest(refresh_token or "")

    def work(session):  # type: ignore[no-untyped-def]
        found = session.scalar(_live([TokenKind.REFRESH], digest, now))
        if found is None:
            raise AuthenticationFailed(BAD_TOKEN)
        used = session.execute(update(AuthToken).where(AuthToken.id == found.id, AuthToken.revoked_at.is_(None))
                               .values(revoked_at=now, last_used_at=now)).rowcount
        if used != 1:                     # a concurrent refresh with the same token won
            raise AuthenticationFailed(BAD_TOKEN)
        session.execute(update(AuthToken).where(AuthToken.session_id == found.id, AuthToken.revoked_at.is_(None))
                        .values(revoked_at=now))
        user = session.get(User, found.user_id)
        if user is None or not user.active:
            raise AuthenticationFailed(BAD_TOKEN if user is None else f"{user.username}: account deactivated")
        return _issue(session, user, now)

    return db.run_write(work)


def _revoke_row(session: Any, token: AuthToken, now: dt.datetime) -> None:
    root = token.session_id or token.id
    session.execute(update(AuthToken)
                    .where(or_(AuthToken.id == root, AuthToken.session_id == root), AuthToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def revoke(db: Database, token: str) -> None:
    """Log out: revoke the session of an access or refresh token (both its tokens), or an API key. An
    unknown or already revoked token is refused."""
    now = utcnow()
    digest = token_digest(token or "")

    def work(session):  # type: ignore[no-untyped-def]
        found = session.scalar(_live([TokenKind.ACCESS, TokenKind.REFRESH, TokenKind.API_KEY], digest, now))
        if found is None:
            raise AuthenticationFailed(BAD_TOKEN)
        user = session.get(User, found.user_id)
        _revoke_row(session, found, now)
        audit(session, _actor(user), "auth_token", found.session_id or found.id,
              "logout" if found.kind is not TokenKind.API_KEY else "revoke", {"revoked": False},
              {"revoked": True, "kind": found.kind.value})

    db.run_write(work)


def create_api_key(db: Database, admin: Actor, username: str, name: str) -> str:
    """An API key acting as ``username`` (admin only). The secret is returned once; only its hash is kept."""
    name = name.strip()
    if not name:
        raise ValidationError([("api key", "name", "must not be empty")])
    if len(name) > 100:
        raise ValidationError([("api key", "name", "must be at most 100 characters long")])
    secret = _new_secret("bo_key")
    now = utcnow()

    def work(session):  # type: ignore[no-untyped-def]
        _require_admin(session, admin, "create API keys")
        user = _user_named(session, username)
        if not user.active:
            raise PermissionDenied(f"{user.username}: account deactivated")
        key = AuthToken(user_id=user.id, kind=TokenKind.API_KEY, name=name, token_hash=token_digest(secret),
                        created_at=now, expires_at=None)
        session.add(key)
        session.flush()
        audit(session, admin, "auth_token", key.id, "create", None,
              {"kind": "api_key", "name": name, "user": user.username})

    db.run_write(work)
    return secret


def list_sessions(db: Database, actor: Actor, *, username: str | None = None,
                  now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Live sessions (refresh tokens) and API keys: an admin's of everyone (or of ``username``), anyone
    else's only their own. Never a secret or a hash."""
    now = now or utcnow()
    with db.read() as session:
        me = _acting_user(session, actor)
        stmt = (select(AuthToken, User.username).join(User, User.id == AuthToken.user_id)
                .where(AuthToken.kind.in_([TokenKind.REFRESH, TokenKind.API_KEY]), AuthToken.revoked_at.is_(None),
                       or_(AuthToken.expires_at.is_(None), AuthToken.expires_at > now))
                .order_by(AuthToken.id))
        if me.role is not Role.ADMIN:
            stmt = stmt.where(AuthToken.user_id == me.id)
        elif username:
            stmt = stmt.where(User.username == username.strip())
        rows = session.execute(stmt).all()
        last_access: dict[int, dt.datetime] = {}
        ids = [t.id for t, _u in rows]
        if ids:
            for sid, used in session.execute(select(AuthToken.session_id, AuthToken.last_used_at)
                                             .where(AuthToken.session_id.in_(ids))):
                if used is not None and (sid not in last_access or used > last_access[sid]):
                    last_access[sid] = used
        out = []
        for token, name in rows:
            used = max((u for u in (token.last_used_at, last_access.get(token.id)) if u is not None), default=None)
            out.append({"id": token.id, "username": name, "kind": "api_key" if token.kind is TokenKind.API_KEY
                        else "session", "name": token.name, "created_at": token.created_at,
                        "expires_at": token.expires_at, "last_used_at": used})
        return out


def revoke_session(db: Database, actor: Actor, session_id: int) -> None:
    """End a session or API key by its id (its owner or an admin)."""
    now = utcnow()

    def work(session):  # type: ignore[no-untyped-def]
        me = _acting_user(session, actor)
        token = session.get(AuthToken, session_id)
        if token is None or token.kind is TokenKind.ACCESS or token.revoked_at is not None:
            raise NotFound(f"no live session or API key with id {session_id}")
        if token.user_id != me.id and me.role is not Role.ADMIN:
            raise PermissionDenied(f"{actor.username} ({me.role.value}) may not end another user's session; "
                                   "it needs the role admin")
        _revoke_row(session, token, now)
        audit(session, actor, "auth_token", token.id, "revoke", {"revoked": False},
              {"revoked": True, "kind": token.kind.value, "name": token.name, "user_id": token.user_id})

    db.run_write(work)


def revoke_all(session: Any, user_id: int, now: dt.datetime) -> int:
    """Inside a transaction: end every session and API key of a user (deactivation)."""
    return _revoke_user_sessions(session, user_id, now, api_keys=True)
