"""The upload dialog's review lists every file of a folder it will not upload, hidden ones included,
each with its reason; uploading then adds only the photos. Real services, SQLite, offscreen Qt."""

from __future__ import annotations

import pytest
from PIL import Image

from backoffice.services import catalog, images
from backoffice.services.image_store import ENV_IMAGE_STORE
from backoffice.ui.views.images import ImagesView
from backoffice.ui.views.images.upload_dialog import BulkUploadDialog


@pytest.fixture
def view(qtbot, tasks, sqlite_db, sqlite_actor, connected_context, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv(ENV_IMAGE_STORE, str(tmp_path / "image-store"))
    catalog.create_product(sqlite_db, sqlite_actor, values={"handle": "linen-tee", "title": "Linen Tee"},
                           variants=[{"sku": "LT-1", "price": "25.00"}])
    page = ImagesView(connected_context(sqlite_db, sqlite_actor), tasks)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    page.activate()
    qtbot.waitUntil(lambda: page.product is not None and not page.is_loading(), timeout=10_000)
    return page


def test_review_lists_hidden_files_and_folders_with_their_reason(qtbot, view, sqlite_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "shoot"
    (folder / ".cache").mkdir(parents=True)
    Image.new("RGB", (300, 200), (200, 60, 40)).save(folder / "linen-tee.jpg", "JPEG")
    Image.new("RGB", (300, 200), (20, 60, 40)).save(folder / ".linen-tee.jpg", "JPEG")
    (folder / "._linen-tee.jpg").write_bytes(b"\x00\x05\x16\x07")
    (folder / ".DS_Store").write_bytes(b"Bud1")
    (folder / ".cache" / "a.jpg").write_bytes(b"x")
    (folder / ".cache" / "b.jpg").write_bytes(b"y")

    view.open_upload()
    dialog = view.dialog
    assert isinstance(dialog, BulkUploadDialog)
    dialog.add_paths([str(folder)])
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    reasons = {r.name: (r.status, r.note) for r in dialog.model.rows}
    assert reasons == {
        "linen-tee.jpg": ("matched", "by handle"),
        ".linen-tee.jpg": ("rejected", "is a hidden file (its name starts with a dot); skipped"),
        "._linen-tee.jpg": ("rejected", "is a macOS metadata file (“._” name), not a photo; skipped"),
        ".DS_Store": ("rejected", "is a hidden file (its name starts with a dot); skipped"),
        ".cache": ("rejected", "is a hidden folder (its name starts with a dot); skipped with what it holds (2 files)"),
    }, reasons
    assert dialog.model.counts() == {"matched": 1, "rejected": 4}
    assert "4 rejected" in dialog.counts_label.text()
    # The reason is what the review table shows for the row.
    row = [r.name for r in dialog.model.rows].index(".DS_Store")
    shown = [dialog.model.index(row, c).data() for c in range(dialog.model.columnCount())]
    assert any("hidden file" in str(text) for text in shown), shown

    dialog.upload()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=20_000)
    product = images.search_products(sqlite_db, "linen-tee")[0]
    assert [i.filename for i in images.list_gallery(sqlite_db, product.id)] == ["linen-tee.jpg"]
