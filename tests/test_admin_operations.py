"""The users and admin areas of the operations contract, and opening it (``session``): who acts, staff
accounts, the schema, what an operation id already did, and a connection test that writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from backoffice import migrations
from backoffice.db import Database
from backoffice.models import Changeset, User
from backoffice.operations import ValidationError, collecting, merge
from backoffice.operations.changes import USERS
from backoffice.operations.session import (
    DatabaseUnreachable,
    SchemaNotMigrated,
    UnknownAccount,
    check_connection,
    connect,
    current_os_username,
    operations_for,
)
from backoffice.services.settings import SmtpSettings, save_smtp
from backoffice.services.users import ensure_user, list_users


def _usernames(url: str) -> list[str]:
    db = Database(url)
    try:
        return [u["username"] for u in list_users(db)]
    finally:
        db.dispose()


def _user_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_accounts_the_first_of_which_is_an_admin(db: Database) -> None:
    ensure_user(db, "owner")                  # made on purpose: signing in creates no account
    ops = operations_for(db, "owner")
    me = ops.users.whoami()
    assert (me.username, me.role) == ("owner", "admin")
    with collecting() as noted:
        clerk = ops.users.add("clerk", role="warehouse", display_name="Clerk One")
    assert (clerk.username, clerk.role, clerk.display_name, clerk.active) == ("clerk", "warehouse", "Clerk One", True)
    changes = merge(noted)
    assert changes.concerns(USERS) and changes.ids_of("user") == {clerk.id}
    again = ops.users.add("clerk", role="manager")   # an account that exists is returned as it is
    assert (again.id, again.role) == (clerk.id, "warehouse")
    assert [(u.username, u.role) for u in ops.users.list()] == [("clerk", "warehouse"), ("owner", "admin")]
    with pytest.raises(ValidationError, match="role"):
        ops.users.add("boss", role="owner")


def test_schema_work_without_signing_in(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    with pytest.raises(SchemaNotMigrated, match="db upgrade"):
        connect(url, "someone")
    ops = connect(url, None, require_schema=False)
    try:
        assert ops.actor is None
        status = ops.admin.schema()
        assert status.current is None and not status.up_to_date and "db upgrade" in status.problem
        with collecting() as noted:
            done = ops.admin.upgrade()
        assert done.changed and done.before is None and done.after == migrations.head_revision()
        assert merge(noted).everything   # a new schema: whatever a client shows may have changed
        status = ops.admin.schema()
        assert status.up_to_date and status.problem == ""
        with collecting() as noted:
            assert not ops.admin.upgrade().changed
        assert not merge(noted)
        assert ops.admin.demo_state() == "empty"
        with pytest.raises(UnknownAccount, match="no account named someone"):
            connect(url, "someone")           # no account is made by signing in
        assert not ops.has_accounts()
        made = ops.create_first_admin("someone")
        assert made is not None and made.role.value == "admin"
        assert ops.create_first_admin("other") is None and _usernames(url) == ["someone"]
    finally:
        ops.close()
    signed_in = connect(url, "someone")
    try:
        assert signed_in.users.whoami().role == "admin"   # the first account of the database
    finally:
        signed_in.close()


def test_connect_creates_the_schema_of_an_empty_file_when_asked(tmp_path: Path) -> None:
    steps: list[tuple[float | None, str | None]] = []
    ops = connect(f"sqlite:///{tmp_path / 'own.sqlite'}", as_owner=True, create_schema=True,
                  progress=lambda fraction, text: steps.append((fraction, text)))
    try:   # the new file's first admin is its owner, named after the login
        assert ops.admin.schema().up_to_date and ops.users.whoami().username == current_os_username()
        assert ops.owner_mode
    finally:
        ops.close()
    assert [text for _f, text in steps] == ["Opening the database…", "Creating the database…", "Checking the schema…",
                                            "Signing in as the owner of this file…", "Connected"]


def test_a_connection_test_reports_the_schema_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    url = db.url.render_as_string(hide_password=False)
    checked = check_connection(url)
    assert checked.schema.up_to_date and checked.url == db.display_url()
    assert _user_count(db) == 0   # nobody signed in
    empty = check_connection(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert empty.schema.current is None and "db upgrade" in empty.schema.problem
    with pytest.raises(DatabaseUnreachable, match="cannot connect"):
        check_connection("postgresql://staff@127.0.0.1:9/shop")


def test_what_an_operation_id_already_did(db: Database) -> None:
    ensure_user(db, "owner")
    ops = operations_for(db, "owner")
    assert ops.admin.previous_result("op-mail-1", "save_smtp") is None
    assert ops.admin.previous_result(None, "save_smtp") is None
    save_smtp(db, ops.actor, SmtpSettings(host="mail.example", sender="shop@example.com",
                                          recipients=("boss@example.com",)), operation_id="op-mail-1")
    assert ops.admin.previous_result("op-mail-1", "save_smtp")["host"] == "mail.example"
    with pytest.raises(ValidationError, match="already used for save_smtp"):
        ops.admin.previous_result("op-mail-1", "ship_transfer")

    assert ops.admin.previous_changeset("op-bulk-1") is None
    with db.write() as session:
        session.add(Changeset(operation_id="op-bulk-1", user_id=ops.actor.user_id, username="owner", kind="bulk",
                              description="Prices +5%", row_count=12))
    found = ops.admin.previous_changeset("op-bulk-1")
    assert found is not None and (found.rows, found.description) == (12, "Prices +5%") and found.id > 0
