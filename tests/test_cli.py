"""The command line: commands exist, errors are one line with a non-zero exit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.config import ProfileStore
from backoffice.operations.session import current_os_username


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backoffice: error: ")
    return lines[0]


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("db", "demo", "screenshot", "profiles", "users", "audit"):
        assert re.search(rf"^\s+{command}\s", result.output, re.M), command
    assert "--db URL" in result.output and "--demo" in result.output


def test_db_upgrade_then_current(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    first = runner.invoke(main, ["db", "upgrade", "--db", url])
    assert first.exit_code == 0 and "migrated from empty to" in first.output
    again = runner.invoke(main, ["--db", url, "db", "upgrade"])
    assert again.exit_code == 0 and "up to date" in again.output
    current = runner.invoke(main, ["db", "current", "--db", url])
    rev = re.findall(r"database: (\S+); application: (\S+)", current.output)[0]
    assert rev[0] == rev[1]


def test_unmigrated_database_is_one_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["audit", "--db", f"sqlite:///{tmp_path / 'empty.sqlite'}"])
    assert result.exit_code == 1
    assert "run `backoffice db upgrade`" in one_error_line(result)


def test_unknown_profile_is_one_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--profile", "nowhere", "audit"])
    assert result.exit_code == 1
    assert "unknown profile 'nowhere'" in one_error_line(result)


def test_unreachable_server_is_one_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["audit", "--db", "postgresql://staff@127.0.0.1:9/shop"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "cannot connect to postgresql+psycopg://staff@127.0.0.1:9/shop" in line


def test_unsupported_url_is_one_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["audit", "--db", "mysql://x@y/z"])
    assert result.exit_code == 1
    assert "unsupported database URL" in one_error_line(result)


def test_profiles_add_moves_the_password_to_the_keyring(runner: CliRunner, isolated_user_dirs) -> None:
    result = runner.invoke(main, ["profiles", "add", "shop", "postgresql://staff:pw123@db.lan/shop", "--default"])
    assert result.exit_code == 0, result.output
    assert "stored in the keyring" in result.output
    assert "pw123" not in ProfileStore().path.read_text()
    assert ("backoffice", "postgresql://staff@db.lan:5432/shop") in isolated_user_dirs.entries
    listed = runner.invoke(main, ["profiles", "list"])
    assert "* shop" in listed.output and "pw123" not in listed.output
    removed = runner.invoke(main, ["profiles", "remove", "shop"])
    assert removed.exit_code == 0 and isolated_user_dirs.entries == {}


def test_users_and_audit(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    made = runner.invoke(main, ["db", "upgrade", "--db", url])
    owner = current_os_username()
    assert f"{owner}: admin (id 1), the owner of this file" in made.output   # the first account, explicitly
    boss = runner.invoke(main, ["users", "add", "boss", "--role", "manager", "--db", url])   # as the owner
    assert boss.exit_code == 0 and "boss: manager" in boss.output, boss.output
    clerk = runner.invoke(main, ["users", "add", "clerk", "--role", "warehouse", "--db", url, "--user", "boss"])
    assert clerk.exit_code == 1 and "boss (manager) may not run users.add" in one_error_line(clerk)
    clerk = runner.invoke(main, ["users", "add", "clerk", "--role", "warehouse", "--db", url])
    assert "clerk: warehouse" in clerk.output
    listed = runner.invoke(main, ["users", "list", "--db", url])
    assert re.search(r"clerk\s+warehouse\s+active", listed.output)
    audit = runner.invoke(main, ["audit", "--db", url, "--entity", "user"])
    assert audit.exit_code == 0
    assert len(audit.output.strip().splitlines()) == 3 and "created clerk" in audit.output


def test_demo_command_creates_a_migrated_store_and_refuses_a_second_fill(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    result = runner.invoke(main, ["demo", "--products", "30", "--seed", "7", "--db", url])
    assert result.exit_code == 0, result.stderr
    assert re.search(r"products\s+30\n", result.output)
    variants = int(re.search(r"variants\s+([\d,]+)", result.output)[1].replace(",", ""))
    assert 150 <= variants <= 600
    again = runner.invoke(main, ["demo", "--products", "30", "--db", url])
    assert again.exit_code == 1
    assert "already holds 30 products" in one_error_line(again)
    audit = runner.invoke(main, ["audit", "--db", url, "--entity", "store"])
    assert "generate" in audit.output


def test_an_unknown_user_is_refused_by_every_command_and_creates_no_account(runner: CliRunner, tmp_path: Path) -> None:
    """A typed name is no account: reads and writes alike are refused with one line saying how an
    account is made, and the users table is as it was."""
    url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    runner.invoke(main, ["db", "upgrade", "--db", url])
    for command in (["stock", "levels"], ["reports", "list"], ["locations", "list"], ["purchasing", "suggest"],
                    ["categories", "add", "Clothing"], ["users", "whoami"]):
        result = runner.invoke(main, [*command, "--db", url, "--user", "reader"])
        assert result.exit_code == 1, (command, result.output)
        assert one_error_line(result) == ("backoffice: error: no account named reader: an admin creates it with "
                                          "`backoffice users add reader --role R`")
    listed = runner.invoke(main, ["users", "list", "--db", url])
    assert listed.output.split() == [current_os_username(), "admin", "active"]
