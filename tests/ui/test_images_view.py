"""The Images view: upload review → ingest → gallery with thumbnails; drag to reorder; alt text; variants;
the editor's crop making a new version and restoring an older one. Real services, SQLite, offscreen Qt."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QItemSelectionModel, QPointF, Qt
from PySide6.QtGui import QDropEvent

from backoffice.services import catalog, images
from backoffice.services.image_matching import Target, UploadPlan
from backoffice.services.image_store import ENV_IMAGE_STORE
from backoffice.ui.views.images import ImagesView
from backoffice.ui.views.images.editor_dialog import ImageEditorDialog
from backoffice.ui.thumbnails import ThumbnailSource
from backoffice.ui.views.images.models import MISSING_ALT_ROLE, GalleryModel, ReviewModel
from backoffice.ui.views.images.upload_dialog import BulkUploadDialog


def photo(path: Path, size: tuple[int, int] = (900, 600), colour: tuple[int, int, int] = (200, 60, 40)) -> Path:
    im = Image.new("RGB", size, colour)
    ImageDraw.Draw(im).ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(30, 30, 30))
    im.save(path, "JPEG", quality=92)
    return path


@pytest.fixture
def shop(sqlite_db, sqlite_actor, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv(ENV_IMAGE_STORE, str(tmp_path / "image-store"))
    catalog.create_attribute(sqlite_db, sqlite_actor, code="color", name="Colour", values=["Red", "Blue"])
    tee = catalog.create_product(sqlite_db, sqlite_actor, values={"handle": "linen-tee", "title": "Linen Tee"},
                                 variants=[{"sku": f"LT-{c}", "price": "25.00", "options": {"color": c}}
                                           for c in ("Red", "Blue")])
    catalog.create_product(sqlite_db, sqlite_actor, values={"handle": "stone-mug", "title": "Stone Mug"},
                           variants=[{"sku": "MUG-1", "price": "9.00"}, {"sku": "mug-1", "price": "9.00"}])
    return tee.entity_id


@pytest.fixture
def view(qtbot, tasks, sqlite_db, sqlite_actor, connected_context, shop):  # type: ignore[no-untyped-def]
    page = ImagesView(connected_context(sqlite_db, sqlite_actor), tasks)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    page.activate()
    qtbot.waitUntil(lambda: page.product is not None and not page.is_loading(), timeout=10_000)
    return page


def upload(qtbot, view: ImagesView, tasks, paths: list[Path]) -> BulkUploadDialog:  # type: ignore[no-untyped-def]
    view.open_upload()
    dialog = view.dialog
    assert isinstance(dialog, BulkUploadDialog)
    dialog.add_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    return dialog


def test_upload_review_then_ingest_shows_thumbnails(qtbot, tasks, view, sqlite_db, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo(folder / "linen-tee_1.jpg")
    photo(folder / "linen-tee_2.jpg", colour=(40, 60, 200))
    photo(folder / "LT-Red.jpg", (600, 900))
    photo(folder / "Mug-1.jpg")                    # two SKUs differ only in case: ambiguous
    photo(folder / "holiday.jpg")                  # matches nothing
    (folder / "linen-tee_9.jpg").write_text("not a photo")   # matched by name, refused by content
    assert view.product.handle == "linen-tee" and view.stack.currentWidget() is view.empty

    dialog = upload(qtbot, view, tasks, [folder])
    counts = dialog.model.counts()
    assert counts == {"matched": 4, "ambiguous": 1, "unmatched": 1}, counts
    rows = {r.name: r for r in dialog.model.rows}
    assert rows["Mug-1.jpg"].status == "ambiguous" and [t.sku for t in rows["Mug-1.jpg"].candidates] == ["MUG-1", "mug-1"]
    assert images.list_gallery(sqlite_db, shop) == []            # the review wrote nothing
    # The user picks a SKU for the ambiguous file; the unmatched one stays skipped.
    row = dialog.model.rows.index(rows["Mug-1.jpg"])
    dialog.model.choose(row, rows["Mug-1.jpg"].candidates[0])
    dialog._refresh()
    assert dialog.upload_button.isEnabled() and dialog.upload_button.text() == "Upload 5 images"

    with qtbot.waitSignal(dialog.ingested, timeout=30_000):
        dialog.upload()
    result = dialog.result
    assert result is not None and len(result.added) == 4 and len(result.failed) == 1
    assert "linen-tee_9.jpg is not an image" in result.failed[0].message
    assert {r.name: r.status for r in dialog.model.rows}["linen-tee_9.jpg"] == "failed"
    assert "Added 4 images" in dialog.banner.text.text() and "1 failed" in dialog.banner.text.text()
    dialog.reject()

    qtbot.waitUntil(lambda: view.gallery.rowCount() == 3 and not view.is_loading(), timeout=10_000)
    assert [r.filename for r in view.gallery.rows] == ["linen-tee_1.jpg", "linen-tee_2.jpg", "LT-Red.jpg"]
    assert view.stack.currentWidget() is view.gallery_view
    qtbot.waitUntil(lambda: all(view.thumbnails.source.get(h) for h in view.gallery.thumbnail_hashes()), timeout=10_000)
    icon = view.gallery.data(view.gallery.index(0), Qt.ItemDataRole.DecorationRole)
    assert max(icon.width(), icon.height()) == 320
    assert view.gallery.data(view.gallery.index(0), MISSING_ALT_ROLE) is True
    assert "3 images · 3 without alt text" in view.gallery_subtitle.text()


def pick(view: ImagesView, row: int) -> None:
    """Select one gallery image as a click does (setCurrentIndex alone follows whatever keyboard modifiers
    the application believes are held, which earlier key-press tests can leave behind)."""
    view.gallery_view.selectionModel().setCurrentIndex(view.gallery.index(row),
                                                       QItemSelectionModel.SelectionFlag.ClearAndSelect)


@pytest.fixture
def gallery(qtbot, tasks, view, tmp_path):  # type: ignore[no-untyped-def]
    paths = [photo(tmp_path / f"linen-tee_{n}.jpg", colour=(40 * n, 80, 120)) for n in (1, 2, 3)]
    dialog = upload(qtbot, view, tasks, paths)
    with qtbot.waitSignal(dialog.ingested, timeout=30_000):
        dialog.upload()
    dialog.reject()
    qtbot.waitUntil(lambda: view.gallery.rowCount() == 3 and not view.is_loading(), timeout=10_000)
    return view


def test_drag_to_reorder_stores_the_new_order(qtbot, gallery, sqlite_db, shop) -> None:  # type: ignore[no-untyped-def]
    view = gallery
    first, second, third = view.gallery.ids()
    lv = view.gallery_view
    mime = view.gallery.mimeData([view.gallery.index(2)])
    target = lv.visualRect(view.gallery.index(0))
    drop = QDropEvent(QPointF(target.left() + 5, target.center().y()), Qt.DropAction.MoveAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(lv.reordered, timeout=2_000) as signal:
        lv.dropEvent(drop)
    assert signal.args == [[third, first, second]]
    assert view.gallery.ids() == [third, first, second]
    qtbot.waitUntil(lambda: [i.id for i in images.list_gallery(sqlite_db, shop)] == [third, first, second], timeout=10_000)
    qtbot.waitUntil(lambda: not view.is_loading(), timeout=10_000)
    assert view.gallery.rows[0].is_main and view.gallery.rows[0].id == third


def test_alt_text_main_image_and_variants(qtbot, gallery, sqlite_db, shop) -> None:  # type: ignore[no-untyped-def]
    view = gallery
    second = view.gallery.rows[1]
    pick(view, 1)
    assert view.details.image.id == second.id and view.details.alt_flag.isVisible()
    view.details.alt_text.setText("Linen tee, back view")
    assert not view.details.alt_flag.isVisible() and view.details.save_alt.isEnabled()
    view.details.save_alt.click()
    qtbot.waitUntil(lambda: images.get_image(sqlite_db, second.id).alt_text == "Linen tee, back view", timeout=10_000)
    qtbot.waitUntil(lambda: not view.is_loading() and view.gallery.rows[1].alt_text == "Linen tee, back view",
                    timeout=10_000)
    assert view.gallery.data(view.gallery.index(1), MISSING_ALT_ROLE) is False

    view.set_main()
    qtbot.waitUntil(lambda: images.list_gallery(sqlite_db, shop)[0].id == second.id, timeout=10_000)
    qtbot.waitUntil(lambda: not view.is_loading() and view.gallery.rows[0].id == second.id, timeout=10_000)

    image = view.selected_image()
    view.assign(image, ("color", "Red"))
    red = next(v.id for v in images.product_variants(sqlite_db, shop) if v.sku == "LT-Red")
    qtbot.waitUntil(lambda: images.get_image(sqlite_db, image.id).variant_ids == (red,), timeout=10_000)
    qtbot.waitUntil(lambda: not view.is_loading() and view.details.variants.text() == "Shown for: LT-Red", timeout=10_000)


def test_editor_crop_makes_a_new_version_and_restores_the_first(qtbot, tasks, gallery, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    view = gallery
    pick(view, 0)
    view.open_editor()
    editor = view.dialog
    assert isinstance(editor, ImageEditorDialog)
    qtbot.waitUntil(lambda: not editor.canvas.image.isNull() and editor.versions.rowCount() == 1, timeout=10_000)
    assert (editor.canvas.image.width(), editor.canvas.image.height()) == (900, 600)
    assert not editor.save_button.isEnabled()
    editor.aspect_buttons["1:1"].click()
    assert editor.edits() == [{"op": "crop", "left": pytest.approx(1 / 6), "top": 0.0, "width": pytest.approx(2 / 3),
                               "height": 1.0, "aspect": "1:1"}]
    editor.rotate_right.click()                          # rotate, then the 1:1 box of the rotated image
    assert (editor.canvas.image.width(), editor.canvas.image.height()) == (600, 900)
    assert [e["op"] for e in editor.edits()] == ["rotate", "crop"]
    image_id = editor.image.id
    with qtbot.waitSignal(editor.changed, timeout=10_000):
        editor.save()
    qtbot.waitUntil(lambda: editor.versions.rowCount() == 2 and not editor.busy, timeout=10_000)
    now = images.get_image(sqlite_db, image_id)
    assert (now.current_version, now.web_width, now.web_height) == (2, 600, 600)
    assert (editor.canvas.image.width(), editor.canvas.image.height()) == (600, 600)
    assert "Version 2 · current" in editor.versions.data(editor.versions.index(0))

    editor.versions_list.setCurrentIndex(editor.versions.index(1))    # version 1 (newest first)
    assert editor.restore_button.isEnabled()
    with qtbot.waitSignal(editor.changed, timeout=10_000):
        editor.restore_button.click()
    qtbot.waitUntil(lambda: editor.versions.rowCount() == 3 and not editor.busy, timeout=10_000)
    back = images.get_image(sqlite_db, image_id)
    assert (back.current_version, back.web_width, back.web_height) == (3, 900, 600)
    editor.accept()
    qtbot.waitUntil(lambda: not view.is_loading() and view.gallery.rows[0].current_version == 3, timeout=10_000)


def test_models_without_a_window() -> None:
    from backoffice.services.images import GalleryImage

    def img(i: int, pos: int) -> GalleryImage:
        return GalleryImage(i, 1, pos, f"{i}.jpg", "", 10, 10, "JPEG", 100, None, "jpeg", 10, 10, 50, None, 1, 1)

    model = GalleryModel(ThumbnailSource())
    model.set_rows([img(1, 0), img(2, 1), img(3, 2), img(4, 3)])
    assert model.move_ids([4], 0) and model.ids() == [4, 1, 2, 3]
    assert model.move_ids([4, 1], 4) and model.ids() == [2, 3, 4, 1]
    assert not model.move_ids([2], 1)          # in front of the next one: no move
    assert model.move_ids([2], 2) and model.ids() == [3, 2, 4, 1]
    review = ReviewModel()
    plan = UploadPlan()
    review.set_plan(plan)
    assert review.rowCount() == 0 and review.planned() == []
    t = Target(1, "linen-tee", "Linen Tee")
    from backoffice.services.image_matching import PlannedFile, SkippedFile

    review.set_plan(UploadPlan(matched=[PlannedFile("/a/x.jpg", "x.jpg", t, 2, "handle")],
                               unmatched=[SkippedFile("/a/y.jpg", "y.jpg", "no match")]))
    assert [r.status for r in review.rows] == ["unmatched", "matched"]
    assert review.data(review.index(1, 3)) == "by handle · #2"
    review.choose(0, t)
    assert [p.name for p in review.planned()] == ["y.jpg", "x.jpg"]


def test_scope_lists_products_missing_alt_text_and_says_when_none(qtbot, gallery, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    view = gallery
    view.scope.setCurrentIndex(view.scope.findData("missing_alt"))
    qtbot.waitUntil(lambda: not view.is_loading() and view.products.rowCount() == 1, timeout=10_000)
    assert view.products.row_at(0).handle == "linen-tee" and view.products.row_at(0).missing_alt == 3
    for image in view.gallery.rows:
        images.set_alt_text(sqlite_db, view.context.actor, image.id, f"Linen tee {image.id}",
                            expected_version=image.version)
    view.reload()
    qtbot.waitUntil(lambda: not view.is_loading() and view.products.rowCount() == 0, timeout=10_000)
    assert view.product is None and view.stack.currentWidget() is view.empty
    assert view.empty.title.text() == "Every image has alt text"


def test_files_dropped_on_an_empty_gallery_open_the_upload_review(qtbot, view, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QMimeData, QUrl

    shot = photo(tmp_path / "linen-tee.jpg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(shot))])
    assert view.stack.currentWidget() is view.empty
    view.dropEvent(QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier))
    dialog = view.dialog
    assert isinstance(dialog, BulkUploadDialog) and dialog.paths == [str(shot)]
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    assert [(r.name, r.status) for r in dialog.model.rows] == [("linen-tee.jpg", "matched")]
    assert dialog.fixed.isVisible() and "Linen Tee" in dialog.fixed.text()
    dialog.reject()


def test_crop_canvas_draws_a_box_held_to_the_aspect_and_moves_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QImage, QMouseEvent

    from backoffice.ui.views.images.crop_canvas import CropCanvas

    canvas = CropCanvas()
    qtbot.addWidget(canvas)
    canvas.setMinimumSize(1, 1)
    canvas.resize(424, 224)                 # 400x200 of image at scale 1 inside the 12 px margins
    canvas.show()
    image = QImage(400, 200, QImage.Format.Format_RGB32)
    image.fill(0xFF808080)
    canvas.set_image(image)

    def mouse(kind: QEvent.Type, x: float, y: float) -> None:
        buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else Qt.MouseButton.LeftButton
        canvas.event(QMouseEvent(kind, QPointF(x, y), QPointF(x, y), Qt.MouseButton.LeftButton, buttons,
                                 Qt.KeyboardModifier.NoModifier))

    canvas.set_ratio(1.0)
    mouse(QEvent.Type.MouseButtonPress, 12 + 50, 12 + 20)
    mouse(QEvent.Type.MouseMove, 12 + 150, 12 + 60)
    mouse(QEvent.Type.MouseButtonRelease, 12 + 150, 12 + 60)
    box = canvas.crop
    assert box is not None and box.width() == pytest.approx(box.height()) == pytest.approx(100)
    assert canvas.crop_fractions() == {"left": 0.125, "top": 0.1, "width": 0.25, "height": 0.5}
    # Moved by dragging inside it, never past the image's edge.
    mouse(QEvent.Type.MouseButtonPress, 12 + 100, 12 + 70)
    mouse(QEvent.Type.MouseMove, 12 + 500, 12 + 300)
    mouse(QEvent.Type.MouseButtonRelease, 12 + 500, 12 + 300)
    assert (canvas.crop.left(), canvas.crop.top(), canvas.crop.width()) == (300, 100, 100)
    # A box reaching past the image is shrunk to fit, keeping the ratio.
    canvas.set_crop(None)
    mouse(QEvent.Type.MouseButtonPress, 12 + 300, 12 + 150)
    mouse(QEvent.Type.MouseMove, 12 + 420, 12 + 210)
    mouse(QEvent.Type.MouseButtonRelease, 12 + 420, 12 + 210)
    assert (canvas.crop.width(), canvas.crop.height()) == (pytest.approx(50), pytest.approx(50))


def test_drag_images_onto_a_variant_and_tick_variants(qtbot, gallery, sqlite_db, shop) -> None:  # type: ignore[no-untyped-def]
    view = gallery
    by_sku = {v.sku: v.id for v in images.product_variants(sqlite_db, shop)}
    panel = view.variants_panel
    assert panel.list.count() == 2
    first, second, _third = view.gallery.rows
    mime = view.gallery.mimeData([view.gallery.index(0), view.gallery.index(1)])
    blue_row = next(i for i in range(panel.list.count()) if panel.list.item(i).text().startswith("LT-Blue"))
    target = panel.list.visualItemRect(panel.list.item(blue_row)).center()
    with qtbot.waitSignal(panel.images_dropped, timeout=2_000):
        panel.list.dropEvent(QDropEvent(QPointF(target), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                        Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: images.get_image(sqlite_db, second.id).variant_ids == (by_sku["LT-Blue"],), timeout=10_000)
    assert images.get_image(sqlite_db, first.id).variant_ids == (by_sku["LT-Blue"],)
    qtbot.waitUntil(lambda: not view.is_loading() and panel.checked_ids() == [by_sku["LT-Blue"]], timeout=10_000)

    red_row = next(i for i in range(panel.list.count()) if panel.list.item(i).text().startswith("LT-Red"))
    pick(view, 0)
    panel.list.item(red_row).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: set(images.get_image(sqlite_db, first.id).variant_ids) == set(by_sku.values()),
                    timeout=10_000)


def test_the_product_count_is_the_true_total_when_the_list_is_capped(qtbot, monkeypatch, view) -> None:  # type: ignore[no-untyped-def]
    from backoffice.ui.views.images import view as view_module

    assert view.products_count.text() == "2 products"
    monkeypatch.setattr(view_module, "PRODUCT_LIMIT", 1)  # fewer rows listed than there are products
    view.reload()
    qtbot.waitUntil(lambda: not view.is_loading() and view.products.rowCount() == 1, timeout=10_000)
    assert view.products_count.text() == "Showing 1 of 2 products"
    view.search.setText("mug")
    qtbot.waitUntil(lambda: not view.is_loading() and view.products_count.text() == "1 product", timeout=10_000)
    assert view.products.rowCount() == 1


def test_the_gallery_reloads_only_for_changes_it_shows(qtbot, gallery, sqlite_db, shop) -> None:  # type: ignore[no-untyped-def]
    from backoffice.operations import collecting, merge

    view = gallery
    loads: list[int] = []
    read_gallery = view.context.ops.images.gallery
    view.context.ops.images.gallery = lambda product_id: loads.append(product_id) or read_gallery(product_id)
    ops = view.context.ops
    with collecting() as noted:                      # a category: no image, product or variant of it
        ops.store.add_category("Shirts")
    view.context.notify_data_changed(merge(noted))
    qtbot.waitUntil(lambda: not view.is_loading(), timeout=10_000)
    assert loads == []
    image = view.gallery.rows[2]
    with collecting() as noted:                      # written elsewhere (another window, the CLI)
        ops.images.set_alt_text(image.id, "Linen tee, detail", expected_version=image.version)
    view.context.notify_data_changed(merge(noted))
    qtbot.waitUntil(lambda: not view.is_loading() and view.gallery.rows[2].alt_text == "Linen tee, detail",
                    timeout=10_000)
    assert loads == [shop]
