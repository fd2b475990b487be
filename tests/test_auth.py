"""Proven identity (services/auth.py, services/users.py and their operations): argon2id passwords, login
with lockout, one-time reset tokens, access/refresh tokens, API keys, sessions, and who may administer
accounts. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import undefer

from backoffice.db import Database
from backoffice.models import AuditEntry, AuthToken, Role, User, utcnow
from backoffice.operations.auth import AccountLocked, AuthenticationFailed
from backoffice.operations.base import NotFound, PermissionDenied, ValidationError
from backoffice.operations.local import LocalOperations
from backoffice.services import auth, users
from backoffice.services.base import Actor
from backoffice.services.users import ensure_user

PW = "correct horse battery"


def _user(db: Database, name: str) -> User:
    with db.read() as session:
        user = session.scalar(select(User).options(undefer(User.password_hash), undefer(User.password_reset_hash))
                              .where(User.username == name))
        assert user is not None
        session.expunge(user)
        return user


def _audit(db: Database, action: str | None = None) -> list[AuditEntry]:
    with db.read() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        rows = list(session.scalars(stmt))
        for r in rows:
            session.expunge(r)
        return rows


@pytest.fixture
def admin(db: Database) -> Actor:
    made, created = users.create_user(db, None, "root", Role.ADMIN, password=PW)
    assert created and made.role is Role.ADMIN    # the first account of an empty database
    return made


@pytest.fixture
def clerk(db: Database, admin: Actor) -> Actor:
    made, _ = users.create_user(db, admin, "clerk", Role.WAREHOUSE, password=PW)
    return made


def test_the_password_is_stored_as_an_argon2id_hash(db: Database, admin: Actor) -> None:
    stored = _user(db, "root").password_hash
    assert stored is not None and stored.startswith("$argon2id$") and PW not in stored
    assert auth.login(db, "root", PW) == admin
    with pytest.raises(ValidationError, match="at least 8"):
        auth.set_password(db, admin, "root", "short")
    for row in _audit(db):                      # no audit row carries the password or its hash
        assert PW not in repr((row.before, row.after)) and "argon2" not in repr((row.before, row.after))


def test_wrong_password_and_unknown_user_fail_alike_and_are_counted(db: Database, clerk: Actor) -> None:
    with pytest.raises(AuthenticationFailed) as wrong:
        auth.login(db, "clerk", "not the password")
    with pytest.raises(AuthenticationFailed) as unknown:
        auth.login(db, "nobody", "not the password")
    assert str(wrong.value) == str(unknown.value) == auth.WRONG_CREDENTIALS
    assert _user(db, "clerk").failed_logins == 1
    failed = _audit(db, "login_failed")
    assert [(r.username, r.user_id is None) for r in failed] == [("clerk", False), ("nobody", True)]



def test_an_account_without_a_password_cannot_log_in(db: Database, admin: Actor) -> None:
    users.create_user(db, admin, "nopass", Role.WAREHOUSE)
    for attempt in ("", "anything at all"):
        with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
            auth.login(db, "nopass", attempt)


def test_five_failures_lock_for_a_growing_delay_and_success_resets(db: Database, clerk: Actor) -> None:
    t0 = utcnow()
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            auth.login(db, "clerk", "wrong password", now=t0)
    assert auth.login(db, "clerk", PW, now=t0) == clerk        # a success resets the count
    assert _user(db, "clerk").failed_logins == 0
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.login(db, "clerk", "wrong password", now=t0)
    first_lock = _user(db, "clerk").locked_until
    assert first_lock == pytest.approx(t0 + dt.timedelta(minutes=1), abs=dt.timedelta(seconds=1))
    with pytest.raises(AccountLocked):                        # even the right password, while locked
        auth.login(db, "clerk", PW, now=t0 + dt.timedelta(seconds=30))
    t1 = t0 + dt.timedelta(minutes=1, seconds=1)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.login(db, "clerk", "wrong password", now=t1)
    second_lock = _user(db, "clerk").locked_until
    assert second_lock == pytest.approx(t1 + dt.timedelta(minutes=2), abs=dt.timedelta(seconds=1))  # doubled
    t2 = t1 + dt.timedelta(minutes=2, seconds=1)
    assert auth.login(db, "clerk", PW, now=t2) == clerk
    after = _user(db, "clerk")
    assert after.failed_logins == 0 and after.locked_until is None
    assert len(_audit(db, "lock")) == 2 and len(_audit(db, "login_locked")) == 1
    assert [r.username for r in _audit(db, "login")] == ["clerk", "clerk"]


def test_a_reset_token_works_once(db: Database, admin: Actor, clerk: Actor) -> None:
    with pytest.raises(PermissionDenied):
        auth.issue_reset_token(db, clerk, "clerk")           # only an admin issues one
    token = auth.issue_reset_token(db, admin, "clerk")
    assert _user(db, "clerk").password_reset_hash == auth.token_digest(token)
    assert auth.reset_password(db, token, "a brand new secret") == clerk
    assert auth.login(db, "clerk", "a brand new secret") == clerk
    with pytest.raises(AuthenticationFailed, match="reset token"):
        auth.reset_password(db, token, "yet another secret")
    late = auth.issue_reset_token(db, admin, "clerk", ttl=dt.timedelta(minutes=5))
    with pytest.raises(AuthenticationFailed, match="reset token"):
        auth.reset_password(db, late, "yet another secret", now=utcnow() + dt.timedelta(minutes=6))


def test_tokens_expire_refresh_once_and_revoke(db: Database, clerk: Actor) -> None:
    t0 = utcnow()
    access, refresh_token = auth.issue_tokens(db, clerk, now=t0)
    with db.read() as session:
        stored = set(session.scalars(select(AuthToken.token_hash)))
    assert access not in stored and refresh_token not in stored and auth.token_digest(access) in stored
    assert auth.verify_access_token(db, access, now=t0 + dt.timedelta(minutes=14)) == clerk
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, access, now=t0 + dt.timedelta(minutes=16))     # expired
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, refresh_token)          # a refresh token is not an access token
    renewed = auth.refresh(db, refresh_token)
    assert auth.verify_access_token(db, renewed.access) == clerk
    with pytest.raises(AuthenticationFailed):
        auth.refresh(db, refresh_token)                       # used up
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, access)                  # the old session's access token ended with it
    auth.revoke(db, renewed.access)                           # logout
    for token in (renewed.access, renewed.refresh):
        with pytest.raises(AuthenticationFailed):
            auth.verify_access_token(db, token)
    with pytest.raises(AuthenticationFailed):
        auth.refresh(db, renewed.refresh)
    with pytest.raises(AuthenticationFailed):
        auth.refresh(db, refresh_token, now=t0 + dt.timedelta(days=31))
    assert [r.username for r in _audit(db, "logout")] == ["clerk"]


def test_an_api_key_verifies_to_its_user_and_is_revocable(db: Database, admin: Actor, clerk: Actor) -> None:
    with pytest.raises(PermissionDenied, match="admin"):
        auth.create_api_key(db, clerk, "clerk", "scanner")
    key = auth.create_api_key(db, admin, "clerk", "scanner")
    assert auth.verify_access_token(db, key) == clerk        # the key's user, not the admin who made it
    with db.read() as session:
        row = session.scalar(select(AuthToken).where(AuthToken.kind == "api_key"))
        assert row.token_hash == auth.token_digest(key) and row.expires_at is None and row.last_used_at
    listed = auth.list_sessions(db, admin)
    assert [(s["username"], s["kind"], s["name"]) for s in listed] == [("clerk", "api_key", "scanner")]
    assert auth.list_sessions(db, clerk)[0]["id"] == row.id
    created = _audit(db, "create")[-1]
    assert (created.entity, created.username, created.after["name"]) == ("auth_token", "root", "scanner")
    auth.revoke_session(db, admin, row.id)
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, key)
    with pytest.raises(NotFound):
        auth.revoke_session(db, admin, row.id)
    assert [r.username for r in _audit(db, "revoke")] == ["root"]


def test_sessions_are_listed_and_ended_by_their_owner_or_an_admin(db: Database, admin: Actor, clerk: Actor) -> None:
    mine = auth.issue_tokens(db, clerk)
    theirs = auth.issue_tokens(db, admin)
    assert [s["id"] for s in auth.list_sessions(db, clerk)] == [mine.session_id]
    assert {s["id"] for s in auth.list_sessions(db, admin)} == {mine.session_id, theirs.session_id}
    assert [s["id"] for s in auth.list_sessions(db, admin, username="root")] == [theirs.session_id]
    with pytest.raises(PermissionDenied):
        auth.revoke_session(db, clerk, theirs.session_id)
    auth.revoke_session(db, clerk, mine.session_id)
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, mine.access)
    assert auth.verify_access_token(db, theirs.access) == admin


def test_a_password_change_ends_sessions(db: Database, admin: Actor, clerk: Actor) -> None:
    session = auth.issue_tokens(db, clerk)
    with pytest.raises(PermissionDenied):
        auth.set_password(db, clerk, "root", "taking over root")   # not another's password
    auth.set_password(db, clerk, "clerk", "my own new secret")
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, session.access)
    auth.set_password(db, admin, "clerk", "set by the admin")
    assert auth.login(db, "clerk", "set by the admin") == clerk
    assert [r.username for r in _audit(db, "password")] == ["clerk", "root"]


def test_a_deactivated_account_is_refused_everywhere(db: Database, admin: Actor, clerk: Actor) -> None:
    tokens = auth.issue_tokens(db, clerk)
    key = auth.create_api_key(db, admin, "clerk", "scanner")
    with pytest.raises(PermissionDenied):
        users.deactivate(db, clerk, "root")
    users.deactivate(db, admin, "clerk")
    with pytest.raises(AuthenticationFailed, match="deactivated"):
        auth.login(db, "clerk", PW)
    for token in (tokens.access, key):
        with pytest.raises(AuthenticationFailed):
            auth.verify_access_token(db, token)
    with pytest.raises(AuthenticationFailed):
        auth.refresh(db, tokens.refresh)
    with pytest.raises(PermissionDenied, match="account deactivated"):
        ensure_user(db, "clerk")                              # signing a deactivated user in
    with pytest.raises(PermissionDenied, match="account deactivated"):
        auth.issue_tokens(db, clerk)                          # an actor held from before
    with pytest.raises(PermissionDenied, match="account deactivated"):
        users.create_user(db, clerk, "newbie", Role.MERCHANDISER)
    deactivated = _audit(db, "deactivate")
    assert [(r.username, r.after["active"]) for r in deactivated] == [("root", False)]


def test_the_last_active_admin_is_kept(db: Database, admin: Actor, clerk: Actor) -> None:
    with pytest.raises(PermissionDenied, match="last active admin"):
        users.deactivate(db, admin, "root")
    with pytest.raises(PermissionDenied, match="last active admin"):
        users.set_role(db, admin, "root", Role.MANAGER)
    users.set_role(db, admin, "clerk", Role.ADMIN)
    second = auth.login(db, "clerk", PW)
    assert second.role is Role.ADMIN
    users.set_role(db, second, "root", Role.MANAGER)          # there is another admin now
    with pytest.raises(PermissionDenied, match="last active admin"):
        users.deactivate(db, second, "clerk")
    roles = [(r.username, r.before, r.after) for r in _audit(db, "role")]
    assert roles == [("root", {"role": "warehouse"}, {"role": "admin"}),
                     ("clerk", {"role": "admin"}, {"role": "manager"})]


def test_only_an_admin_creates_or_promotes_accounts(db: Database, admin: Actor, clerk: Actor) -> None:
    with pytest.raises(PermissionDenied, match="clerk \\(warehouse\\) may not create accounts"):
        users.create_user(db, clerk, "mallory", Role.ADMIN)
    with pytest.raises(PermissionDenied, match="only an admin"):
        users.create_user(db, None, "mallory", Role.ADMIN)
    with pytest.raises(PermissionDenied):
        users.set_role(db, clerk, "clerk", Role.ADMIN)
    with pytest.raises(PermissionDenied):
        users.bootstrap_admin(db, "mallory")                  # an active admin exists
    made, created = users.create_user(db, admin, "buyer", Role.PURCHASER)
    assert created and made.role is Role.PURCHASER
    same, again = users.create_user(db, clerk, "buyer", Role.ADMIN)   # an existing account, as it is
    assert (same, again) == (made, False)
    creations = [(r.entity_id, r.username) for r in _audit(db, "create") if r.entity == "user"]
    assert creations == [(str(admin.user_id), "root"), (str(clerk.user_id), "root"), (str(made.user_id), "root")]
    with db.read() as session:
        assert session.scalar(select(User.id).where(User.username == "mallory")) is None


def test_bootstrap_admin_only_without_an_active_admin(db: Database) -> None:
    # a database whose first account was made before this rule, and then lost its admin role
    first = ensure_user(db, "old")
    db.run_write(lambda s: s.get(User, first.user_id).__setattr__("role", Role.MANAGER))
    assert not users.has_active_admin(db)
    boss, created = users.bootstrap_admin(db, "boss", password=PW)
    assert created and boss.role is Role.ADMIN and auth.login(db, "boss", PW) == boss
    with pytest.raises(PermissionDenied, match="active admin already"):
        users.bootstrap_admin(db, "old")


def test_the_operations_contract(db: Database, admin: Actor) -> None:
    ops = LocalOperations(db, admin)
    clerk = ops.users.add("clerk", role="warehouse", password=PW)
    assert clerk.role == "warehouse"
    pair = ops.auth.login("clerk", PW)
    assert ops.auth.verify(pair.access_token).username == "clerk"
    assert pair.to_json()["token_type"] == "bearer" and "refresh_token" in pair.to_json()
    again = ops.auth.refresh(pair.refresh_token)
    assert [s.id for s in ops.users.sessions("clerk")] == [again.session_id]
    key = ops.users.create_api_key("clerk", "till")
    assert ops.auth.verify(key).username == "clerk"
    ops.users.revoke_session(again.session_id)
    with pytest.raises(AuthenticationFailed):
        ops.auth.verify(again.access_token)
    assert ops.users.set_role("clerk", "purchaser").role == "purchaser"
    ops.users.set_password("clerk", "another password")
    assert ops.auth.login("clerk", "another password").access_token
    assert ops.users.deactivate("clerk").active is False
    with pytest.raises(AuthenticationFailed):
        ops.auth.verify(key)
    clerk_ops = LocalOperations(db, Actor(clerk.id, "clerk", Role.PURCHASER))
    with pytest.raises(PermissionDenied):
        clerk_ops.users.add("eve", role="admin")
    with pytest.raises(ValidationError, match="role"):
        ops.users.set_role("root", "owner")


def test_session_login_opens_the_contract_as_the_proven_user(db: Database, admin: Actor) -> None:
    from backoffice.operations.session import login

    url = db.url.render_as_string(hide_password=False)
    if db.dialect == "postgresql":
        # root has a login of its own, which this test server lets in without a password (it trusts
        # loopback); the account's own password is what is tested here (logins: test_staff_logins.py)
        with db.engine.begin() as conn:
            role_name = conn.exec_driver_sql("UPDATE users SET db_login = NULL WHERE username = 'root' RETURNING "
                                         "(SELECT db_login FROM users WHERE username = 'root')").scalar_one()
            conn.exec_driver_sql(f'DROP ROLE "{role_name}"')
    with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
        login(url, "root", "not it")
    ops = login(url, "root", PW)
    try:
        assert ops.actor == admin and ops.users.whoami().username == "root"
    finally:
        ops.close()
