"""The operations contract over HTTP: the same scenarios give the same answers on three backends, an
SQLite file and PostgreSQL in-process, and the store API server (on PostgreSQL) through
RemoteOperations; and the API profile of the CLI (sign-in, tokens only in the keyring, test, refresh).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from tests.api_support import PASSWORD, add_staff, start_server, url_of
from backoffice.cli import main
from backoffice.config import ProfileStore
from backoffice.db import Database
from backoffice.operations import (
    ConflictError,
    LocalOperations,
    NotFound,
    PermissionDenied,
    ServiceError,
    collecting,
    merge,
    wire,
)
from backoffice.operations.catalog import RowChange, VariantFilter
from backoffice.remote.errors import ServerUnreachable
from backoffice.remote.session import open_api, sign_in, token_key
from backoffice.remote.transport import Tokens
from backoffice.secrets import SecretStore
from backoffice.server import create_app_for_url
from backoffice.services import users
from tests.conftest import SmallStore


class Backend:
    """Operations acting as a role, on one of the three backends."""

    def __init__(self, kind: str, db: Database, base_url: str | None) -> None:
        self.kind, self.db, self.base_url = kind, db, base_url
        self._open: list = []

    def ops(self, username: str = "admin"):  # type: ignore[no-untyped-def]
        if self.kind == "api":
            ops = sign_in(self.base_url, username, PASSWORD)
        else:
            ops = LocalOperations(self.db, users.sign_in(self.db, username), owns_database=False)
        self._open.append(ops)
        return ops

    def close(self) -> None:
        for ops in self._open:
            ops.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("api", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    db = request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")
    add_staff(db)
    stop = None
    base_url = None
    if request.param == "api":
        running, stop = start_server(create_app_for_url(url_of(db), rate=10_000, burst=10_000))
        base_url = running.base_url
    b = Backend(request.param, db, base_url)
    b.store = SmallStore(db, users.sign_in(db, "admin"))  # type: ignore[attr-defined]
    yield b
    b.close()
    if stop is not None:
        stop()


# -- the scenarios ----------------------------------------------------------------------------------------
def test_grid_edit_conflict_and_history(backend: Backend) -> None:
    merch = backend.ops("merchandiser")
    rows = merch.catalog.first_page(VariantFilter(), "sku")
    assert [r.sku for r in rows] == ["MC-L", "MC-M", "MC-S"]
    assert merch.catalog.count() == 3 and list(merch.catalog.ordered_ids()) == sorted(r.variant_id for r in rows)
    small = rows[2]
    with collecting() as noted:
        result = merch.catalog.save_edits(
            [RowChange("variant", small.variant_id, small.variant_version, {"price": Decimal("64.50")},
                       {"price": small.price})], description="Price up")
    assert result.conflicts == [] and result.changeset_id is not None
    changes = merge(noted)
    assert changes.concerns("prices") and small.variant_id in (changes.ids_of("variant") or ())
    again = merch.catalog.rows_by_id([small.variant_id])[small.variant_id]
    assert again.price == Decimal("64.50") and again.variant_version == small.variant_version + 1
    # the same stale version again: a conflict with theirs/yours/original, nothing written
    stale = merch.catalog.save_edits(
        [RowChange("variant", small.variant_id, small.variant_version, {"price": Decimal("70.00")},
                   {"price": small.price})], description="Stale")
    assert [tuple(Decimal(str(v)) for v in (c.original, c.yours, c.theirs)) for c in stale.conflicts] == [
        (Decimal("59.99"), Decimal("70.00"), Decimal("64.50"))]
    assert merch.catalog.rows_by_id([small.variant_id])[small.variant_id].price == Decimal("64.50")
    history = merch.catalog.product_history(small.product_id, small.variant_id)
    prices = [(line.row, str(line.before), str(line.after)) for line in history.lines if line.field == "price"]
    assert prices == [("SKU MC-S", "59.99", "64.50"), ("SKU MC-S", "None", "59.99")]   # newest first


def test_transfer_moves_stock_once_and_roles_hold(backend: Backend) -> None:
    store: SmallStore = backend.store  # type: ignore[attr-defined]
    admin = backend.ops("admin")
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    v = store.variant_ids[0]
    admin.adjustments.adjust(wh, {v: 10}, reason="found", op_id="seed-1")
    admin.adjustments.adjust(wh, {v: 10}, reason="found", op_id="seed-1")    # the same op id: once
    assert admin.stock.levels_at(wh, [v])[v][0] == 10
    mover = backend.ops("warehouse")
    draft = mover.transfers.create(source_location_id=wh, destination_location_id=shop, lines=[(v, 4)])
    shipped = mover.transfers.ship(draft.id, op_id="ship-1")
    assert mover.transfers.ship(draft.id, op_id="ship-1").state == shipped.state == "shipped"
    received = mover.transfers.receive(draft.id, op_id="recv-1")
    assert received.state in ("received", "closed")
    assert admin.stock.levels_at(wh, [v])[v][0] == 6
    assert admin.stock.levels_at(shop, [v])[v][0] == 4
    merch = backend.ops("merchandiser")
    with pytest.raises(PermissionDenied):
        merch.transfers.create(source_location_id=wh, destination_location_id=shop, lines=[(v, 1)])
    with pytest.raises(ServiceError, match="not enough stock: MC-S at WH1: 6 available, 100 requested"):
        mover.adjustments.adjust(wh, {v: -100}, reason="loss")
    assert admin.stock.levels_at(wh, [v])[v][0] == 6
    with pytest.raises(NotFound):
        mover.transfers.get(999_999)


def test_stale_location_edit_is_a_conflict(backend: Backend) -> None:
    admin = backend.ops("admin")
    created = admin.store.add_location("NEW", "New place", "warehouse")
    admin.store.edit_location(created.entity_id, expected_version=1, name="Renamed")
    with pytest.raises(ConflictError):
        admin.store.edit_location(created.entity_id, expected_version=1, name="Again")
    assert admin.store.find_location("NEW")["name"] == "Renamed"


def test_export_import_and_report_files(backend: Backend, tmp_path: Path) -> None:
    admin = backend.ops("admin")
    out = tmp_path / "catalog.csv"
    progress: list[float | None] = []
    assert admin.importexport.export(out, "csv", progress=lambda f, _t: progress.append(f)) == 3
    text = out.read_text(encoding="utf-8-sig")
    assert text.count("MC-") == 3
    edited = out.with_name("edited.csv")
    edited.write_text(text.replace("59.99", "61.00", 1), encoding="utf-8")
    report = admin.importexport.check(edited)
    assert report.updated_variants == 1 and report.problem_count == 0
    result = admin.importexport.apply(edited, baseline=report)
    assert result.updated_variants == 1
    prices = sorted(r.price for r in admin.catalog.first_page(VariantFilter(), "sku"))
    assert prices == [Decimal("59.99"), Decimal("59.99"), Decimal("61.00")]
    xlsx = tmp_path / "stock.xlsx"
    exported = admin.reports.export("inventory-valuation", xlsx, "xlsx")
    assert Path(exported.path) == xlsx and exported.rows >= 0
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames and book.worksheets[0].max_row >= 1


# -- the wire --------------------------------------------------------------------------------------------
def test_every_call_of_the_contract_travels() -> None:
    names = wire.operations()
    assert len(names) > 150
    for name in names:
        call = wire.call_of(name)
        assert call is not None and call.name == name


# -- the API profile on the command line ------------------------------------------------------------------
@pytest.fixture
def served(pg_db: Database) -> Iterator[str]:
    add_staff(pg_db)
    store = SmallStore(pg_db, users.sign_in(pg_db, "admin"))
    LocalOperations(pg_db, users.sign_in(pg_db, "admin"), owns_database=False).adjustments.adjust(
        store.locations["WH1"], {v: 5 for v in store.variant_ids}, reason="found")
    running, stop = start_server(create_app_for_url(url_of(pg_db), rate=10_000, burst=10_000))
    yield running.base_url
    stop()


@pytest.mark.postgres
def test_cli_api_profile_signs_in_keeps_only_tokens_and_runs_commands(served: str, pg_db: Database) -> None:
    runner = CliRunner()
    added = runner.invoke(main, ["profiles", "add", "shop", served + "/v1/", "--api", "--username", "warehouse",
                                 "--ask-password", "--default"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "Signed in as warehouse (warehouse)" in added.output
    profile = ProfileStore().get("shop")
    assert profile.kind == "api" and profile.url == served
    assert PASSWORD not in ProfileStore().path.read_text() and "token" not in ProfileStore().path.read_text()
    stored = json.loads(SecretStore().get(token_key(served, "warehouse")) or "{}")
    assert set(stored) >= {"access_token", "refresh_token"} and PASSWORD not in json.dumps(stored)

    tested = runner.invoke(main, ["profiles", "test", "shop"])
    assert tested.exit_code == 0, tested.output
    assert "signed in as warehouse (warehouse)" in tested.output and " ms." in tested.output

    direct = runner.invoke(main, ["--db", url_of(pg_db), "--user", "warehouse", "--password-stdin", "stock",
                                  "levels"], input=PASSWORD + "\n")
    through_api = runner.invoke(main, ["stock", "levels"])
    assert through_api.exit_code == 0, through_api.output
    assert through_api.output == direct.output and "MC-S" in through_api.output

    first = runner.invoke(main, ["profiles", "sync", "shop"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("First sync: ") and "0 change(s) sent, 0 waiting" in first.output
    again = runner.invoke(main, ["profiles", "sync", "shop"])
    assert again.output.startswith("Synced: 0 rows brought"), again.output


@pytest.mark.postgres
def test_cli_wrong_password_saves_no_profile(served: str) -> None:
    result = CliRunner().invoke(main, ["profiles", "add", "shop", served, "--username", "warehouse",
                                       "--ask-password"], input="not the password\n")
    assert result.exit_code != 0
    assert "wrong" in result.output.lower() or "password" in result.output.lower()
    assert [p.name for p in ProfileStore().list()] == []


@pytest.mark.postgres
def test_tokens_refresh_silently_and_an_ended_session_asks_to_sign_in(served: str) -> None:
    secrets = SecretStore()
    ops = sign_in(served, "purchaser", PASSWORD, secrets=secrets)
    first = Tokens.from_json(json.loads(secrets.get(token_key(served, "purchaser")) or "{}"))
    ops.close()
    # the access token has expired: the next call refreshes it, and the keyring holds the new pair
    expired = Tokens(first.access_token, first.refresh_token, dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1),
                     first.refresh_expires_at)
    secrets.set(token_key(served, "purchaser"), json.dumps(expired.to_json()))
    ops = open_api(served, "purchaser", secrets=secrets)
    assert ops.actor.username == "purchaser"
    renewed = Tokens.from_json(json.loads(secrets.get(token_key(served, "purchaser")) or "{}"))
    assert renewed.refresh_token != first.refresh_token and renewed.access_live()
    ops.transport.logout()          # the session ends on the server (revoked)
    ops.close()
    from backoffice.operations.session import SignInRequired

    secrets.set(token_key(served, "purchaser"), json.dumps(renewed.to_json()))
    with pytest.raises(SignInRequired, match="profiles login"):
        open_api(served, "purchaser", secrets=secrets)


def test_an_unreachable_server_is_one_clear_error() -> None:
    import socket

    from backoffice.remote.transport import Transport

    with socket.socket() as sock:      # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = Transport(f"http://127.0.0.1:{port}", retries=1, backoff=0.01)
    with pytest.raises(ServerUnreachable, match="does not answer"):
        transport.login("someone", "password")
    transport.close()
