"""Password handling against a real PostgreSQL that demands one.

The shared test server trusts loopback connections, so this module starts a small server of its own
(initdb with scram-sha-256 authentication, on a free port, in a temporary folder) and stops it at the
end. Needs the PostgreSQL server binaries, which this machine kind has (they also run the shared one).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.config import ProfileStore
from backoffice.connection import WrongPassword, open_database
from backoffice.secrets import SecretStore

from tests.conftest import ON_CI

PASSWORD = "correct horse"


def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    versions = sorted(root.iterdir(), reverse=True)
    return versions[0] / "bin" if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def secured_server() -> Iterator[str]:
    bindir = _pg_bin()
    if bindir is None or not (bindir / "initdb").exists():
        if ON_CI:
            pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql")
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="bo-pg-"))
    data = base / "data"
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_postgres:
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "shopadmin", "--auth=scram-sha-256",
                    f"--pwfile={pwfile}", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://shopadmin@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_no_password_stored_and_no_prompt_is_a_clear_error(secured_server: str) -> None:
    with pytest.raises(WrongPassword, match="is needed and none is stored in the keyring"):
        open_database(secured_server, require_schema=False)


def test_keyring_password_is_used(secured_server: str) -> None:
    store = ProfileStore()
    profile, _ = store.save("shop", secured_server)
    SecretStore().set(profile.secret_key(), PASSWORD)
    db = open_database(profile.url, require_schema=False)
    db.ping()
    db.dispose()


def test_wrong_keyring_password_then_prompt(secured_server: str) -> None:
    store = SecretStore()
    profile, _ = ProfileStore().save("shop", secured_server)
    store.set(profile.secret_key(), "stale password")
    asked: list[str] = []
    db = open_database(profile.url, secrets=store, prompt=lambda key: asked.append(key) or PASSWORD,
                       require_schema=False)
    db.ping()
    db.dispose()
    assert asked == [profile.secret_key()]
    # remembered for this session only; the stale keyring entry is not silently replaced
    assert store.get(profile.secret_key()) == PASSWORD
    assert SecretStore().get(profile.secret_key()) == "stale password"
    with pytest.raises(WrongPassword, match="was refused"):
        open_database(profile.url, secrets=SecretStore(), prompt=lambda key: "still wrong", require_schema=False)


def test_cli_wrong_password_is_one_line(secured_server: str) -> None:
    runner = CliRunner()
    bad = secured_server.replace("shopadmin@", "shopadmin:nope@")
    result = runner.invoke(main, ["db", "current", "--db", bad])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"backoffice: error: the password for postgresql://shopadmin@127.0.0.1:{secured_server.split(':')[-1].split('/')[0]}/postgres was refused"]
    assert "nope" not in result.stderr


def test_cli_profile_with_keyring_password_works(secured_server: str) -> None:
    runner = CliRunner()
    with_pw = secured_server.replace("shopadmin@", f"shopadmin:{PASSWORD.replace(' ', '%20')}@")
    added = runner.invoke(main, ["profiles", "add", "secure", with_pw])
    assert added.exit_code == 0, added.output
    assert PASSWORD not in ProfileStore().path.read_text()
    upgraded = runner.invoke(main, ["--profile", "secure", "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.stderr
    assert "migrated from empty" in upgraded.output and PASSWORD not in upgraded.output
    tested = runner.invoke(main, ["profiles", "test", "secure"])
    assert "schema up to date" in tested.output
