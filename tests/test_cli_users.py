"""The users and sessions commands: passwords typed twice or read as two lines, reset tokens, roles,
deactivation, the first admin, API keys and sessions. On SQLite and PostgreSQL (where each command signs
in with the password in BACKOFFICE_PASSWORD)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import AuditEntry, Role, User
from backoffice.services import auth, users
from backoffice.services.auth import AuthenticationFailed

PW = "correct horse battery"
TWICE = f"{PW}\n{PW}\n"       # a new password, typed twice


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def cli(runner: CliRunner, db: Database, *args: str, user: str | None = None, stdin: str | None = None,  # type: ignore[no-untyped-def]
        password: str = PW):
    extra = ["--user", user] if user else []
    return runner.invoke(main, [*args, "--db", url_of(db), *extra], input=stdin,
                         env={"BACKOFFICE_PASSWORD": password})


def error_line(result) -> str:  # type: ignore[no-untyped-def]
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture
def boss(runner: CliRunner, db: Database) -> str:
    made = cli(runner, db, "users", "bootstrap-admin", "boss", "--password-stdin", stdin=TWICE)
    assert made.exit_code == 0, made.output
    assert "boss: admin" in made.output             # the first account of an empty database, made explicitly
    return "boss"


def user_count(db: Database) -> int:
    with db.read() as session:
        return len(session.scalars(select(User.id)).all())


def test_adding_the_first_account_needs_an_admin(runner: CliRunner, db: Database) -> None:
    """On an empty database nobody may add accounts: the first admin is made explicitly."""
    refused = cli(runner, db, "users", "add", "boss", "--role", "admin", stdin=TWICE, user="boss")
    assert refused.exit_code == 1
    assert error_line(refused) in ("backoffice: error: no account named boss: an admin creates it with "
                                   "`backoffice users add boss --role R`",     # SQLite
                                   "backoffice: error: wrong user name or password")   # PostgreSQL: proof
    assert user_count(db) == 0


def test_add_with_a_password_on_stdin_and_without_one(runner: CliRunner, db: Database, boss: str) -> None:
    assert auth.login(db, "boss", PW).username == "boss"
    clerk = cli(runner, db, "users", "add", "clerk", "--role", "warehouse", "--password-stdin",
                stdin="clerk's secret\nclerk's secret\n", user=boss)
    assert clerk.exit_code == 0 and "clerk: warehouse" in clerk.output
    assert auth.login(db, "clerk", "clerk's secret").role is Role.WAREHOUSE
    bare = cli(runner, db, "users", "add", "bare", "--role", "warehouse", user=boss)   # empty stdin: no password
    assert bare.exit_code == 0, bare.output
    with pytest.raises(AuthenticationFailed):
        auth.login(db, "bare", "")
    differ = cli(runner, db, "users", "add", "x", "--password-stdin", stdin="one password\nanother one\n", user=boss)
    assert differ.exit_code == 2 and "differ" in differ.output
    missing = cli(runner, db, "users", "add", "x", "--password-stdin", user=boss)
    assert missing.exit_code == 2 and "no password" in missing.output
    once = cli(runner, db, "users", "add", "x", stdin="only once\n", user=boss)
    assert once.exit_code == 2 and "twice" in once.output
    short = cli(runner, db, "users", "add", "x", stdin="short\nshort\n", user=boss)
    assert short.exit_code == 1 and "at least 8" in error_line(short)
    help_text = runner.invoke(main, ["users", "add", "--help"]).output
    assert "cannot log in" in help_text and "--password-stdin" in help_text


def test_only_an_admin_adds_or_promotes(runner: CliRunner, db: Database, boss: str) -> None:
    cli(runner, db, "users", "add", "clerk", "--role", "warehouse", stdin=TWICE, user=boss)
    refused = cli(runner, db, "users", "add", "mallory", "--role", "admin", user="clerk")
    assert refused.exit_code == 1
    assert error_line(refused).startswith("backoffice: error: clerk (warehouse) may not run users.add; "
                                          "it needs the role admin")
    before = user_count(db)
    stranger = cli(runner, db, "users", "add", "mallory", "--role", "admin", user="someone-new")
    assert stranger.exit_code == 1 and ("no account named someone-new" in error_line(stranger)
                                        or "wrong user name or password" in error_line(stranger))
    assert user_count(db) == before         # an unknown name is refused, never made an account
    promote = cli(runner, db, "users", "role", "clerk", "admin", user="clerk")
    assert promote.exit_code == 1 and "needs the role admin" in error_line(promote)
    listed = cli(runner, db, "users", "list", user=boss).output
    assert "mallory" not in listed and "someone-new" not in listed and re.search(r"clerk\s+warehouse\s+active", listed)
    promoted = cli(runner, db, "users", "role", "clerk", "purchaser", user=boss)
    assert promoted.exit_code == 0 and "clerk: purchaser" in promoted.output
    with db.read() as session:
        created = session.scalars(select(AuditEntry.username).where(AuditEntry.entity == "user",
                                                                     AuditEntry.action == "create")).all()
    # boss made himself (the first) and clerk; nobody else made anything
    assert created == ["boss", "boss"]


def test_deactivate_keeps_the_last_admin(runner: CliRunner, db: Database, boss: str) -> None:
    cli(runner, db, "users", "add", "clerk", "--role", "purchaser", stdin=TWICE, user=boss)
    last = cli(runner, db, "users", "deactivate", "boss", user=boss)
    assert last.exit_code == 1 and "last active admin" in error_line(last)
    demote = cli(runner, db, "users", "role", "boss", "manager", user=boss)
    assert demote.exit_code == 1 and "last active admin" in error_line(demote)
    done = cli(runner, db, "users", "deactivate", "clerk", user=boss)
    assert done.exit_code == 0 and "clerk: deactivated" in done.output
    assert re.search(r"clerk\s+purchaser\s+inactive", cli(runner, db, "users", "list", user=boss).output)
    acting = cli(runner, db, "categories", "add", "Clothing", user="clerk")   # a deactivated user writes nothing
    assert acting.exit_code == 1 and error_line(acting) == "backoffice: error: clerk: account deactivated"


def test_passwd_and_reset_tokens(runner: CliRunner, db: Database, boss: str) -> None:
    made = cli(runner, db, "users", "add", "clerk", "--role", "warehouse", "--reset-token", user=boss)
    assert made.exit_code == 0, made.output
    token = re.search(r"\(shown once\): (\S+)", made.output)[1]
    assert auth.reset_password(db, token, "chosen by clerk").username == "clerk"
    assert auth.login(db, "clerk", "chosen by clerk").username == "clerk"
    changed = cli(runner, db, "users", "passwd", "clerk", stdin="a newer secret\na newer secret\n", user="clerk",
                  password="chosen by clerk")
    assert changed.exit_code == 0 and "Password of clerk set." in changed.output
    assert auth.login(db, "clerk", "a newer secret").username == "clerk"
    others = cli(runner, db, "users", "passwd", "boss", stdin="taken over!\ntaken over!\n", user="clerk",
                 password="a newer secret")
    assert others.exit_code == 1 and "needs the role admin" in error_line(others)
    by_admin = cli(runner, db, "users", "passwd", "clerk", "--reset-token", user=boss)
    assert by_admin.exit_code == 0 and "shown once" in by_admin.output


def test_bootstrap_admin_only_without_one(runner: CliRunner, db: Database) -> None:
    first = cli(runner, db, "users", "bootstrap-admin", "alice", "--password-stdin", stdin=TWICE)
    assert first.exit_code == 0 and "alice: admin" in first.output
    assert auth.login(db, "alice", PW).role is Role.ADMIN
    again = cli(runner, db, "users", "bootstrap-admin", "mallory")
    assert again.exit_code == 1 and "active admin already" in error_line(again)
    with db.read() as session:
        assert session.scalar(select(User).where(User.username == "mallory")) is None


def test_api_keys_and_sessions(runner: CliRunner, db: Database, boss: str) -> None:
    cli(runner, db, "users", "add", "clerk", "--role", "warehouse", stdin=TWICE, user=boss)
    made = cli(runner, db, "users", "api-key", "clerk", "scanner", user=boss)
    assert made.exit_code == 0, made.output
    key = re.search(r"store it now\): (\S+)", made.output)[1]
    assert auth.verify_access_token(db, key).username == "clerk"
    refused = cli(runner, db, "users", "api-key", "boss", "mine", user="clerk")
    assert refused.exit_code == 1 and "needs the role admin" in error_line(refused)
    tokens = auth.issue_tokens(db, auth.login(db, "clerk", PW))
    listed = cli(runner, db, "sessions", "list", user=boss)
    assert listed.exit_code == 0
    assert re.search(r"clerk\s+api_key scanner", listed.output) and re.search(r"clerk\s+session", listed.output)
    own = cli(runner, db, "sessions", "list", user="clerk")
    assert len(own.output.strip().splitlines()) == 2
    ended = cli(runner, db, "sessions", "revoke", str(tokens.session_id), user="clerk")
    assert ended.exit_code == 0 and f"Session {tokens.session_id} revoked." in ended.output
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, tokens.access)
    key_id = users_key_id(db)
    cli(runner, db, "sessions", "revoke", str(key_id), user=boss)
    with pytest.raises(AuthenticationFailed):
        auth.verify_access_token(db, key)
    gone = cli(runner, db, "sessions", "revoke", str(key_id), user=boss)
    assert gone.exit_code == 1 and "no live session" in error_line(gone)
    assert "No live sessions" in cli(runner, db, "sessions", "list", user=boss).output


def users_key_id(db: Database) -> int:
    from backoffice.models import AuthToken

    with db.read() as session:
        return session.scalar(select(AuthToken.id).where(AuthToken.kind == "api_key"))


def test_has_active_admin(db: Database, boss: str) -> None:
    assert users.has_active_admin(db)
