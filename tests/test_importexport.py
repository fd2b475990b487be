"""Product import and export: native CSV/XLSX and Shopify CSV, dry run with every problem, all or nothing,
one revertible changeset, encodings, delimiters, hostile files, formula neutralisation, round trips, CLI."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    AuditEntry,
    Category,
    Changeset,
    Product,
    Variant,
    VariantOption,
)
from backoffice.services import catalog, changesets
from backoffice.services import importexport as ie
from backoffice.services.base import Actor, PermissionDenied
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.importexport.common import neutralise, unneutralise
from backoffice.services.users import ensure_user

SAMPLE = Path(__file__).resolve().parent.parent / "resources" / "samples" / "products.csv"
HEADER = ["handle", "title", "description", "vendor", "product_type", "status", "category", "tags", "seo_title",
          "seo_description", "sku", "barcode", "price", "compare_at_price", "cost", "weight_grams", "variant_status",
          "option1_name", "option1_value", "option2_name", "option2_value"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("postgresql-staged", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Each test on SQLite, on PostgreSQL, and on PostgreSQL with the import's variant updates taking the
    staged (set-based) changeset path that big files take there: the results must be the same."""
    if request.param == "postgresql-staged":
        monkeypatch.setattr(changesets.staging, "SET_BASED_MIN_ROWS", 0)
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


# -- helpers --------------------------------------------------------------------------------------------
def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, *, delimiter: str = ",",
              encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def row(**values: str) -> list[str]:
    return [values.get(h, "") for h in HEADER]


def import_file(db: Database, actor: Actor, path: Path, fmt: str = "auto") -> ie.ImportResult:
    return ie.apply_import(db, actor, ie.read_products_file(path, fmt))


def variants_by_sku(db: Database) -> dict[str, Variant]:
    with db.read() as s:
        return {v.sku: v for v in s.scalars(select(Variant))}


def product(db: Database, handle: str) -> dict:
    with db.read() as s:
        pid = s.scalar(select(Product.id).where(Product.handle == handle))
    return catalog.get_product(db, pid)


def options_of(db: Database, sku: str) -> dict[str, str]:
    with db.read() as s:
        return dict(s.execute(
            select(Attribute.code, AttributeValue.value).select_from(VariantOption)
            .join(Variant, Variant.id == VariantOption.variant_id)
            .join(Attribute, Attribute.id == VariantOption.attribute_id)
            .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id)
            .where(Variant.sku == sku)).all())


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def snapshot(db: Database) -> dict:
    """Everything an import may touch, to prove that a refused import wrote nothing."""
    with db.read() as s:
        return {
            "products": sorted((p.handle, p.title, p.vendor, p.version) for p in s.scalars(select(Product))),
            "variants": sorted((v.sku, str(v.price), v.version) for v in s.scalars(select(Variant))),
            "values": count(db, AttributeValue), "attributes": count(db, Attribute),
            "options": count(db, VariantOption), "changesets": count(db, Changeset), "audit": count(db, AuditEntry),
        }


def add_categories(db: Database) -> dict[str, int]:
    """Apparel > Shirts and Apparel > Knitwear, with materialised paths as the model wants them."""
    with db.write() as s:
        apparel = Category(name="Apparel", path="/")
        s.add(apparel)
        s.flush()
        apparel.path = f"/{apparel.id}/"
        out = {"Apparel": apparel.id}
        for name in ("Shirts", "Knitwear"):
            c = Category(name=name, parent_id=apparel.id, path="/")
            s.add(c)
            s.flush()
            c.path = f"/{apparel.id}/{c.id}/"
            out[f"Apparel > {name}"] = c.id
    return out


def problem_keys(report: ie.ImportReport) -> set[tuple[int, str]]:
    return {(p.row, p.column) for p in report.problems}


# -- native CSV -----------------------------------------------------------------------------------------
def test_sample_csv_creates_products_variants_options_and_one_changeset(db: Database, actor: Actor) -> None:
    result = import_file(db, actor, SAMPLE)
    assert (result.new_products, result.new_variants, result.updated_products, result.updated_variants) == (2, 4, 0, 0)
    crew = product(db, "merino-crew")
    assert crew["title"] == "Merino Crew Sweater" and crew["status"] == "active" and crew["vendor"] == "Norda"
    assert crew["tags"] == ["winter", "wool"]
    assert [v["sku"] for v in crew["variants"]] == ["MC-S-NVY", "MC-M-NVY", "MC-L-NVY"]
    assert [v["position"] for v in crew["variants"]] == [0, 1, 2]
    v = variants_by_sku(db)["MC-M-NVY"]
    assert (v.price, v.compare_at_price, v.cost, v.weight_grams, v.barcode, v.title) == (
        Decimal("59.99"), Decimal("79.99"), Decimal("21.00"), 340, "4006381333948", "M / Navy")
    assert options_of(db, "MC-M-NVY") == {"size": "M", "colour": "Navy"}
    assert options_of(db, "CT-OS-NAT") == {"colour": "Natural"}
    tote = product(db, "canvas-tote")
    assert tote["status"] == "draft" and tote["seo_title"] == "Canvas tote bag"
    assert tote["variants"][0]["compare_at_price"] is None
    cs = changesets.list_changesets(db)
    assert len(cs) == 1 and cs[0].kind == "import" and cs[0].row_count == 6 and cs[0].id == result.changeset_id
    entries = {(e["entity"], e["entity_id"]): e for e in changesets.changeset_entries(db, result.changeset_id)}
    assert len(entries) == 6
    created = entries[("variant", v.id)]   # a created row: empty "before", its stored fields (empty ones left out)
    assert (created["before"], created["version_before"], created["version_after"]) == ({}, 0, 1)
    assert created["after"] == {"product_id": crew["id"], "sku": "MC-M-NVY", "barcode": "4006381333948",
                                "title": "M / Navy", "price": "59.99", "compare_at_price": "79.99", "cost": "21.00",
                                "weight_grams": 340, "status": "active"}
    tote_variant = entries[("variant", tote["variants"][0]["id"])]["after"]
    assert "compare_at_price" not in tote_variant and "barcode" not in tote_variant
    assert "products.csv" in cs[0].description
    with db.read() as s:  # the changeset is audited, and so are the option values the import created
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "changeset")) == 1
        created_values = s.scalars(select(AuditEntry.after).where(AuditEntry.entity == "attribute_value")).all()
    assert sorted(a["value"] for a in created_values) == ["L", "M", "Natural", "Navy", "S"]


def test_update_by_sku_and_handle_changes_only_what_differs(db: Database, actor: Actor, store, tmp_path: Path) -> None:
    cats = add_categories(db)
    path = write_csv(tmp_path / "update.csv", [
        row(handle="merino-crew", title="Merino Crew", vendor="Norda Knits", status="active", category="apparel >  knitwear",
            tags="wool, winter, sale", sku="MC-S", price="54.99", cost="21.00", option1_name="Size", option1_value="S"),
        row(handle="merino-crew", title="Merino Crew", vendor="Norda Knits", status="active", category="Apparel > Knitwear",
            tags="wool, winter, sale", sku="MC-M", price="59.99", cost="21.00"),
        row(handle="merino-crew", sku="MC-XL", price="61.00", option1_name="Size", option1_value="XL"),
    ])
    report = ie.dry_run(db, ie.read_products_file(path))
    assert report.ok, report.problems
    assert (report.new_products, report.new_variants, report.updated_products, report.updated_variants,
            report.unchanged_variants) == (0, 1, 1, 1, 1)
    assert report.new_attribute_values == ["Size: XL"]
    assert snapshot(db)["changesets"] == 0  # a dry run writes nothing
    result = import_file(db, actor, path)
    assert result.changed_rows == 3 and result.unchanged_variants == 1
    data = product(db, "merino-crew")
    assert data["vendor"] == "Norda Knits" and data["category_id"] == cats["Apparel > Knitwear"]
    assert data["tags"] == ["sale", "winter", "wool"] and data["version"] == 2
    by_sku = {v["sku"]: v for v in data["variants"]}
    assert by_sku["MC-S"]["price"] == "54.99" and by_sku["MC-S"]["version"] == 2
    assert by_sku["MC-M"]["version"] == 1                      # unchanged: not written
    assert by_sku["MC-L"]["price"] == "59.99"                  # not in the file: untouched
    assert by_sku["MC-XL"]["position"] == 3 and options_of(db, "MC-XL") == {"size": "XL"}
    entries = {(e["entity"], e["entity_id"]): e for e in changesets.changeset_entries(db, result.changeset_id)}
    assert entries[("variant", store.variant_ids[0])]["before"] == {"price": "59.99"}
    assert entries[("variant", store.variant_ids[0])]["after"] == {"price": "54.99"}
    assert entries[("product", store.product.entity_id)]["before"]["vendor"] == "Norda"


def test_rows_without_handle_update_existing_skus(db: Database, actor: Actor, store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "prices.csv", [["MC-S", "49.00"], ["mc-m", "1"]], ["SKU", "Price"])
    report = ie.dry_run(db, ie.read_products_file(path))
    assert [(p.row, p.column) for p in report.problems] == [(3, "SKU")]  # unknown SKU mc-m, no handle
    assert "needs a handle" in report.problems[0].message
    path = write_csv(tmp_path / "prices.csv", [["MC-S", "49.00"]], ["SKU", "Price"])
    assert import_file(db, actor, path).updated_variants == 1
    assert variants_by_sku(db)["MC-S"].price == Decimal("49.00")


# -- XLSX and Shopify -----------------------------------------------------------------------------------
def test_native_xlsx_with_numeric_cells_imports(db: Database, actor: Actor, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Handle", "Title", "SKU", "Barcode", "Price", "Compare at price", "Weight grams", "Options", "Tags"])
    ws.append(["linen-shirt", "Linen Shirt", "LS-M", 4006381333962, 39.9, 49, 210.0, "size=M; colour=White", "linen"])
    ws.append(["linen-shirt", None, "LS-L", None, 30.3, None, None, "size=L; colour=White", None])
    wb.save(tmp_path / "shirts.xlsx")
    parsed = ie.read_products_file(tmp_path / "shirts.xlsx")
    assert parsed.container == "xlsx" and parsed.format == "native" and parsed.row_numbers == [2, 3]
    result = ie.apply_import(db, actor, parsed)
    assert (result.new_products, result.new_variants) == (1, 2)
    v = variants_by_sku(db)
    assert (v["LS-M"].price, v["LS-M"].compare_at_price, v["LS-M"].weight_grams, v["LS-M"].barcode) == (
        Decimal("39.90"), Decimal("49.00"), 210, "4006381333962")
    assert v["LS-L"].price == Decimal("30.30")
    assert options_of(db, "LS-L") == {"size": "L", "colour": "White"}
    assert product(db, "linen-shirt")["tags"] == ["linen"]


SHOPIFY = """Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Grams,Variant Price,Variant Compare At Price,Variant Barcode,Image Src,Image Position,Cost per item,Status
wool-cap,Wool Cap,<p>Warm <b>cap</b></p>,Norda,Hat,"wool, winter",TRUE,Size,S/M,Colour,Grey,WC-SM-GRY,80,19.00,25.00,4006381333979,https://cdn.example/cap.jpg,1,6.50,active
wool-cap,,,,,,,,L/XL,,Grey,WC-LXL-GRY,90,19.00,25.00,,https://cdn.example/cap2.jpg,2,6.50,
wool-cap,,,,,,,,,,,,,,,,https://cdn.example/cap3.jpg,3,,
gift-card,Gift Card,,Backoffice,Card,,FALSE,Title,Default Title,,,GIFT-25,0,25.00,,,,,,
"""


def test_shopify_csv_with_continuation_and_image_rows(db: Database, actor: Actor, tmp_path: Path) -> None:
    (tmp_path / "shopify.csv").write_text(SHOPIFY, encoding="utf-8")
    parsed = ie.read_products_file(tmp_path / "shopify.csv")
    assert parsed.format == "shopify"
    report = ie.dry_run(db, parsed)
    assert report.ok, report.problems
    assert (report.new_products, report.new_variants, report.skipped_rows) == (2, 3, 1)
    assert any("3 image URLs not imported" in n for n in report.notes)
    result = ie.apply_import(db, actor, parsed)
    assert result.new_variants == 3
    cap = product(db, "wool-cap")
    assert cap["description"] == "<p>Warm <b>cap</b></p>" and cap["product_type"] == "Hat" and cap["status"] == "active"
    assert options_of(db, "WC-LXL-GRY") == {"size": "L/XL", "colour": "Grey"}   # names carried from the first row
    assert variants_by_sku(db)["WC-LXL-GRY"].weight_grams == 90
    card = product(db, "gift-card")
    assert card["status"] == "draft" and options_of(db, "GIFT-25") == {}      # Published FALSE; "Default Title"


def test_shopify_format_forced_on_a_native_file_names_its_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(ie.ImportFileError, match="missing required column Variant SKU for a Shopify import"):
        ie.read_products_file(SAMPLE, "shopify")


# -- problems: every row, with row and column ----------------------------------------------------------
def test_dry_run_reports_every_bad_row_with_row_and_column(db: Database, actor: Actor, store, tmp_path: Path) -> None:
    add_categories(db)
    path = write_csv(tmp_path / "bad.csv", [
        row(handle="tee", title="Tee", sku="T-1", price="abc"),                                  # 2 price
        row(handle="tee", title="Tee", sku="T-2", price="-5"),                                   # 3 price
        row(handle="tee", title="Tee", sku="T-3", price="10.00", compare_at_price="9.00"),        # 4 compare-at
        row(handle="tee", title="Tee", sku="T-1", price="10.00"),                                # 5 duplicate SKU
        row(handle="other", title="Other", sku="MC-S", price="10.00"),                           # 6 SKU of merino-crew
        row(handle="cap", title="Cap", category="Apparel > Hats", sku="C-1", price="5.00"),       # 7 category
        row(handle="Bad Handle", title="X", sku="X-1", price="5.00"),                            # 8 handle
        row(handle="tee", title="Tee", sku="T-4", price="5.00", weight_grams="heavy"),           # 9 weight
        row(handle="tee", title="Tee", sku="T-5", price="5.00", variant_status="gone"),          # 10 status
        row(handle="merino-crew", sku="MC-M", price="59.99", option1_name="Size", option1_value="L"),  # 11 options
        row(handle="tee", title="Tee", sku="T-6", price="5.001"),                                # 12 decimals
        row(handle="new-thing", sku="N-1", price="5.00"),                                        # 13 no title
        row(handle="tee", title="Tee shirt", sku="T-7", price="5.00"),                           # 14 title differs
        row(handle="tee", title="Tee", sku="bad sku", price="5.00"),                             # 15 sku
        row(handle="tee", title="Tee", sku="T-8", price="5.00", barcode="12a"),                  # 16 barcode
    ])
    report = ie.dry_run(db, ie.read_products_file(path))
    assert problem_keys(report) == {
        (2, "price"), (3, "price"), (4, "compare_at_price"), (5, "sku"), (6, "sku"), (7, "category"), (8, "handle"),
        (9, "weight_grams"), (10, "variant_status"), (11, "option1_value"), (12, "price"), (13, "title"),
        (14, "title"), (15, "sku"), (16, "barcode"),
    }
    messages = {(p.row, p.column): p.message for p in report.problems}
    assert "'abc' is not an amount" in messages[(2, "price")]
    assert "-5" in messages[(3, "price")] and "negative" in messages[(3, "price")]
    assert "9.00 is below the price 10.00" in messages[(4, "compare_at_price")]
    assert "already appears on row 2" in messages[(5, "sku")]
    assert "belongs to product 'merino-crew'" in messages[(6, "sku")]
    assert "unknown category 'Apparel > Hats'" in messages[(7, "category")]
    assert "SKU MC-M has Size=M in the store" in messages[(11, "option1_value")]
    assert "on row 2" in messages[(14, "title")]
    assert [p.row for p in report.problems] == sorted(p.row for p in report.problems)
    before = snapshot(db)
    with pytest.raises(ie.ImportRejected) as err:
        import_file(db, actor, path)
    assert len(err.value.problems) == 15 and err.value.report.problems == report.problems
    assert str(err.value).startswith("bad.csv: 15 problems: row 2 price: 'abc' is not an amount; row 3 price:")
    assert "and 10 more; nothing was imported" in str(err.value)
    assert snapshot(db) == before  # all or nothing


def test_a_good_row_next_to_a_bad_one_is_not_written(db: Database, actor: Actor, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "mixed.csv", [
        row(handle="good", title="Good", sku="G-1", price="5.00", option1_name="Size", option1_value="XS"),
        row(handle="bad", title="Bad", sku="B-1", price="5,5.5"),
    ])
    before = snapshot(db)
    with pytest.raises(ie.ImportRejected):
        import_file(db, actor, path)
    assert snapshot(db) == before  # neither the good product nor the new attribute value landed


def test_error_report_is_the_file_annotated(db: Database, actor: Actor, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", [
        row(handle="tee", title="Tee", sku="T-1", price="10.00"),
        row(handle="tee", title="Tee", sku="T-2", price="ten", compare_at_price="-1"),
        row(handle="tee", title="=1+1", sku="T-1", price="10.00"),
    ])
    parsed = ie.read_products_file(path)
    report = ie.dry_run(db, parsed)
    out = ie.write_error_report(report, parsed, tmp_path / "errors.xlsx")
    wb = openpyxl.load_workbook(out)
    ws = wb["Rows"]
    header = [c.value for c in ws[1]]
    assert header[:len(HEADER)] == HEADER and header[-1] == "errors"
    errors_col = len(header)
    price_col = HEADER.index("price") + 1
    assert ws.cell(2, errors_col).value is None                              # row 2 is fine
    assert ws.cell(3, price_col).value == "ten"                             # the original text, as in the file
    assert "price: 'ten' is not an amount" in ws.cell(3, errors_col).value
    assert "compare_at_price" in ws.cell(3, errors_col).value
    assert ws.cell(3, price_col).fill.fgColor.rgb.endswith("FFC7CE")        # bad cell highlighted
    assert not ws.cell(3, HEADER.index("sku") + 1).fill.fgColor.rgb.endswith("FFC7CE")
    assert ws.cell(4, HEADER.index("title") + 1).value == "=1+1"             # text, not a formula
    assert ws.cell(4, HEADER.index("title") + 1).data_type == "s"
    assert "already appears on row 2" in ws.cell(4, errors_col).value
    listing = [[c.value for c in r] for r in wb["Problems"].iter_rows(min_row=2)]
    assert [(r[0], r[1]) for r in listing] == [(p.row, p.column) for p in report.problems]


def test_options_column_and_duplicate_headers(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "opts.csv", [["h", "H", "S-1", "1.00", "size=M; colour=Red"],
                                             ["h", "H", "S-2", "1.00", "size M"],
                                             ["h", "H", "S-3", "1.00", "size=; colour=Blue"],
                                             ["h", "H", "S-4", "1.00", "Size=L; size=XL"]],
                     ["handle", "title", "sku", "price", "options"])
    report = ie.dry_run(db, ie.read_products_file(path))
    assert [(p.row, p.column) for p in report.problems] == [(3, "options"), (4, "options"), (5, "options")]
    assert "'size M' is not name=value" in report.problems[0].message
    assert "option 'size' is given twice" in report.problems[2].message
    dup = write_csv(tmp_path / "dup.csv", [["S-1", "1", "2"]], ["sku", "Price", "price"])
    with pytest.raises(ie.ImportFileError, match=r"dup.csv: column 'price' appears twice \(columns B and C\)"):
        ie.read_products_file(dup)


def test_missing_required_columns_is_one_clear_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "no-sku.csv", [["tee", "Tee", "5.00"]], ["handle", "title", "price"])
    with pytest.raises(ie.ImportFileError) as err:
        ie.read_products_file(path)
    assert str(err.value) == ("no-sku.csv: missing required column sku for a product import "
                              "(the header row has: handle, title, price)")


@pytest.mark.parametrize("content, message", [
    (b"", "empty.csv is empty"),
    (b"   \r\n\r\n", "empty.csv is empty: no header row and no data"),
    (b"handle,title,sku,price\r\n", "empty.csv has a header row but no data rows"),
])
def test_empty_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "empty.csv").write_bytes(content)
    with pytest.raises(ie.ImportFileError, match=message):
        ie.read_products_file(tmp_path / "empty.csv")


# -- encodings and delimiters --------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_encodings(db: Database, actor: Actor, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "enc.csv", [row(handle="creme", title="Crème brûlée € tin", sku="CB-1", price="4.50")],
                     encoding=encoding)
    parsed = ie.read_products_file(path)
    assert parsed.header[0] == "handle"  # no stray byte-order mark in the first column name
    notes = " ".join(parsed.notes)
    assert ("not UTF-8" in notes) == (encoding == "cp1252")
    if encoding == "cp1252":
        assert "line 2" in notes and "Windows-1252" in notes
    import_file(db, actor, path)
    assert product(db, "creme")["title"] == "Crème brûlée € tin"


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiter_is_sniffed(db: Database, actor: Actor, tmp_path: Path, delimiter: str) -> None:
    price = "12,50" if delimiter != "," else "12.50"   # decimal commas come with semicolons
    path = write_csv(tmp_path / "d.csv", [row(handle="mug", title="Mug, large", tags="kitchen, gift", sku="MUG-1",
                                              price=price)], delimiter=delimiter)
    parsed = ie.read_products_file(path)
    assert parsed.delimiter == delimiter
    import_file(db, actor, path)
    assert variants_by_sku(db)["MUG-1"].price == Decimal("12.50")
    assert product(db, "mug")["title"] == "Mug, large" and product(db, "mug")["tags"] == ["gift", "kitchen"]


# -- hostile files --------------------------------------------------------------------------------------
def _zip_bomb(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b"<row/>" * (1 << 20)
            for _ in range(size // len(chunk)):
                f.write(chunk)
    return path


def test_zip_bomb_disguised_as_xlsx_is_refused_unopened(tmp_path: Path) -> None:
    bomb = _zip_bomb(tmp_path / "products.xlsx", 60 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(ie.ImportFileError, match=r"products.xlsx looks like a zip bomb: xl/worksheets/sheet1.xml "
                                                 r"unpacks from .* \(over 100:1\)"):
        ie.read_products_file(bomb)
    with pytest.raises(ie.ImportFileError, match="would unpack to .* over the limit"):
        ie.read_products_file(bomb, max_bytes=1024 * 1024)


def test_other_zips_and_damaged_workbooks_are_clear_errors(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "docs.xlsx", "w") as z:
        z.writestr("word/document.xml", "<document/>")
    with pytest.raises(ie.ImportFileError, match="is a zip archive but not an Excel workbook"):
        ie.read_products_file(tmp_path / "docs.xlsx")
    (tmp_path / "cut.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ie.ImportFileError, match="cut.xlsx is not a readable XLSX workbook"):
        ie.read_products_file(tmp_path / "cut.xlsx")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(ie.ImportFileError, match="old-style Excel .xls"):
        ie.read_products_file(tmp_path / "old.xls")


def test_csv_renamed_xlsx_is_read_as_csv_with_a_note(db: Database, actor: Actor, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "products.xlsx", [row(handle="mug", title="Mug", sku="MUG-1", price="9.00")])
    parsed = ie.read_products_file(path)
    assert parsed.container == "csv"
    assert "products.xlsx is named .xlsx but holds text, not a workbook: read as CSV" in parsed.notes
    assert ie.dry_run(db, parsed).new_variants == 1
    with pytest.raises(ie.ImportFileError, match="products.xlsx is not an XLSX workbook"):
        ie.read_products_file(path, "xlsx")


def test_binary_file_is_refused_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "photo.csv").write_bytes(b"sku,price\nA-1,5\n\x89PNG\x00\x00\x1a")
    with pytest.raises(ie.ImportFileError, match="photo.csv line 3 holds a NUL byte"):
        ie.read_products_file(tmp_path / "photo.csv")


def test_files_over_the_size_limit_are_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    big = tmp_path / "huge.csv"
    with big.open("wb") as f:  # a sparse 200 MB file: costs nothing on disk, would cost a lot to read
        f.write(b"handle,title,sku,price\n")
        f.truncate(200 * 1024 * 1024)
    with pytest.raises(ie.ImportFileError, match=r"huge.csv is 200 MB, over the import limit of 100 MB"):
        ie.read_products_file(big)
    small = write_csv(tmp_path / "small.csv", [row(handle="a", title="A", sku="A-1", price="1.00")] * 1)
    with pytest.raises(ie.ImportFileError, match="over the import limit"):
        ie.read_products_file(small, max_bytes=100)
    monkeypatch.setenv("BACKOFFICE_IMPORT_MAX_MB", "0.0001")
    with pytest.raises(ie.ImportFileError, match="over the import limit"):
        ie.read_products_file(small)


# -- export, neutralisation and round trips --------------------------------------------------------------
@pytest.mark.parametrize("text", ["=SUM(A1)", "+1", "-5", "@cmd", "\tx", "\rx", "'=already", "''+two", "'plain",
                                  "plain", "", "x=1"])
def test_neutralise_is_undone_exactly(text: str) -> None:
    out = neutralise(text)
    assert unneutralise(out) == text
    assert out[:1] not in ("=", "+", "-", "@", "\t", "\r")


def _rich_store(db: Database, actor: Actor, tmp_path: Path) -> None:
    """Products with everything an export writes: categories, tags, options, empty fields, risky text."""
    add_categories(db)
    catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M"])
    catalog.create_attribute(db, actor, code="colour", name="Colour", values=["Red", "Blue"])
    catalog.create_product(db, actor, values={
        "handle": "formula-tee", "title": "=HYPERLINK(\"http://evil\")", "vendor": "+Vendor", "description": "-minus\nsecond line, \"quoted\"",
        "product_type": "@type", "status": "active", "tags": ["@home", "=tag", "plain"], "seo_title": "'=quoted",
        "seo_description": "\tTabbed"},
        variants=[{"sku": "FT-S-RED", "price": "10.00", "compare_at_price": "12.50", "cost": "4.10", "weight_grams": 150,
                   "barcode": "0012345678905", "options": {"size": "S", "colour": "Red"}},
                  {"sku": "FT-M", "price": "11.00", "options": {"size": "M", "colour": "Red"}},
                  {"sku": "FT-BLUE", "price": "0.00", "status": "disabled", "options": {"size": "M", "colour": "Blue"}}])
    catalog.create_product(db, actor, values={"handle": "plain-mug", "title": "Plain Mug", "status": "draft"},
                           variants=[{"sku": "PM-1", "price": "7.00"}])
    with db.write() as s:   # variants with fewer options than their siblings (older data; forms refuse it now)
        for sku, code in (("FT-M", "colour"), ("FT-BLUE", "size")):
            s.execute(VariantOption.__table__.delete().where(
                VariantOption.variant_id == select(Variant.id).where(Variant.sku == sku).scalar_subquery(),
                VariantOption.attribute_id == select(Attribute.id).where(Attribute.code == code).scalar_subquery()))
        p = s.scalar(select(Product).where(Product.handle == "plain-mug"))
        p.category_id = s.scalar(select(Category.id).where(Category.name == "Shirts"))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "shopify"])
def test_round_trip_export_then_import_changes_nothing(db: Database, actor: Actor, tmp_path: Path, fmt: str) -> None:
    _rich_store(db, actor, tmp_path)
    path = tmp_path / ("out.xlsx" if fmt == "xlsx" else "out.csv")
    assert ie.export_products(db, path, fmt) == 4
    before = snapshot(db)
    parsed = ie.read_products_file(path)
    assert parsed.format == ("shopify" if fmt == "shopify" else "native")
    report = ie.dry_run(db, parsed)
    assert report.ok, report.problems
    assert (report.changed_rows, report.unchanged_variants) == (0, 4)
    result = ie.apply_import(db, actor, parsed)
    assert result.changeset_id is None and result.changed_rows == 0
    assert snapshot(db) == before  # no changeset, no audit row, no version bump


def test_exported_formulas_are_neutralised_and_imported_back(db: Database, actor: Actor, tmp_path: Path) -> None:
    _rich_store(db, actor, tmp_path)
    ie.export_products(db, tmp_path / "out.csv", "csv")
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads the BOM as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    tee = next(r for r in rows if r["sku"] == "FT-S-RED")
    assert tee["title"] == "'=HYPERLINK(\"http://evil\")" and tee["vendor"] == "'+Vendor"
    assert tee["description"] == "'-minus\nsecond line, \"quoted\"" and tee["product_type"] == "'@type"
    assert tee["tags"] == "'=tag, @home, plain" and tee["seo_title"] == "''=quoted"
    assert tee["seo_description"] == "'\tTabbed"
    assert (tee["price"], tee["compare_at_price"], tee["cost"], tee["weight_grams"]) == ("10.00", "12.50", "4.10", "150")
    assert tee["barcode"] == "0012345678905" and tee["category"] == ""
    assert (tee["option1_name"], tee["option1_value"], tee["option2_name"], tee["option2_value"]) == ("Size", "S", "Colour", "Red")
    blue = next(r for r in rows if r["sku"] == "FT-BLUE")
    assert (blue["option1_name"], blue["option1_value"], blue["option2_name"]) == ("Colour", "Blue", "")
    assert blue["variant_status"] == "disabled"
    mug = next(r for r in rows if r["sku"] == "PM-1")
    assert mug["category"] == "Apparel > Shirts" and mug["compare_at_price"] == "" and mug["status"] == "draft"
    ie.export_products(db, tmp_path / "out.xlsx", "xlsx")
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    ws = wb.active
    header = [c.value for c in ws[1]]
    cells = {header[i]: c for i, c in enumerate(next(r for r in ws.iter_rows(min_row=2) if r[10].value == "FT-S-RED"))}
    # XLSX: a string cell is never a formula, so the exact text (no added quote), marked quote-prefixed
    exact = {"title": "=HYPERLINK(\"http://evil\")", "vendor": "+Vendor", "description": "-minus\nsecond line, \"quoted\"",
             "product_type": "@type", "tags": "=tag, @home, plain", "seo_title": "'=quoted", "seo_description": "\tTabbed"}
    for name, text in exact.items():
        assert cells[name].value == text and cells[name].data_type == "s", name
        assert cells[name].quotePrefix, name
    assert not cells["sku"].quotePrefix and cells["sku"].value == "FT-S-RED"
    assert cells["price"].value == 10.0 and cells["price"].number_format == "0.00"
    assert cells["compare_at_price"].value == 12.5 and cells["barcode"].value == "0012345678905"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, len(header)).column_letter}5"
    assert ws["A1"].font.b
    # and the import takes the quote off again: the store's values come back exactly
    for name in ("out.csv", "out.xlsx"):
        report = ie.dry_run(db, ie.read_products_file(tmp_path / name))
        assert report.ok and report.changed_rows == 0, (name, report.problems)


def test_shopify_export_groups_variants_under_their_product(db: Database, actor: Actor, tmp_path: Path) -> None:
    _rich_store(db, actor, tmp_path)
    ie.export_products(db, tmp_path / "shop.csv", "shopify")
    rows = list(csv.DictReader((tmp_path / "shop.csv").open(encoding="utf-8", newline="")))
    assert [(r["Handle"], r["Variant SKU"]) for r in rows] == [
        ("formula-tee", "FT-S-RED"), ("formula-tee", "FT-M"), ("formula-tee", "FT-BLUE"), ("plain-mug", "PM-1")]
    first, second = rows[0], rows[1]
    assert first["Title"] == "'=HYPERLINK(\"http://evil\")" and first["Status"] == "active" and first["Published"] == "TRUE"
    assert (first["Option1 Name"], first["Option1 Value"], first["Option2 Name"]) == ("Size", "S", "Colour")
    assert second["Title"] == "" and second["Option1 Name"] == "" and second["Option1 Value"] == "M"
    third = rows[2]  # FT-BLUE has a colour but no size: the product's slots stay Size, Colour
    assert (third["Option1 Value"], third["Option2 Value"]) == ("", "Blue")
    assert (second["Option2 Value"], first["Option2 Value"]) == ("", "Red")
    assert (rows[3]["Option1 Name"], rows[3]["Option1 Value"]) == ("Title", "Default Title")
    assert rows[3]["Published"] == "FALSE" and rows[3]["Variant Price"] == "7.00"


def test_export_follows_the_filter(db: Database, actor: Actor, tmp_path: Path) -> None:
    _rich_store(db, actor, tmp_path)
    with db.read() as s:
        shirts = VariantFilter(category_id=s.scalar(select(Category.id).where(Category.name == "Apparel")))
    assert ie.export_products(db, tmp_path / "a.csv", "csv", shirts) == 1
    assert ie.export_products(db, tmp_path / "b.csv", "csv", VariantFilter(vendors=("+Vendor",))) == 3
    assert ie.export_products(db, tmp_path / "c.xlsx", "xlsx", VariantFilter(text="zzz")) == 0
    assert [r["sku"] for r in csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8-sig"))] == ["PM-1"]
    assert openpyxl.load_workbook(tmp_path / "c.xlsx").active.max_row == 1


# -- revert, permissions, cancel ------------------------------------------------------------------------
def test_revert_of_an_import_restores_updates_and_archives_created_rows(db: Database, actor: Actor, store,
                                                                      tmp_path: Path) -> None:
    path = write_csv(tmp_path / "upd.csv", [
        row(handle="merino-crew", title="Merino Crew Neck", sku="MC-S", price="49.99"),
        row(handle="beanie", title="Beanie", sku="BN-1", price="15.00", option1_name="Size", option1_value="S"),
    ])
    result = import_file(db, actor, path)
    assert (result.new_products, result.new_variants, result.updated_products, result.updated_variants) == (1, 1, 1, 1)
    undo = changesets.revert_changeset(db, actor, result.changeset_id)
    assert undo.conflicts == [] and undo.applied_rows == 4
    crew = product(db, "merino-crew")
    assert crew["title"] == "Merino Crew" and crew["variants"][0]["price"] == "59.99"
    beanie = product(db, "beanie")
    assert beanie["status"] == "archived" and beanie["variants"][0]["status"] == "archived"
    assert changesets.list_changesets(db)[0].reverts_id == result.changeset_id


def test_import_needs_an_editor_role(db: Database, actor: Actor, tmp_path: Path) -> None:
    from backoffice.models import Role

    from backoffice.operations.local import LocalOperations

    clerk = ensure_user(db, "clerk", Role.WAREHOUSE)
    with pytest.raises(PermissionDenied, match="merchandiser, manager or admin"):
        LocalOperations(db, clerk, owns_database=False).importexport.apply(SAMPLE)
    assert count(db, Product) == 0


def test_cancel_writes_nothing(db: Database, actor: Actor) -> None:
    parsed = ie.read_products_file(SAMPLE)
    seen: list[str] = []

    def cancel() -> bool:
        return len(seen) > 3

    with pytest.raises(ie.Cancelled, match="import cancelled; nothing was written"):
        ie.apply_import(db, actor, parsed, progress=lambda f, t: seen.append(t), cancel=cancel)
    assert count(db, Product) == 0 and count(db, Changeset) == 0


def test_operation_id_makes_a_retry_harmless(db: Database, actor: Actor) -> None:
    parsed = ie.read_products_file(SAMPLE)
    first = ie.apply_import(db, actor, parsed, operation_id="imp-1")
    again = ie.apply_import(db, actor, parsed, operation_id="imp-1")
    assert again.changeset_id == first.changeset_id and again.new_variants == 4
    assert count(db, Changeset) == 1 and count(db, Variant) == 4


# -- CLI ------------------------------------------------------------------------------------------------
def _url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backoffice: error: ")
    return lines[0]


def test_cli_import_dry_run_then_import(db: Database, actor: Actor) -> None:
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "products", str(SAMPLE), "--dry-run", "--db", _url(db), "--user", "tester"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.strip() == ("Dry run of products.csv: would make 2 new products, 4 new variants, 0 updated "
                                  "products, 0 updated variants, 0 unchanged, 2 new option names, 5 new option values; "
                                  "nothing was written.")
    assert count(db, Product) == 0 and count(db, AttributeValue) == 0
    done = runner.invoke(main, ["import", "products", str(SAMPLE), "--db", _url(db), "--user", "tester"])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == ("Imported products.csv: 2 new products, 4 new variants, 0 updated products, "
                                   "0 updated variants, 0 unchanged (changeset #1).")
    again = runner.invoke(main, ["import", "products", str(SAMPLE), "--db", _url(db), "--user", "tester"])
    assert again.exit_code == 0 and "nothing to change (4 rows already as in the file)" in again.stdout


def test_cli_bad_file_is_one_error_line_and_writes_the_report(db: Database, actor: Actor, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", [row(handle="tee", title="Tee", sku="T-1", price="x")] +
                     [row(handle="tee", title="Tee", sku=f"T-{i}", price="-1") for i in range(2, 9)])
    result = CliRunner().invoke(main, ["import", "products", str(path), "--db", _url(db), "--user", "tester",
                                       "--error-report", str(tmp_path / "report.xlsx")])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("backoffice: error: bad.csv: 8 problems: row 2 price: 'x' is not an amount; row 3 price: ")
    assert "and 3 more; nothing was imported (annotated rows saved to" in line
    assert openpyxl.load_workbook(tmp_path / "report.xlsx")["Rows"].cell(2, len(HEADER) + 1).value
    assert count(db, Product) == 0
    dry = CliRunner().invoke(main, ["import", "products", str(path), "--dry-run", "--db", _url(db), "--user", "tester"])
    assert dry.exit_code == 1 and "8 problems" in one_error_line(dry)
    missing = write_csv(tmp_path / "cols.csv", [["x"]], ["title"])
    result = CliRunner().invoke(main, ["import", "products", str(missing), "--db", _url(db), "--user", "tester"])
    assert result.exit_code == 1 and "missing required column sku" in one_error_line(result)


def test_cli_export_with_simple_filters_and_json(db: Database, actor: Actor, tmp_path: Path) -> None:
    _rich_store(db, actor, tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["export", "products", str(tmp_path / "v.xlsx"), "--vendor", "+Vendor", "--db", _url(db), "--user", "tester"])
    assert out.exit_code == 0, out.output
    assert out.stdout.strip() == f"Exported 3 rows to {tmp_path / 'v.xlsx'} (xlsx)."
    out = runner.invoke(main, ["export", "products", str(tmp_path / "c.csv"), "--category", "apparel > shirts",
                               "--status", "draft", "--db", _url(db), "--user", "tester"])
    assert out.exit_code == 0 and "Exported 1 row to" in out.stdout
    out = runner.invoke(main, ["export", "products", str(tmp_path / "j.csv"), "--format", "shopify", "--filter",
                               '{"variant_statuses": ["disabled"]}', "--db", _url(db), "--user", "tester"])
    assert out.exit_code == 0 and "Exported 1 row to" in out.stdout and "(shopify)" in out.stdout
    bad = runner.invoke(main, ["export", "products", str(tmp_path / "x.csv"), "--filter", "[1]", "--db", _url(db), "--user", "tester"])
    assert bad.exit_code == 1 and "--filter: not a valid filter" in one_error_line(bad)
    bad = runner.invoke(main, ["export", "products", str(tmp_path / "x.csv"), "--category", "Hats", "--db", _url(db), "--user", "tester"])
    assert bad.exit_code == 1 and "unknown category 'Hats'" in one_error_line(bad)
    assert not (tmp_path / "x.csv").exists()
    back = runner.invoke(main, ["import", "products", str(tmp_path / "v.xlsx"), "--db", _url(db), "--user", "tester"])
    assert back.exit_code == 0 and "nothing to change (3 rows" in back.stdout


def test_an_import_checked_by_a_dry_run_refuses_the_file_changed_since(db: Database, actor: Actor,
                                                                       tmp_path: Path) -> None:
    """The contract reads the file again to import it: the dry run's baseline must be of the same rows."""
    from backoffice.operations import LocalOperations

    ops = LocalOperations(db, actor).importexport
    path = write_csv(tmp_path / "in.csv", [row(handle="tote", title="Tote", sku="TT-1", price="19.00")])
    report = ops.check(path)
    assert report.problems == [] and report.new_variants == 1
    write_csv(path, [row(handle="tote", title="Tote", sku="TT-1", price="19.00"),
                     row(handle="tote", sku="TT-2", price="21.00")])
    with pytest.raises(ie.ImportFileError, match="has changed since it was checked"):
        ops.apply(path, baseline=report)
    assert count(db, Variant) == 0
    result = ops.apply(path, baseline=ops.check(path))
    assert (result.new_variants, count(db, Variant)) == (2, 2)


def test_a_dry_runs_baseline_goes_through_json_unchanged(db: Database, actor: Actor, store, tmp_path: Path) -> None:
    import json

    path = write_csv(tmp_path / "in.csv", [row(sku="MC-S", price="49.00"), row(handle="tote", title="Tote", sku="TT-1",
                                                                             price="19.00")])
    report = ie.dry_run(db, ie.read_products_file(path))
    again = ie.Baseline.from_json(json.loads(json.dumps(report.baseline.to_json())))
    assert (list(again.variants), again.products, again.rows, again.signature) == (
        list(report.baseline.variants), report.baseline.products, report.baseline.rows, report.baseline.signature)
    assert list(again.variants)[1] == 0 and list(again.variants)[0] > 0   # TT-1 is not in the store yet
