"""Connection profiles dialog: passwords go to the keyring only; test connection runs in the background."""

from __future__ import annotations

import keyring.backends.fail
import pytest
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import make_url

from backoffice import migrations
from backoffice.config import ProfileStore, secret_key_for
from backoffice.db import Database
from backoffice.secrets import SERVICE, SecretStore
from backoffice.ui.dialogs.profiles import ProfilesDialog

PG_URL = "postgresql+psycopg://staff@db.shop.lan:5432/shop"


@pytest.fixture
def store(tmp_path) -> ProfileStore:  # type: ignore[no-untyped-def]
    return ProfileStore(tmp_path / "profiles.json")


@pytest.fixture
def open_dialog(qtbot, tasks):  # type: ignore[no-untyped-def]
    def open_(store: ProfileStore, secrets: SecretStore | None = None) -> ProfilesDialog:
        dialog = ProfilesDialog(store, secrets or SecretStore(), tasks)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return open_


def fill_postgres(dialog: ProfilesDialog, *, name: str = "Shop HQ", host: str = "db.shop.lan", port: int = 5432,
                  database: str = "shop", user: str = "staff", password: str = "") -> None:
    dialog.new_profile()
    dialog.name.setText(name)
    dialog.pg_radio.setChecked(True)
    dialog.host.setText(host)
    dialog.port.setValue(port)
    dialog.database.setText(database)
    dialog.user.setText(user)
    dialog.password.setText(password)


def test_save_keeps_the_password_out_of_the_profile_and_in_the_keyring(qtbot, store, open_dialog,
                                                                       isolated_user_dirs) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(store)
    assert dialog.host.isVisible() and not dialog.path.isVisible()  # a new profile starts as PostgreSQL
    fill_postgres(dialog, password="s3cret-pw")
    dialog.acting_user.setText("alice")
    profile = dialog.save()

    assert profile is not None and profile.url == PG_URL and profile.username == "alice"
    assert "s3cret-pw" not in store.path.read_text(encoding="utf-8")
    assert store.get("Shop HQ") == profile
    key = secret_key_for(make_url(PG_URL))
    assert isolated_user_dirs.entries[(SERVICE, key)] == "s3cret-pw"
    assert dialog.password.text() == ""
    assert "password is in the system keyring" in dialog.banner.text.text()
    assert dialog.profile_names() == ["Shop HQ"]


def test_without_a_keyring_the_user_is_told_and_nothing_is_written(qtbot, store, open_dialog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secrets = SecretStore(backend=keyring.backends.fail.Keyring())
    dialog = open_dialog(store, secrets)
    fill_postgres(dialog, password="s3cret-pw")
    profile = dialog.save()

    assert profile is not None
    assert dialog.banner.property("level") == "warning"
    assert "asked for each session" in dialog.banner.text.text()
    assert secrets.get(profile.secret_key()) == "s3cret-pw"  # this session only
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"s3cret-pw" not in path.read_bytes(), path


def test_edit_rename_and_delete(qtbot, monkeypatch, store, open_dialog, isolated_user_dirs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(store)
    fill_postgres(dialog, password="pw")
    dialog.save()
    dialog.new_profile()
    dialog.name.setText("Laptop")
    dialog.sqlite_radio.setChecked(True)
    assert dialog.path.isVisible() and not dialog.host.isVisible()
    dialog.path.setText(str(tmp_path / "laptop.sqlite"))
    dialog.save()
    assert dialog.profile_names() == ["Laptop", "Shop HQ"]

    dialog.select_profile("Shop HQ")
    assert dialog.host.text() == "db.shop.lan" and dialog.password.text() == ""
    assert dialog.make_default.isChecked()  # the first profile saved became the default
    dialog.name.setText("Shop")
    dialog.database.setText("shop2")
    dialog.save()
    assert dialog.profile_names() == ["Laptop", "Shop"]
    assert store.get("Shop").url.endswith("/shop2")

    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    old_key = secret_key_for(make_url(PG_URL))
    dialog.select_profile("Shop")
    dialog.delete_profile()
    assert dialog.profile_names() == ["Laptop"]
    assert [p.name for p in store.list()] == ["Laptop"]
    assert (SERVICE, old_key) in isolated_user_dirs.entries  # the renamed profile points at shop2: key differs


def test_invalid_forms_are_not_saved(qtbot, store, open_dialog) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(store)
    fill_postgres(dialog, name="")
    assert dialog.save() is None
    assert dialog.banner.text.text() == "Not saved: a profile needs a name"
    fill_postgres(dialog, host="")
    assert dialog.save() is None
    assert "host" in dialog.banner.text.text()
    assert store.list() == []


def test_test_connection_reports_success_in_the_background(qtbot, store, open_dialog, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(store)
    dialog.new_profile()
    dialog.sqlite_radio.setChecked(True)
    dialog.path.setText(str(sqlite_db.url.database))
    dialog.test_button.click()
    assert dialog.testing and not dialog.test_button.isEnabled()
    assert dialog.test_result.text() == "Testing…"
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    assert dialog.test_result.text() == "Connected. The schema is up to date."
    assert dialog.test_result.objectName() == "SuccessText"


def test_test_connection_reports_a_missing_schema(qtbot, store, open_dialog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(store)
    dialog.new_profile()
    dialog.sqlite_radio.setChecked(True)
    dialog.path.setText(str(tmp_path / "empty.sqlite"))
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    assert dialog.test_result.text().startswith("Connected, but:")
    assert "backoffice db upgrade" in dialog.test_result.text()


def test_test_connection_shows_the_error_line(qtbot, store, open_dialog) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(store)
    fill_postgres(dialog, host="127.0.0.1", port=1, password="x")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=15_000)
    assert dialog.test_result.text().startswith("cannot connect to postgresql+psycopg://staff:***@127.0.0.1:1/shop")
    assert "staff:x@" not in dialog.test_result.text()  # never the password
    assert "\n" not in dialog.test_result.text()
    assert dialog.test_result.objectName() == "ErrorText"


def test_a_test_result_for_an_older_form_is_dropped(qtbot, store, open_dialog, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(store)
    dialog.new_profile()
    dialog.sqlite_radio.setChecked(True)
    dialog.path.setText(str(sqlite_db.url.database))
    dialog.test_button.click()
    dialog.path.setText(str(sqlite_db.url.database) + ".other")  # edited while the test runs
    qtbot.waitUntil(lambda: not dialog.testing, timeout=10_000)
    assert dialog.test_result.text() == ""


@pytest.mark.postgres
def test_test_connection_on_postgresql(qtbot, store, open_dialog, pg_server_url) -> None:  # type: ignore[no-untyped-def]
    u = make_url(pg_server_url)
    dialog = open_dialog(store)
    fill_postgres(dialog, host=u.host or "localhost", port=u.port or 5432, database=u.database or "",
                  user=u.username or "", password=str(u.password or ""))
    dialog.test_button.click()
    qtbot.waitUntil(lambda: not dialog.testing, timeout=15_000)
    assert dialog.test_result.text() == "Connected. The schema is up to date."


def test_save_and_connect_hands_the_profile_over(qtbot, store, open_dialog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'other.sqlite'}")
    migrations.upgrade(db)
    db.dispose()
    dialog = open_dialog(store)
    dialog.new_profile()
    dialog.name.setText("Other")
    dialog.sqlite_radio.setChecked(True)
    dialog.path.setText(str(tmp_path / "other.sqlite"))
    with qtbot.waitSignal(dialog.connect_requested, timeout=1_000) as blocker:
        dialog.connect_button.click()
    assert blocker.args[0].name == "Other"
    assert not dialog.isVisible()
