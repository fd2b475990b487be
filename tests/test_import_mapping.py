"""Importing files whose headers are not the native ones: previews that read only the start of a file,
suggested mappings, mapping checks, reading and importing with a mapping, and the CLI's --map."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter
from click.testing import CliRunner
from sqlalchemy import select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Product, Variant
from backoffice.services import importexport as ie
from backoffice.services.base import Actor, ValidationError
from backoffice.services.importexport import mapping as mapping_module

SUPPLIER_HEADER = ["Item code", "Name", "Brand", "Retail", "RRP", "Weight (g)", "EAN", "Notes"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def supplier_rows() -> list[list[str]]:
    return [
        ["SUP-1", "Linen Shirt", "Norda", "49.90", "59.90", "240", "4006381333931", "new"],
        ["SUP-2", "Linen Trousers", "Norda", "69.00", "", "410", "", ""],
    ]


def supplier_mapping() -> dict[str, str | None]:
    return {"Item code": "sku", "Name": "title", "Brand": "vendor", "Retail": "price", "RRP": "compare_at_price",
            "Weight (g)": "weight_grams", "EAN": "barcode", "Notes": None}


# -- suggestions ------------------------------------------------------------------------------------------
def test_suggestions_know_common_names_and_give_each_column_once() -> None:
    suggested = ie.suggest_mapping(SUPPLIER_HEADER)
    assert suggested == supplier_mapping()
    # an exact native name wins over a synonym; near spellings are caught
    assert ie.suggest_mapping(["Retail", "price", "Compare-at prce", "Cost (EUR)", "option1 name", "Option 1 Value"]) == {
        "Retail": None, "price": "price", "Compare-at prce": "compare_at_price", "Cost (EUR)": "cost",
        "option1 name": "option1_name", "Option 1 Value": "option1_value"}
    assert ie.suggest_mapping(["Colour", "errors", ""]) == {"Colour": None, "errors": None}


def test_shopify_headers_are_suggested_as_the_reader_understands_them() -> None:
    header = ["Handle", "Title", "Variant SKU", "Variant Price", "Option1 Name", "Option1 Value", "Image Src", "Published"]
    assert ie.suggest_mapping(header, "shopify") == {
        "Handle": "handle", "Title": "title", "Variant SKU": "sku", "Variant Price": "price",
        "Option1 Name": "option1_name", "Option1 Value": "option1_value", "Image Src": None, "Published": "published"}


# -- previews ---------------------------------------------------------------------------------------------
def test_preview_of_a_csv_that_needs_mapping(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "supplier.csv", SUPPLIER_HEADER, supplier_rows(), delimiter=";")
    with pytest.raises(ie.ImportFileError, match="missing required column sku"):
        ie.read_products_file(path)   # without a mapping the file cannot be read ...
    preview = ie.preview_file(path)   # ... but it previews, with a suggestion
    assert (preview.format, preview.container, preview.name) == ("native", "csv", "supplier.csv")
    assert preview.headers == SUPPLIER_HEADER
    assert preview.sample_rows == supplier_rows()
    assert preview.suggested == supplier_mapping()
    assert preview.samples("Retail") == ["49.90", "69.00"]
    assert preview.samples("RRP") == ["59.90"]


def test_preview_reads_only_the_start_of_a_big_file(tmp_path: Path) -> None:
    rows = [[f"SKU-{i}", f"Product {i}", "Brand", "10.00", "", "", "", "x" * 200] for i in range(20_000)]
    path = write_csv(tmp_path / "big.csv", SUPPLIER_HEADER, rows)
    assert path.stat().st_size > 2 * mapping_module.PREVIEW_BYTES
    preview = ie.preview_file(path, rows=5)
    assert [r[0] for r in preview.sample_rows] == [f"SKU-{i}" for i in range(5)]
    small = ie.preview_file(path, rows=100_000)   # asks for more than the first megabyte holds
    assert 0 < len(small.sample_rows) < 20_000
    assert all(len(r[7]) == 200 for r in small.sample_rows), "a row cut short at the end of the read was shown"


def test_preview_of_an_xlsx_with_blank_rows_above_the_header(tmp_path: Path) -> None:
    path = tmp_path / "supplier.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(2, 0, SUPPLIER_HEADER)
    for i, r in enumerate(supplier_rows()):
        ws.write_row(3 + i, 0, [float(c) if c.replace(".", "").isdigit() and "." in c else c for c in r])
    wb.close()
    preview = ie.preview_file(path)
    assert preview.container == "xlsx" and preview.headers == SUPPLIER_HEADER
    assert preview.sample_rows[0][:4] == ["SUP-1", "Linen Shirt", "Norda", "49.9"]
    assert preview.suggested["Item code"] == "sku"


def test_preview_makes_the_file_checks(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ie.ImportFileError, match="empty.csv is empty"):
        ie.preview_file(empty)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(ie.ImportFileError, match="old-style Excel"):
        ie.preview_file(old)
    big = write_csv(tmp_path / "big.csv", ["sku"], [["A"]] * 100)
    with pytest.raises(ie.ImportFileError, match="over the import limit"):
        ie.preview_file(big, max_bytes=10)


# -- checks -----------------------------------------------------------------------------------------------
def test_mapping_problems() -> None:
    assert ie.mapping_problems(supplier_mapping()) == []
    bad = {"A": "sku", "B": "sku", "C": "colour", "D": "option1_name", "E": "options"}
    assert ie.mapping_problems(bad) == [
        "'A' and 'B' are both mapped to sku",
        "'C' is mapped to 'colour', which is not a product column",
        "use either the options column or option1_name/option1_value ..., not both",
        "option1_name is mapped but option1_value is not",
    ]
    assert ie.mapping_problems({"Name": "title"}) == ["no column is mapped to sku, which is required"]
    assert ie.mapping_problems({"Variant SKU": "sku"}, "shopify") == ["no column is mapped to handle, which is required"]
    assert "published" not in ie.TARGETS and ie.mapping_problems({"P": "published", "S": "sku"}) != []


def test_parse_map_options() -> None:
    assert ie.parse_map_options(["Item code=sku", "Retail = price", "Notes=", "Old=ignore", "a=b=Compare at price",
                                 "Size=Option1 Value"]) == {
        "Item code": "sku", "Retail": "price", "Notes": None, "Old": None, "a=b": "compare_at_price",
        "Size": "option1_value"}
    with pytest.raises(ValidationError) as err:
        ie.parse_map_options(["no equals sign", "X=colour"])
    assert [p[2][:20] for p in err.value.problems] == ["'no equals sign' is ", "'colour' is not a pr"]


# -- reading and importing with a mapping -----------------------------------------------------------------
def test_read_with_a_mapping(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "supplier.csv", SUPPLIER_HEADER, supplier_rows())
    parsed = ie.read_products_file(path, mapping=supplier_mapping())
    assert parsed.format == "native"
    assert {k: parsed.header[i] for k, i in parsed.columns.items()} == {
        "sku": "Item code", "title": "Name", "vendor": "Brand", "price": "Retail", "compare_at_price": "RRP",
        "weight_grams": "Weight (g)", "barcode": "EAN"}
    assert parsed.ignored_columns == ["Notes"]
    # a native header can be ignored, and a header the file lacks is refused
    native = write_csv(tmp_path / "native.csv", ["sku", "price", "cost"], [["A-1", "5.00", "2.00"]])
    assert "cost" not in ie.read_products_file(native, mapping={"cost": None}).columns
    with pytest.raises(ie.ImportFileError, match=r"no column named 'Retail' to map \(the header row has: sku, price, cost\)"):
        ie.read_products_file(native, mapping={"Retail": "price"})
    with pytest.raises(ie.ImportFileError, match="columns 'price' and 'cost' both give price"):
        ie.read_products_file(native, mapping={"cost": "price"})
    with pytest.raises(ie.ImportFileError, match="'cost' is mapped to 'colour', which is not a product column"):
        ie.read_products_file(native, mapping={"cost": "colour"})


def test_import_with_a_mapping_names_the_files_own_columns(db: Database, actor: Actor, tmp_path: Path) -> None:
    rows = supplier_rows()
    rows[1][3] = "12,345"   # a bad price in the "Retail" column
    rows.append(["SUP-3", "", "Norda", "9.00", "", "", "", ""])   # a new product needs a title
    path = write_csv(tmp_path / "supplier.csv", ["handle", *SUPPLIER_HEADER], [[f"h-{r[0].lower()}", *r] for r in rows])
    parsed = ie.read_products_file(path, mapping=supplier_mapping())
    report = ie.dry_run(db, parsed)
    problems = {(p.row, p.column) for p in report.problems}
    assert (3, "Retail") in problems and (4, "Name") in problems
    with pytest.raises(ie.ImportRejected):
        ie.apply_import(db, actor, parsed)
    with db.read() as s:
        assert s.scalar(select(Variant.id)) is None   # nothing written

    good = write_csv(tmp_path / "good.csv", ["handle", *SUPPLIER_HEADER], [[f"h-{r[0].lower()}", *r] for r in supplier_rows()])
    parsed = ie.read_products_file(good, mapping=supplier_mapping())
    report = ie.dry_run(db, parsed)
    assert report.problems == [] and (report.new_products, report.new_variants) == (2, 2)
    result = ie.apply_import(db, actor, parsed)
    assert result.changeset_id is not None
    with db.read() as s:
        v = s.scalars(select(Variant).where(Variant.sku == "SUP-1")).one()
        assert (v.price, v.compare_at_price, v.weight_grams, v.barcode) == (Decimal("49.90"), Decimal("59.90"), 240,
                                                                              "4006381333931")
        p = s.get(Product, v.product_id)
        assert (p.handle, p.title, p.vendor) == ("h-sup-1", "Linen Shirt", "Norda")


def test_cli_map_option(db: Database, actor: Actor, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "supplier.csv", ["handle", *SUPPLIER_HEADER], [[f"h-{r[0].lower()}", *r] for r in supplier_rows()])
    url = db.url.render_as_string(hide_password=False)
    runner = CliRunner()
    args = ["import", "products", str(path), "--db", url, "--user", "tester"]
    maps = ["--map", "Item code=sku", "--map", "Name=title", "--map", "Retail=price", "--map", "Notes="]
    missing = runner.invoke(main, args)
    assert missing.exit_code == 1 and "missing required column sku" in missing.stderr
    bad = runner.invoke(main, [*args, "--map", "Retail=colour"])
    assert bad.exit_code == 1 and "'colour' is not a product column" in bad.stderr
    done = runner.invoke(main, [*args, *maps])
    assert done.exit_code == 0, done.output
    assert "2 new products, 2 new variants" in done.stdout
    with db.read() as s:
        assert s.scalar(select(Variant.price).where(Variant.sku == "SUP-2")) == Decimal("69.00")
