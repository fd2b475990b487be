"""Who acts, on both engines: signing in never creates an account; an SQLite file is used by its owner
(its oldest active admin) or as one of its existing accounts; a shared PostgreSQL database needs the
password (refused without one, a wrong one refused and audited); the first admin is made explicitly by
``db upgrade`` (``--admin NAME``), once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import AuditEntry, Role, User
from backoffice.operations import session
from backoffice.operations.local import LocalOperations
from backoffice.services import auth
from backoffice.services.base import Actor
from backoffice.services.users import ensure_user
from tests.conftest import STAFF_PASSWORD

NEW = "first admin's password"


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def count(db: Database, model: type = User, **where: object) -> int:
    with db.read() as s:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return s.scalar(query)


def cli(db: Database, *args: str, stdin: str | None = None, env: dict | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, [*args, "--db", url_of(db)], input=stdin, env=env)


def error_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def is_pg(db: Database) -> bool:
    return db.dialect == "postgresql"


# -- no implicit accounts ----------------------------------------------------------------------------------
def test_an_unknown_user_is_refused_by_session_connect_and_no_row_is_written(db: Database, actor: Actor) -> None:
    before_users, before_audit = count(db), count(db, AuditEntry)
    if is_pg(db):
        with pytest.raises(session.AuthenticationFailed, match="wrong user name or password"):
            session.connect(url_of(db), "nobody", password=STAFF_PASSWORD)
        assert count(db, AuditEntry) == before_audit + 1     # the failed login, audited (user id: none)
    else:
        with pytest.raises(session.UnknownAccount, match="no account named nobody: an admin creates it with "
                                                         "`backoffice users add nobody --role R`"):
            session.connect(url_of(db), "nobody")
        assert count(db, AuditEntry) == before_audit
    with pytest.raises(session.UnknownAccount):
        session.operations_for(db, "nobody")
    lazy = LocalOperations(db, None, sign_in="nobody", owns_database=False)
    with pytest.raises(session.UnknownAccount):
        lazy.stock.locations()
    assert count(db) == before_users


@pytest.mark.parametrize("command", [["stock", "levels"], ["categories", "add", "Clothing"], ["users", "whoami"]])
def test_an_unknown_user_is_refused_by_the_command_line_and_no_row_is_written(db: Database, actor: Actor,
                                                                             command: list[str]) -> None:
    before = count(db)
    result = cli(db, *command, "--user", "nobody")
    assert result.exit_code == 1
    expected = ("wrong user name or password" if is_pg(db) else
                "no account named nobody: an admin creates it with `backoffice users add nobody --role R`")
    assert error_line(result) == f"backoffice: error: {expected}"
    assert count(db) == before


def test_a_deactivated_account_is_refused(db: Database, actor: Actor) -> None:
    from backoffice.services import users

    ensure_user(db, "gone", Role.WAREHOUSE, password=STAFF_PASSWORD)
    users.deactivate(db, actor, "gone")
    result = cli(db, "users", "whoami", "--user", "gone")
    assert result.exit_code == 1 and error_line(result) == "backoffice: error: gone: account deactivated"


# -- PostgreSQL: proof -----------------------------------------------------------------------------------
@pytest.mark.postgres
def test_postgresql_without_a_password_is_refused(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_user(pg_db, "tester", password=STAFF_PASSWORD)
    monkeypatch.delenv("BACKOFFICE_PASSWORD")
    shown = pg_db.url.render_as_string(hide_password=True)
    result = cli(pg_db, "stock", "levels", "--user", "tester")
    assert result.exit_code == 1
    assert error_line(result) == (f"backoffice: error: {shown} is a shared PostgreSQL database: sign in with your "
                                  "password (--password-stdin, BACKOFFICE_PASSWORD, or run at a terminal)")
    with pytest.raises(session.SignInRequired, match="is a shared PostgreSQL database"):
        session.connect(url_of(pg_db), "tester")              # a name alone is no proof
    with pytest.raises(session.SignInRequired):
        session.connect(url_of(pg_db), as_owner=True)         # and a shared database has no owner mode
    assert count(pg_db, AuditEntry, action="login") == 0
    # Commands that need nobody still work without a password.
    assert cli(pg_db, "db", "current").exit_code == 0


@pytest.mark.postgres
def test_postgresql_wrong_password_is_refused_and_audited(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_user(pg_db, "tester", password=STAFF_PASSWORD)
    monkeypatch.setenv("BACKOFFICE_PASSWORD", "not the password")
    result = cli(pg_db, "categories", "add", "Clothing", "--user", "tester")
    assert result.exit_code == 1 and error_line(result) == "backoffice: error: wrong user name or password"
    assert count(pg_db, AuditEntry, action="login_failed", username="tester") == 1
    assert count(pg_db, AuditEntry, entity="category") == 0
    monkeypatch.delenv("BACKOFFICE_PASSWORD")
    typed = cli(pg_db, "--password-stdin", "users", "whoami", "--user", "tester", stdin=f"{STAFF_PASSWORD}\n")
    assert typed.exit_code == 0 and typed.output == "tester (admin)\n"
    assert count(pg_db, AuditEntry, action="login", username="tester") == 1


# -- SQLite: the owner -----------------------------------------------------------------------------------
def test_an_sqlite_file_is_used_by_its_owner(sqlite_db: Database, tmp_path: Path) -> None:
    ensure_user(sqlite_db, "olive")                           # the oldest admin
    ensure_user(sqlite_db, "adam", Role.ADMIN)
    ensure_user(sqlite_db, "mark", Role.MERCHANDISER)
    whoami = cli(sqlite_db, "users", "whoami")
    assert whoami.exit_code == 0 and whoami.output == "olive · owner of this file (admin)\n"
    assert cli(sqlite_db, "users", "whoami", "--user", "mark").output == "mark (merchandiser)\n"
    ops = session.connect(url_of(sqlite_db), as_owner=True)
    try:
        assert ops.owner_mode and ops.actor.username == "olive"
        assert ops.users.whoami().role == "admin"
        done = ops.store.add_category("Clothing")
        assert done is not None
    finally:
        ops.close()
    with sqlite_db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "category")).one()
        assert entry.username == "olive"                      # the owner acts, and is audited as such


def test_a_file_without_an_active_admin_has_no_owner(sqlite_db: Database) -> None:
    result = cli(sqlite_db, "users", "whoami")
    assert result.exit_code == 1
    assert "has no active admin to act as its owner" in error_line(result)
    assert count(sqlite_db) == 0


def test_a_new_file_of_the_app_is_made_with_its_owner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    ops = session.connect(url, as_owner=True, create_schema=True)
    try:
        assert ops.owner_mode and ops.actor.username == session.current_os_username()
        assert [(u.username, u.role) for u in ops.users.list()] == [(session.current_os_username(), "admin")]
    finally:
        ops.close()
    again = session.connect(url, as_owner=True, create_schema=True)   # opening it again adds nobody
    try:
        assert len(again.users.list()) == 1
    finally:
        again.close()


# -- the first admin -------------------------------------------------------------------------------------
def test_db_upgrade_admin_makes_exactly_one_admin_once(db: Database) -> None:
    made = cli(db, "db", "upgrade", "--admin", "chief", stdin=f"{NEW}\n{NEW}\n")
    assert made.exit_code == 0, made.output
    assert "chief: admin (id 1)" in made.output
    with db.read() as s:
        rows = s.execute(select(User.username, User.role, User.active, User.password_hash)).all()
    assert [(r.username, r.role, r.active) for r in rows] == [("chief", Role.ADMIN, True)]
    assert auth.login(db, "chief", NEW).role is Role.ADMIN
    audit_rows = count(db, AuditEntry)

    again = cli(db, "db", "upgrade", "--admin", "chief2", stdin=f"{NEW}\n{NEW}\n")
    assert again.exit_code == 0 and "has accounts already" in again.stderr
    with db.read() as s:
        assert s.execute(select(User.username, User.role, User.active, User.password_hash)).all() == rows
    assert count(db, AuditEntry) == audit_rows


def test_db_upgrade_without_admin_on_an_empty_database(db: Database) -> None:
    result = cli(db, "db", "upgrade")
    assert result.exit_code == 0
    if is_pg(db):
        assert "users bootstrap-admin NAME" in result.stderr and count(db) == 0
        needs = cli(db, "db", "upgrade", "--admin", "chief", stdin="")   # a shared database: a password is required
        assert needs.exit_code == 2 and "no password given" in needs.output and count(db) == 0
    else:
        owner = session.current_os_username()
        assert f"{owner}: admin (id 1), the owner of this file" in result.output
        assert cli(db, "users", "whoami").output == f"{owner} · owner of this file (admin)\n"
        assert cli(db, "db", "upgrade").exit_code == 0 and count(db) == 1
