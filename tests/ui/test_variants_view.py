"""The Variants view on a real database: the generator previewed then creating, repricing previewed
then applied and reverted, bulk variant changes, the matrix edited in place, attributes reordered;
and its item models without a window."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from backoffice.db import Database
from backoffice.services import catalog
from backoffice.services import variants as vs
from backoffice.services.base import Actor
from backoffice.services.variants import GenerationRequest, Matrix, MatrixCell
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.variants import VariantsView
from backoffice.ui.views.variants.models import MatrixModel

D = Decimal


@pytest.fixture
def shop(sqlite_db: Database, sqlite_actor: Actor) -> dict[str, int]:
    vs.create_attribute(sqlite_db, sqlite_actor, code="size", name="Size", values=["S", "M", "L", "XL"])
    vs.create_attribute(sqlite_db, sqlite_actor, code="color", name="Colour", values=["Red", "Blue"])
    tee = catalog.create_product(sqlite_db, sqlite_actor, values={"handle": "basic-tee", "title": "Basic Tee"}).entity_id
    polo = catalog.create_product(sqlite_db, sqlite_actor, values={"handle": "polo", "title": "Polo"}).entity_id
    return {"tee": tee, "polo": polo}


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor: Actor) -> VariantsView:
        view = VariantsView(connected_context(db, actor), tasks)
        qtbot.addWidget(view)
        view.resize(1280, 780)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        return view

    return open_


def wait_idle(qtbot, view, dialog=None) -> None:  # type: ignore[no-untyped-def]
    def idle() -> bool:
        busy = view.is_loading() or (dialog is not None and dialog.runner.inflight > 0)
        return not busy and view.tasks.pending == 0
    qtbot.waitUntil(idle, timeout=10_000)


def select_product(view: VariantsView, title: str) -> None:
    row = next(i for i, p in enumerate(view.products_model.rows) if p.title == title)
    view.products_table.selectRow(row)


def skus(db: Database, product_id: int) -> dict[str, dict]:
    return {v["sku"]: v for v in catalog.get_product(db, product_id)["variants"]}


def test_generator_previews_then_creates(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(sqlite_db, sqlite_actor)
    assert [p.title for p in view.products_model.rows] == ["Basic Tee", "Polo"]
    assert view.attributes.attributes_model.rowCount() == 2
    select_product(view, "Basic Tee")
    dialog = view.open_generator()
    assert dialog is not None
    dialog.choose("size", ["S", "M", "L"])
    dialog.choose("color", ["Red", "Blue"])
    dialog.exclusions.setPlainText("color=Blue, size=S")
    dialog.pattern.setText("{handle}-{color:3}-{size}")
    dialog.price.setText("19.00")
    assert not dialog.create.isEnabled()            # nothing previewed for these choices yet
    dialog.preview()
    wait_idle(qtbot, view, dialog)
    assert dialog.plan is not None and dialog.plan.to_create == 5
    assert "5 combinations per product (1 left out): 5 to create, 0 already there" in dialog.count_label.text()
    rows = dialog.preview_model.rows
    assert rows[0][:4] == ("basic-tee", "S / Red", "BASIC-TEE-RED-S", "€19.00")
    assert "BASIC-TEE-BLU-S" not in {r[2] for r in rows}
    assert dialog.create.isEnabled()
    qtbot.mouseClick(dialog.create, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert dialog.result is not None and dialog.result.created == 5
    assert len(skus(sqlite_db, shop["tee"])) == 5
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=5_000)   # previewed again: everything exists now
    assert dialog.plan is not None and dialog.plan.to_create == 0 and dialog.plan.existing == 5
    assert not dialog.create.isEnabled()
    # the view reloaded: the product shows its variants and the matrix lays them out
    product = next(p for p in view.products_model.rows if p.title == "Basic Tee")
    assert product.variants == 5
    wait_idle(qtbot, view)
    grid = view.matrix.model.grid
    assert grid is not None and grid.rows == ("S", "M", "L") and grid.columns == ("Red", "Blue")
    dialog.save_as_template("Tees")
    wait_idle(qtbot, view, dialog)
    assert [t.name for t in vs.list_templates(sqlite_db)] == ["Tees"]
    dialog.close()


def test_generator_lists_problems_and_blocks_create(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    catalog.add_variant(sqlite_db, sqlite_actor, shop["polo"], values={"sku": "BASIC-TEE-M", "price": "1.00"})
    view = open_view(sqlite_db, sqlite_actor)
    select_product(view, "Basic Tee")
    dialog = view.open_generator()
    dialog.choose("size", ["M"])
    dialog.preview()
    wait_idle(qtbot, view, dialog)
    assert dialog.plan is not None and dialog.plan.problems
    text = dialog.banner.text.text()
    assert "has no base price" in text and "'BASIC-TEE-M' is already used" in text
    assert not dialog.create.isEnabled()
    dialog.close()


def test_reprice_previews_then_applies_and_reverts(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    vs.generate(sqlite_db, sqlite_actor, GenerationRequest((shop["tee"],), {"size": ["M", "XL"]}, price="10.00"))
    vs.set_rule(sqlite_db, sqlite_actor, attribute="size", value="XL", kind="amount", amount="2.00")
    view = open_view(sqlite_db, sqlite_actor)
    view.tabs.setCurrentWidget(view.pricing)
    select_product(view, "Basic Tee")
    assert view.pricing.rules_model.rows == [("Size", "XL", "+2.00", "All products")]
    view.pricing.base_edit.setText("20.00")
    qtbot.mouseClick(view.pricing.set_base, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view)
    select_product(view, "Basic Tee")
    qtbot.mouseClick(view.pricing.preview_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view)
    assert view.pricing.preview_model.rows == [("BASIC-TEE-M", "€10.00", "€20.00", "20.00"),
                                               ("BASIC-TEE-XL", "€10.00", "€22.00", "20.00 +2.00")]
    assert "2 of 2 variants change" in view.pricing.summary.text()
    assert view.pricing.apply_button.isEnabled()
    qtbot.mouseClick(view.pricing.apply_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view)
    assert {s: v["price"] for s, v in skus(sqlite_db, shop["tee"]).items()} == {"BASIC-TEE-M": "20.00",
                                                                                 "BASIC-TEE-XL": "22.00"}
    assert "Repriced 2 variants" in view.banner.text.text()
    qtbot.mouseClick(view.pricing.revert_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view)
    assert {v["price"] for v in skus(sqlite_db, shop["tee"]).values()} == {"10.00"}


def test_surcharge_rule_saved_from_the_panel(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(sqlite_db, sqlite_actor)
    view.tabs.setCurrentWidget(view.pricing)
    panel = view.pricing
    panel.attribute_box.setCurrentIndex(panel.attribute_box.findData("color"))
    panel.value_box.setCurrentIndex(panel.value_box.findData("Blue"))
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("percent"))
    panel.amount_edit.setText("15")
    qtbot.mouseClick(panel.save_rule, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view)
    assert panel.rules_model.rows == [("Colour", "Blue", "+15 %", "All products")]


def test_bulk_dialog_sets_price_of_all_xl_and_reverts(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    vs.generate(sqlite_db, sqlite_actor, GenerationRequest((shop["tee"], shop["polo"]), {"size": ["M", "XL"]},
                                                           price="10.00"))
    view = open_view(sqlite_db, sqlite_actor)
    dialog = view.open_bulk()
    wait_idle(qtbot, view, dialog)
    dialog.all_scope.setChecked(True)
    dialog.option_attribute.setCurrentIndex(dialog.option_attribute.findData("size"))
    dialog.option_value.setCurrentIndex(dialog.option_value.findText("XL"))
    dialog.value.setText("14.50")
    qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert dialog.count_label.text() == "2 of 2 variants change"
    assert sorted(r[0] for r in dialog.preview_model.rows) == ["SKU BASIC-TEE-XL", "SKU POLO-XL"]
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert skus(sqlite_db, shop["polo"])["POLO-XL"]["price"] == "14.50"
    assert skus(sqlite_db, shop["polo"])["POLO-M"]["price"] == "10.00"
    qtbot.mouseClick(dialog.revert_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert skus(sqlite_db, shop["polo"])["POLO-XL"]["price"] == "10.00"
    dialog.close()


def test_matrix_edit_saves_prices_as_overrides(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    vs.generate(sqlite_db, sqlite_actor, GenerationRequest((shop["tee"],), {"size": ["S", "M"], "color": ["Red", "Blue"]},
                                                           sku_pattern="{handle}-{color:1}-{size}", price="10.00"))
    view = open_view(sqlite_db, sqlite_actor)
    select_product(view, "Basic Tee")
    wait_idle(qtbot, view)
    model = view.matrix.model
    assert model.data(model.index(1, 0)) == "€10.00  ·  0 in stock"
    assert model.setData(model.index(1, 0), "12.50")
    assert view.matrix.save.isEnabled()
    qtbot.mouseClick(view.matrix.save, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view)
    assert skus(sqlite_db, shop["tee"])["BASIC-TEE-R-M"]["price"] == "12.50"
    vs.set_base_price(sqlite_db, sqlite_actor, shop["tee"], "30.00")
    assert vs.plan_reprice(sqlite_db, [shop["tee"]]).skipped_overrides == 1


def test_values_reordered_from_the_panel(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(sqlite_db, sqlite_actor)
    view.tabs.setCurrentWidget(view.attributes)
    panel = view.attributes
    panel.attributes_table.selectRow(0)
    panel.values_table.selectRow(3)                 # XL
    qtbot.mouseClick(panel.move_up, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view)
    size = next(a for a in vs.list_attributes(sqlite_db) if a.code == "size")
    assert size.offered() == ["S", "M", "XL", "L"]
    assert [r.value for r in panel.values_model.rows] == ["S", "M", "XL", "L"]
    panel.create_attribute("material", "Material", ["Cotton", "Leather"])
    wait_idle(qtbot, view)
    assert panel.attributes_model.rowCount() == 3


def test_matrix_model_without_a_window() -> None:
    cell = MatrixCell((1, 2), (1, 1), ("A", "B"), (D("10.00"), D("12.00")), 7, 0, "M", "Red")
    grid = Matrix(1, "tee", "Tee", (("size", "Size"), ("color", "Colour")), "size", "color", ("M", "L"),
                  ("Red",), (cell,))
    model = MatrixModel()
    model.set_matrix(grid)
    assert (model.rowCount(), model.columnCount()) == (2, 1)
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Red"
    assert model.data(model.index(0, 0)) == "€10.00 – €12.00  ·  7 in stock"
    assert model.data(model.index(1, 0)) == "·"
    assert not model.flags(model.index(1, 0)) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(model.index(0, 0), "abc")
    assert model.setData(model.index(0, 0), "11")
    assert model.edits == {("M", "Red"): D("11.00")}


def test_bulk_on_the_cells_selected_in_the_matrix(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    vs.generate(sqlite_db, sqlite_actor, GenerationRequest((shop["tee"],), {"size": ["S", "M"], "color": ["Red", "Blue"]},
                                                           sku_pattern="{handle}-{color:1}-{size}", price="10.00"))
    view = open_view(sqlite_db, sqlite_actor)
    select_product(view, "Basic Tee")
    wait_idle(qtbot, view)
    view.matrix.table.selectRow(1)                  # M: Red and Blue
    dialog = view.open_bulk()
    wait_idle(qtbot, view, dialog)
    assert dialog.cells_scope.isChecked() and dialog.variant_ids and len(dialog.variant_ids) == 2
    dialog.field.setCurrentIndex(dialog.field.findData("disable"))
    dialog.preview()
    wait_idle(qtbot, view, dialog)
    assert dialog.count_label.text() == "2 of 2 variants change"
    dialog.apply()
    wait_idle(qtbot, view, dialog)
    statuses = {s: v["status"] for s, v in skus(sqlite_db, shop["tee"]).items()}
    assert statuses == {"BASIC-TEE-R-S": "active", "BASIC-TEE-B-S": "active", "BASIC-TEE-R-M": "disabled",
                        "BASIC-TEE-B-M": "disabled"}
    dialog.close()


def test_template_opens_the_generator_with_its_choices(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    vs.save_template(sqlite_db, sqlite_actor, name="Tees", options={"size": ["M", "L"], "color": ["Red"]},
                     sku_pattern="{handle}-{size}-{color:1}")
    view = open_view(sqlite_db, sqlite_actor)
    select_product(view, "Polo")
    view.tabs.setCurrentWidget(view.templates)
    assert view.templates.model.rows == [("Tees", "size (2) × color (1)", "2", "{handle}-{size}-{color:1}")]
    view.templates.table.selectRow(0)
    qtbot.mouseClick(view.templates.use, Qt.MouseButton.LeftButton)
    dialog = view.dialog
    assert dialog is not None and dialog.options() == {"size": ["M", "L"], "color": ["Red"]}
    assert dialog.pattern.text() == "{handle}-{size}-{color:1}"
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=5_000)
    assert [r[2] for r in dialog.preview_model.rows] == ["POLO-M-R", "POLO-L-R"]
    dialog.close()


def test_bulk_dialog_shows_the_red_photo_on_every_red_variant(qtbot, sqlite_db, sqlite_actor, shop, open_view,
                                                              tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from backoffice.services import image_matching, images
    from backoffice.services.image_store import ImageStore

    vs.generate(sqlite_db, sqlite_actor, GenerationRequest((shop["tee"],), {"size": ["M", "XL"], "color": ["Red", "Blue"]},
                                                           price="10.00"))
    photos = []
    for n, colour in ((1, "blue"), (2, "red")):
        path = tmp_path / f"basic-tee_{n}_{colour}.jpg"
        Image.new("RGB", (48, 48), (0, 0, 200) if colour == "blue" else (200, 0, 0)).save(path, "JPEG")
        photos.append(str(path))
    plan = image_matching.plan_upload(sqlite_db, photos, product_handle="basic-tee")
    images.ingest(sqlite_db, sqlite_actor, plan.matched, store=ImageStore(tmp_path / "store"))

    view = open_view(sqlite_db, sqlite_actor)
    dialog = view.open_bulk()
    wait_idle(qtbot, view, dialog)
    dialog.all_scope.setChecked(True)
    dialog.option_attribute.setCurrentIndex(dialog.option_attribute.findData("color"))
    dialog.option_value.setCurrentIndex(dialog.option_value.findText("Red"))
    dialog.field.setCurrentIndex(dialog.field.findData("image"))
    assert dialog.value.isVisible() and "file name" in dialog.value.placeholderText()
    dialog.value.setText("red")
    qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert dialog.count_label.text() == "2 of 2 variants change"
    assert sorted(dialog.preview_model.rows) == [
        ("SKU BASIC-TEE-M-RED", "Image shown", "(main image)", "basic-tee_2_red.jpg"),
        ("SKU BASIC-TEE-XL-RED", "Image shown", "(main image)", "basic-tee_2_red.jpg")]
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    red = next(img for img in images.list_gallery(sqlite_db, shop["tee"]) if "red" in img.filename)
    by_sku = {v.id: v.sku for v in images.product_variants(sqlite_db, shop["tee"])}
    assert sorted(by_sku[v] for v in red.variant_ids) == ["BASIC-TEE-M-RED", "BASIC-TEE-XL-RED"]
    qtbot.mouseClick(dialog.revert_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert images.get_image(sqlite_db, red.id).variant_ids == ()
    dialog.close()


def test_bulk_dialog_asks_before_pricing_variants_below_cost(qtbot, monkeypatch, sqlite_db, sqlite_actor, shop,  # type: ignore[no-untyped-def]
                                                             open_view) -> None:
    from PySide6.QtWidgets import QMessageBox

    from backoffice.services import changesets
    from backoffice.services.bulk import Target
    from backoffice.services.catalog_grid import VariantFilter

    vs.generate(sqlite_db, sqlite_actor, GenerationRequest((shop["polo"],), {"size": ["M", "XL"]}, price="10.00"))
    target = Target(filter=VariantFilter(product_ids=(shop["polo"],)))
    vs.apply_bulk(sqlite_db, sqlite_actor, vs.plan_bulk(sqlite_db, "cost", "8.00", target))
    before = len(changesets.list_changesets(sqlite_db))
    view = open_view(sqlite_db, sqlite_actor)
    dialog = view.open_bulk()
    wait_idle(qtbot, view, dialog)
    dialog.all_scope.setChecked(True)
    dialog.option_attribute.setCurrentIndex(dialog.option_attribute.findData("size"))
    dialog.option_value.setCurrentIndex(dialog.option_value.findText("XL"))
    dialog.value.setText("7.50")
    qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    # a warning, not an error: the row is named with its price and cost, and Apply stays enabled
    assert dialog.banner.property("level") == "warning"
    assert "1 variant would be priced below its cost." in dialog.banner.text.text()
    assert "SKU POLO-XL: €7.50 < €8.00" in dialog.banner.text.text()
    assert dialog.apply_button.isEnabled()
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: asked.append(text)
                        or QMessageBox.StandardButton.No)
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert len(asked) == 1 and "Apply the change anyway?" in asked[0]
    assert len(changesets.list_changesets(sqlite_db)) == before            # refused: nothing written
    assert skus(sqlite_db, shop["polo"])["POLO-XL"]["price"] == "10.00"
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, view, dialog)
    assert skus(sqlite_db, shop["polo"])["POLO-XL"]["price"] == "7.50"
    assert skus(sqlite_db, shop["polo"])["POLO-M"]["price"] == "10.00"
    dialog.close()


def test_the_view_reloads_only_for_changes_it_shows(qtbot, sqlite_db, sqlite_actor, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    from backoffice.operations import collecting, merge
    from backoffice.ui.operations import Runner

    view = open_view(sqlite_db, sqlite_actor)
    reads: list[str] = []
    overview, find = view.context.ops.variants.overview, view.context.ops.variants.find_products
    view.context.ops.variants.overview = lambda: reads.append("overview") or overview()
    view.context.ops.variants.find_products = lambda *a, **k: reads.append("products") or find(*a, **k)
    with collecting() as noted:                      # a category: nothing the view shows
        view.context.ops.store.add_category("Shirts")
    view.context.notify_data_changed(merge(noted))
    wait_idle(qtbot, view)
    assert reads == []
    runner = Runner(view.context, view.tasks, view)  # a base price: the products and the pricing panel show it
    runner.write(lambda ops: ops.variants.set_base_price(shop["tee"], "20.00"))
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    wait_idle(qtbot, view)
    assert sorted(reads) == ["overview", "products"]
    tee = next(p for p in view.products_model.rows if p.title == "Basic Tee")
    assert tee.base_price == D("20.00")
