"""Imports that cannot undo other people's work: exported versions, stale rows, conflicts refused,
skipped or overwritten, imports checked against the same state applied one after the other, the
changed-since rule for files without versions, operation ids on the command line, big files read in
bounded memory and oversize cells named by row and column."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Changeset, Product, Variant
from backoffice.services import catalog, changesets
from backoffice.services import importexport as ie
from backoffice.services.base import Actor
from backoffice.services.changesets import RowChange
from backoffice.services.importexport import rows as rows_module
from backoffice.services.users import ensure_user

SKUS = [f"PL-{i}" for i in range(1, 7)]


@pytest.fixture
def shop(db: Database, actor: Actor) -> Database:
    """One product, six variants at 10.00."""
    catalog.create_product(db, actor, values={"handle": "plain-tee", "title": "Plain Tee", "status": "active"},
                           variants=[{"sku": s, "price": "10.00"} for s in SKUS])
    return db


def prices(db: Database) -> dict[str, Decimal]:
    with db.read() as s:
        return dict(s.execute(select(Variant.sku, Variant.price).where(Variant.sku.in_(SKUS))).all())


def title(db: Database) -> str:
    with db.read() as s:
        return s.scalar(select(Product.title).where(Product.handle == "plain-tee"))


def changeset_count(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Changeset))


def someone_sets_prices(db: Database, new: dict[str, str], who: str = "bob") -> None:
    """Another user's edit through the grid's write path (a changeset)."""
    other = ensure_user(db, who)
    with db.read() as s:
        rows = {sku: (vid, v) for sku, vid, v in s.execute(select(Variant.sku, Variant.id, Variant.version))}
    result = changesets.apply_changes(db, other, [RowChange("variant", rows[k][0], rows[k][1], {"price": Decimal(p)})
                                                  for k, p in new.items()], description="price edit")
    assert result.changeset_id is not None and not result.conflicts


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]] | list[list[str]]) -> Path:
    buf = io.StringIO()
    if rows and isinstance(rows[0], dict):
        w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)  # type: ignore[arg-type]
    else:
        w2 = csv.writer(buf, lineterminator="\n")
        w2.writerow(header)
        w2.writerows(rows)  # type: ignore[arg-type]
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def export_then_edit(db: Database, tmp_path: Path, edit, name: str = "edited.csv") -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path / "export.csv"
    ie.export_products(db, out, "csv")
    header, rows = read_csv(out)
    for r in rows:
        edit(r)
    return write_csv(tmp_path / name, header, rows)


# -- exports carry versions -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "shopify"])
def test_exports_carry_each_rows_version(shop: Database, tmp_path: Path, fmt: str) -> None:
    someone_sets_prices(shop, {"PL-2": "11.00"})
    path = tmp_path / ("out.xlsx" if fmt == "xlsx" else "out.csv")
    ie.export_products(shop, path, fmt)
    parsed = ie.read_products_file(path)
    assert "version" in parsed.columns and "product_version" in parsed.columns
    cells = {r[parsed.columns["sku"]]: (r[parsed.columns["version"]], r[parsed.columns["product_version"]])
             for r in parsed.rows}
    assert cells["PL-2"] == ("2", "1") and cells["PL-1"] == ("1", "1")
    report = ie.dry_run(shop, parsed)
    assert report.ok and report.changed_rows == 0 and not report.conflicts


# -- the user's report: a stale export re-imported reverted six prices -------------------------------------
def test_stale_export_with_only_a_title_edited_keeps_the_prices_changed_since(shop: Database, actor: Actor,
                                                                              tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    ie.export_products(shop, path, "csv")
    someone_sets_prices(shop, {s: "12.00" for s in SKUS})
    header, rows = read_csv(path)
    for r in rows:
        r["title"] = "Plain Tee, organic"
    edited = write_csv(tmp_path / "edited.csv", header, rows)
    report = ie.dry_run(shop, ie.read_products_file(edited))
    assert report.ok and not report.conflicts
    assert (report.updated_products, report.updated_variants, report.unchanged_variants) == (1, 0, 6)
    result = ie.apply_import(shop, actor, ie.read_products_file(edited))
    assert (result.updated_products, result.updated_variants) == (1, 0)
    assert prices(shop) == {s: Decimal("12.00") for s in SKUS}   # the other user's prices stand
    assert title(shop) == "Plain Tee, organic"


def test_a_cell_both_changed_is_a_conflict_refused_skipped_or_overwritten(shop: Database, actor: Actor,
                                                                          tmp_path: Path) -> None:
    def edit(r: dict[str, str]) -> None:
        r["price"] = {"PL-1": "15.00", "PL-2": "11.00"}.get(r["sku"], r["price"])

    edited = export_then_edit(shop, tmp_path, edit)
    someone_sets_prices(shop, {"PL-1": "12.00"}, who="bob")
    report = ie.dry_run(shop, ie.read_products_file(edited))
    assert not report.ok and not report.problems
    assert report.conflict_rows == 1 and report.conflict_count == 1
    (c,) = report.conflicts
    assert (c.row, c.column, c.entity, c.label, c.field) == (2, "price", "variant", "PL-1", "price")
    assert (Decimal(str(c.file_value)), Decimal(str(c.current_value))) == (Decimal("15.00"), Decimal("12.00"))
    assert (c.file_version, c.current_version, c.changed_by) == (1, 2, "bob") and c.changed_at
    before = changeset_count(shop)
    with pytest.raises(ie.ImportConflicts) as refused:
        ie.apply_import(shop, actor, ie.read_products_file(edited))
    assert "row 2 price" in str(refused.value) and "--on-conflict" in str(refused.value)
    assert prices(shop)["PL-1"] == Decimal("12.00") and prices(shop)["PL-2"] == Decimal("10.00")
    assert changeset_count(shop) == before   # refused: nothing written
    skipped = ie.apply_import(shop, actor, ie.read_products_file(edited), on_conflict="skip")
    assert (skipped.updated_variants, skipped.conflict_rows) == (1, 1)
    assert prices(shop)["PL-1"] == Decimal("12.00") and prices(shop)["PL-2"] == Decimal("11.00")
    overwritten = ie.apply_import(shop, actor, ie.read_products_file(edited), on_conflict="overwrite")
    assert (overwritten.updated_variants, overwritten.conflict_rows) == (1, 1)
    assert prices(shop)["PL-1"] == Decimal("15.00") and prices(shop)["PL-2"] == Decimal("11.00")


def test_without_history_every_differing_cell_of_a_stale_row_is_a_conflict(shop: Database, actor: Actor,
                                                                            tmp_path: Path) -> None:
    edited = export_then_edit(shop, tmp_path, lambda r: None)   # the file keeps every exported value
    with shop.write() as s:   # a change the changesets do not know about (another program's UPDATE)
        s.execute(update(Variant).where(Variant.sku == "PL-3")
                  .values(price=Decimal("13.00"), version=Variant.version + 1))
    report = ie.dry_run(shop, ie.read_products_file(edited))
    assert [(c.label, c.field) for c in report.conflicts] == [("PL-3", "price")]
    with pytest.raises(ie.ImportConflicts):
        ie.apply_import(shop, actor, ie.read_products_file(edited))
    assert prices(shop)["PL-3"] == Decimal("13.00")


def test_a_version_newer_than_the_stores_is_a_problem(shop: Database, tmp_path: Path) -> None:
    def edit(r: dict[str, str]) -> None:
        if r["sku"] == "PL-4":
            r["version"], r["price"] = "9", "19.00"

    report = ie.dry_run(shop, ie.read_products_file(export_then_edit(shop, tmp_path, edit)))
    assert [(p.row, p.column) for p in report.problems] == [(5, "version")]
    assert "newer than the store's" in report.problems[0].message


# -- two imports checked against the same state, applied one after the other ------------------------------
def test_two_price_lists_checked_against_the_same_state(shop: Database, actor: Actor, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", ["sku", "price"], [["PL-1", "20.00"], ["PL-2", "20.00"]])
    second = write_csv(tmp_path / "b.csv", ["sku", "price"], [["PL-1", "30.00"], ["PL-4", "40.00"]])
    parsed_a, parsed_b = ie.read_products_file(first), ie.read_products_file(second)
    checked_a, checked_b = ie.dry_run(shop, parsed_a), ie.dry_run(shop, parsed_b)
    assert checked_a.ok and checked_b.ok
    ie.apply_import(shop, actor, parsed_a, baseline=checked_a)
    with pytest.raises(ie.ImportConflicts) as refused:
        ie.apply_import(shop, actor, parsed_b, baseline=checked_b)
    (c,) = refused.value.report.conflicts
    assert (c.label, c.field, Decimal(str(c.current_value)), c.changed_by) == ("PL-1", "price", Decimal("20.00"),
                                                                              "tester")
    assert prices(shop)["PL-1"] == Decimal("20.00") and prices(shop)["PL-4"] == Decimal("10.00")
    result = ie.apply_import(shop, actor, parsed_b, baseline=checked_b, on_conflict="skip")
    assert (result.updated_variants, result.conflict_rows) == (1, 1)
    assert prices(shop)["PL-1"] == Decimal("20.00") and prices(shop)["PL-4"] == Decimal("40.00")


def test_two_edited_exports_of_the_same_state(shop: Database, actor: Actor, tmp_path: Path) -> None:
    def raise_all(r: dict[str, str]) -> None:
        r["price"] = "14.00"

    def raise_some(r: dict[str, str]) -> None:
        if r["sku"] in ("PL-1", "PL-6"):
            r["price"] = "16.00"

    a = export_then_edit(shop, tmp_path, raise_all, "a.csv")
    b = export_then_edit(shop, tmp_path, raise_some, "b.csv")
    parsed_a, parsed_b = ie.read_products_file(a), ie.read_products_file(b)
    assert ie.dry_run(shop, parsed_a).ok and ie.dry_run(shop, parsed_b).ok
    ie.apply_import(shop, actor, parsed_a)
    report = ie.dry_run(shop, parsed_b)
    assert sorted(c.label for c in report.conflicts) == ["PL-1", "PL-6"]
    assert report.unchanged_variants == 4      # its other rows keep the exported price: nothing to write
    with pytest.raises(ie.ImportConflicts):
        ie.apply_import(shop, actor, parsed_b)
    assert set(prices(shop).values()) == {Decimal("14.00")}


def test_changed_since_makes_rows_changed_after_that_time_stale(shop: Database, actor: Actor, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    with shop.write() as s:   # the store as it was an hour ago ...
        s.execute(update(Variant).values(updated_at=now - dt.timedelta(hours=1)))
    since = now - dt.timedelta(minutes=30)
    someone_sets_prices(shop, {"PL-5": "12.00"})   # ... and one row changed since
    path = write_csv(tmp_path / "p.csv", ["sku", "price"], [["PL-5", "10.00"], ["PL-6", "11.00"]])
    report = ie.dry_run(shop, ie.read_products_file(path), changed_since=since)
    assert [(c.row, c.label) for c in report.conflicts] == [(2, "PL-5")] and report.updated_variants == 1
    assert report.changed_since_rows == 1 and any("1 row of the file name variants changed" in n for n in report.notes)
    earlier = ie.dry_run(shop, ie.read_products_file(path), changed_since=now + dt.timedelta(hours=1))
    assert not earlier.conflicts and earlier.updated_variants == 2


# -- command line -----------------------------------------------------------------------------------------
def _url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def test_cli_op_id_replay_reports_the_first_result_and_writes_nothing(shop: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["sku", "price"], [["PL-1", "21.00"]])
    runner = CliRunner()
    first = runner.invoke(main, ["import", "products", str(path), "--op-id", "imp-1", "--db", _url(shop), "--user", "tester"])
    assert first.exit_code == 0, first.output
    count = changeset_count(shop)
    someone_sets_prices(shop, {"PL-1": "22.00"})
    again = runner.invoke(main, ["import", "products", str(path), "--op-id", "imp-1", "--db", _url(shop), "--user", "tester"])
    assert again.exit_code == 0, again.output
    assert "Already imported with operation id imp-1" in again.stdout and f"changeset #{count}" in again.stdout
    assert prices(shop)["PL-1"] == Decimal("22.00") and changeset_count(shop) == count + 1


def test_cli_conflicts_are_listed_and_refused_unless_chosen(shop: Database, tmp_path: Path) -> None:
    def edit(r: dict[str, str]) -> None:
        if r["sku"] == "PL-2":
            r["price"] = "17.00"

    edited = export_then_edit(shop, tmp_path, edit)
    someone_sets_prices(shop, {"PL-2": "12.00"})
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "products", str(edited), "--dry-run", "--db", _url(shop), "--user", "tester"])
    assert dry.exit_code == 3
    assert "backoffice: conflict: row 3 price: variant PL-2 has 12.00 in the store now (changed by bob" in dry.stderr
    refused = runner.invoke(main, ["import", "products", str(edited), "--db", _url(shop), "--user", "tester"])
    assert refused.exit_code == 3 and prices(shop)["PL-2"] == Decimal("12.00")
    skipped = runner.invoke(main, ["import", "products", str(edited), "--on-conflict", "skip", "--db", _url(shop), "--user", "tester"])
    assert skipped.exit_code == 0 and "1 conflicting row skipped" in skipped.stdout
    assert prices(shop)["PL-2"] == Decimal("12.00")
    over = runner.invoke(main, ["import", "products", str(edited), "--on-conflict", "overwrite", "--db", _url(shop), "--user", "tester"])
    assert over.exit_code == 0 and prices(shop)["PL-2"] == Decimal("17.00")


# -- big files: chunks, spilled rows, oversize cells -------------------------------------------------------
def test_a_file_read_in_small_chunks_plans_exactly_like_one_read_whole(db: Database, actor: Actor, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    catalog.create_product(db, actor, values={"handle": "old", "title": "Old", "status": "active"},
                           variants=[{"sku": f"OLD-{i}", "price": "5.00"} for i in range(30)])
    header = ["handle", "title", "vendor", "sku", "price"]
    rows = [["old", "", "", f"OLD-{i}", "6.00" if i % 2 else "5.00"] for i in range(30)]
    rows += [[f"new-{i // 5}", f"New {i // 5}" if i % 5 == 0 else "", "Norda" if i % 5 == 4 else "", f"NEW-{i}", "9.99"]
             for i in range(60)]
    rows.append(["new-3", "", "Other", "OLD-7", "1.00"])          # a SKU of another product
    rows.append(["new-5", "", "", "NEW-3", "1.00"])               # repeated SKU, rows apart
    rows.append(["new-2", "", "Har\x1fbour", "NEW-99", "1.00"])    # product fields that disagree (and a separator)
    path = write_csv(tmp_path / "big.csv", header, rows)

    def plan() -> tuple:
        parsed = ie.read_products_file(path)
        report = ie.dry_run(db, parsed)
        return parsed.store.spilled, report.counts(), [(p.row, p.column, p.message) for p in report.problems]

    whole = plan()
    monkeypatch.setattr(rows_module, "SPILL_ROWS", 7)
    monkeypatch.setattr(rows_module, "SPILL_CHARS", 0)
    monkeypatch.setattr(rows_module, "CHUNK_ROWS", 7)
    monkeypatch.setattr("backoffice.services.importexport.planning.CHUNK_ROWS", 7)
    chunked = plan()
    assert (whole[0], chunked[0]) == (False, True)
    assert chunked[1:] == whole[1:]
    assert {p[0] for p in whole[2]} == {92, 93, 94}
    assert "already appears on row 35" in next(p[2] for p in whole[2] if p[0] == 93)
    # and with the problem rows gone, the chunked import writes what the whole one would
    path = write_csv(tmp_path / "big.csv", header, rows[:-3])
    result = ie.apply_import(db, actor, ie.read_products_file(path))
    assert (result.new_products, result.new_variants, result.updated_variants) == (12, 60, 15)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Variant).where(Variant.sku.like("NEW-%"))) == 60
        assert s.scalar(select(Product.vendor).where(Product.handle == "new-2")) == "Norda"


@pytest.mark.parametrize("multiline", [False, True])
def test_an_oversize_cell_is_refused_naming_row_and_column_in_bounded_memory(tmp_path: Path, multiline: bool) -> None:
    path = tmp_path / "huge.csv"
    big = ("x" * 99 + "\n") * 200_000 if multiline else "y" * 20_000_000   # 20M characters either way
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("sku,price,description\nOK-1,1.00,fine\nOK-2,2.00,\"")
        fh.write(big)
        fh.write("\"\nOK-3,3.00,fine\n")
    tracemalloc.start()
    try:
        with pytest.raises(ie.ImportFileError) as err:
            ie.read_products_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert message.startswith("huge.csv row 3, column 'description': the cell holds more than 1,000,000 characters")
    assert "field larger than field limit" not in message
    assert peak < 40 * 1024 * 1024, peak


@pytest.mark.parametrize("fmt", ["xlsx", "shopify"])
def test_stale_xlsx_and_shopify_exports_see_conflicts_too(shop: Database, actor: Actor, tmp_path: Path,
                                                          fmt: str) -> None:
    path = tmp_path / ("out.xlsx" if fmt == "xlsx" else "out.csv")
    ie.export_products(shop, path, fmt)
    if fmt == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path)
        ws = wb.active
        header = [c.value for c in ws[1]]
        for r in ws.iter_rows(min_row=2):
            if r[header.index("sku")].value == "PL-1":
                r[header.index("price")].value = 15.0
        wb.save(path)
    else:
        header, rows = read_csv(path)
        for r in rows:
            if r["Variant SKU"] == "PL-1":
                r["Variant Price"] = "15.00"
        write_csv(path, header, rows)
    someone_sets_prices(shop, {"PL-1": "12.00", "PL-3": "13.00"})
    report = ie.dry_run(shop, ie.read_products_file(path))
    assert [(c.label, c.field, c.changed_by) for c in report.conflicts] == [("PL-1", "price", "bob")]
    assert report.unchanged_variants == 5 and report.updated_variants == 0
    result = ie.apply_import(shop, actor, ie.read_products_file(path), on_conflict="skip")
    assert result.changeset_id is None and result.conflict_rows == 1
    assert prices(shop)["PL-1"] == Decimal("12.00") and prices(shop)["PL-3"] == Decimal("13.00")


@pytest.mark.postgres
def test_conflicts_on_the_set_based_path_too(pg_db: Database, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """PostgreSQL writes big batches of variants through a staging table: the same conflicts there."""
    monkeypatch.setattr(changesets.staging, "SET_BASED_MIN_ROWS", 0)
    actor = ensure_user(pg_db, "tester")
    catalog.create_product(pg_db, actor, values={"handle": "plain-tee", "title": "Plain Tee", "status": "active"},
                           variants=[{"sku": s, "price": "10.00"} for s in SKUS])
    first = write_csv(tmp_path / "a.csv", ["sku", "price"], [[s, "20.00"] for s in SKUS[:4]])
    second = write_csv(tmp_path / "b.csv", ["sku", "price"], [[s, "30.00"] for s in SKUS[2:]])
    parsed_a, parsed_b = ie.read_products_file(first), ie.read_products_file(second)
    checked_a, checked_b = ie.dry_run(pg_db, parsed_a), ie.dry_run(pg_db, parsed_b)
    ie.apply_import(pg_db, actor, parsed_a, baseline=checked_a)
    with pytest.raises(ie.ImportConflicts) as refused:
        ie.apply_import(pg_db, actor, parsed_b, baseline=checked_b)
    assert sorted(c.label for c in refused.value.report.conflicts) == ["PL-3", "PL-4"]
    result = ie.apply_import(pg_db, actor, parsed_b, baseline=checked_b, on_conflict="skip")
    assert (result.updated_variants, result.conflict_rows) == (2, 2)
    assert [prices(pg_db)[s] for s in SKUS] == [Decimal(p) for p in ("20.00",) * 4 + ("30.00",) * 2]


def test_the_error_report_of_a_file_read_to_disk(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    monkeypatch.setattr(rows_module, "SPILL_ROWS", 3)
    monkeypatch.setattr(rows_module, "SPILL_CHARS", 0)
    path = write_csv(tmp_path / "bad.csv", ["handle", "title", "sku", "price"],
                     [["tee", "Tee", f"T-{i}", "x" if i == 5 else "1.00"] for i in range(8)])
    parsed = ie.read_products_file(path)
    report = ie.dry_run(db, parsed)
    assert parsed.store.spilled and [(p.row, p.column) for p in report.problems] == [(7, "price")]
    ie.write_error_report(report, parsed, tmp_path / "report.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "report.xlsx")["Rows"]
    assert [sheet.cell(r, 3).value for r in range(2, 10)] == [f"T-{i}" for i in range(8)]
    assert "price" in sheet.cell(7, 5).value and sheet.cell(6, 5).value is None


def test_export_with_many_attributes_round_trips(db: Database, actor: Actor, tmp_path: Path) -> None:
    """More attributes than the export joins one by one: options aggregated per variant instead."""
    codes = [f"attr{i}" for i in range(10)]
    for code in codes:
        catalog.create_attribute(db, actor, code=code, name=code.title(), values=["a", "b"])
    catalog.create_product(db, actor, values={"handle": "wide", "title": "Wide", "status": "active"},
                           variants=[{"sku": f"W-{v}", "price": "3.00", "options": {c: v for c in codes}}
                                     for v in ("a", "b")])
    for fmt in ("csv", "shopify", "xlsx"):
        path = tmp_path / ("w.xlsx" if fmt == "xlsx" else f"w-{fmt}.csv")
        assert ie.export_products(db, path, fmt) == 2
        parsed = ie.read_products_file(path)
        assert "version" in parsed.columns
        report = ie.dry_run(db, parsed)
        assert report.ok and report.changed_rows == 0, (fmt, report.problems)
