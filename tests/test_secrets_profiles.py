"""Passwords go to the keyring or nowhere; profiles never hold them."""

from __future__ import annotations

import json

import keyring
import pytest
from keyring.backends import fail, null

from backoffice.config import ProfileError, ProfileStore, resolve_target, secret_key_for
from backoffice.connection import open_database
from backoffice.secrets import SERVICE, KeyringUnavailable, PasswordRequired, SecretStore
from sqlalchemy import make_url


def test_secret_store_uses_the_keyring(isolated_user_dirs) -> None:
    store = SecretStore()
    assert store.keyring_available()
    store.set("postgresql://staff@db:5432/shop", "s3cret")
    assert isolated_user_dirs.entries[(SERVICE, "postgresql://staff@db:5432/shop")] == "s3cret"
    assert store.get("postgresql://staff@db:5432/shop") == "s3cret"
    store.delete("postgresql://staff@db:5432/shop")
    assert store.get("postgresql://staff@db:5432/shop") is None


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_without_a_keyring_the_password_is_asked_each_session_never_stored(backend, tmp_path) -> None:
    keyring.set_keyring(backend)
    store = SecretStore()
    assert not store.keyring_available()
    with pytest.raises(KeyringUnavailable, match="asked for each session"):
        store.set("k", "pw")
    asked = []
    assert store.resolve("k", lambda key: asked.append(key) or "typed") == "typed"
    assert store.resolve("k", lambda key: asked.append(key) or "other") == "typed"  # once per session
    assert asked == ["k"]
    assert SecretStore().get("k") is None  # a new session knows nothing: nothing was written anywhere
    with pytest.raises(PasswordRequired):
        SecretStore().resolve("k", lambda key: None)
    assert SecretStore().resolve("k", None) is None


def test_plaintext_file_keyrings_count_as_no_keyring() -> None:
    from keyrings.alt.file import PlaintextKeyring

    assert not SecretStore(PlaintextKeyring()).keyring_available()


def test_profiles_never_store_passwords(isolated_user_dirs) -> None:
    store = ProfileStore()
    profile, password = store.save("shop", "postgresql://staff:hunter2@db.shop.lan:5433/shop", make_default=True)
    assert password == "hunter2"
    assert profile.url == "postgresql+psycopg://staff@db.shop.lan:5433/shop"
    raw = store.path.read_text()
    assert "hunter2" not in raw
    assert json.loads(raw)["default"] == "shop"
    assert profile.secret_key() == "postgresql://staff@db.shop.lan:5433/shop"
    assert store.get("shop") == profile
    store.save("local", "sqlite:////tmp/x.sqlite")
    assert [p.name for p in store.list()] == ["local", "shop"]
    assert resolve_target(None, None, store) == (profile.url, profile)  # the default profile
    assert resolve_target("sqlite:///y.sqlite", "shop", store)[0] == "sqlite:///y.sqlite"  # --db wins
    store.delete("shop")
    assert store.default().name == "local"
    with pytest.raises(ProfileError, match="unknown profile 'shop'"):
        store.get("shop")


def test_a_corrupt_profiles_file_is_a_clear_error(isolated_user_dirs) -> None:
    store = ProfileStore()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text("{not json")
    with pytest.raises(ProfileError, match="not readable"):
        store.list()


def test_secret_key_has_no_password() -> None:
    key = secret_key_for(make_url("postgresql+psycopg://a:b@h/db"))
    assert key == "postgresql://a@h:5432/db" and "b@" not in key


@pytest.mark.postgres
def test_open_database_uses_the_keyring_password(pg_server_url, isolated_user_dirs) -> None:
    """The test server trusts loopback, so any password is accepted; what is checked is that the keyring
    entry is looked up under the login's key and used for the connection."""
    url = make_url(pg_server_url)
    key = secret_key_for(url)
    SecretStore().set(key, "from-keyring")
    db = open_database(url.set(password=None).render_as_string(hide_password=False))
    try:
        assert db.url.password == "from-keyring"
        db.ping()
    finally:
        db.dispose()


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_profiles_add_without_a_keyring_saves_the_profile_and_exits_0_with_a_warning(backend) -> None:
    """One consistent outcome: the profile is saved (its password will be asked each session), the
    exit status says success, a warning says why the password was not kept, and no password is written."""
    from click.testing import CliRunner

    from backoffice.cli import main

    keyring.set_keyring(backend)
    result = CliRunner().invoke(main, ["profiles", "add", "shop", "postgresql://staff:pw123@db.lan/shop"])
    assert result.exit_code == 0, result.output
    assert "password not stored" in result.stderr and "asked for each session" in result.stderr
    store = ProfileStore()
    assert store.get("shop").url == "postgresql+psycopg://staff@db.lan/shop"
    assert "pw123" not in store.path.read_text()
    listed = CliRunner().invoke(main, ["profiles", "list"])
    assert listed.exit_code == 0 and "shop" in listed.output
