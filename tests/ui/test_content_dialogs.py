"""The Products view's content tools on a real database: the description templates dialog (live preview
on one product rendered in a worker, preview of the target, apply as one changeset), the content checks
dialog (counts equal to the database's, thresholds, export) and the grid's "Needs attention" filter."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from PySide6.QtCore import QSettings
from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import Product
from backoffice.operations.content import Target
from backoffice.services import catalog_grid, changesets, content, content_checks
from backoffice.services.base import Actor
from backoffice.services.catalog_grid import VariantFilter
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.content_checks import ContentChecksDialog
from backoffice.ui.views.products.content_templates import ContentTemplatesDialog
from backoffice.ui.views.products.filters import ProductFilterBar
from tests.test_content import make_catalog

WAIT = 15_000


def test_templates_dialog_previews_live_then_applies_one_changeset(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                                   sqlite_db: Database, sqlite_actor: Actor) -> None:
    db = sqlite_db
    make_catalog(db, sqlite_actor)
    content.save_template(db, sqlite_actor, name="Basic", target_field="description", source="{{ title }}!")
    target = Target(filter=VariantFilter(vendors=("Norda",)))
    dialog = ContentTemplatesDialog(connected_context(db, sqlite_actor), tasks, [("Norda", target)], "linen-shirt")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: "Basic" in dialog.saved and dialog.source.toPlainText() == "{{ title }}!", timeout=WAIT)
    # the live preview renders the text in the editor, unsaved, for the chosen product: values literally
    dialog.source.setPlainText("{{ title }} by {{ vendor }}")
    qtbot.waitUntil(lambda: dialog.sample_after.toPlainText() == "{{ 7*7 }} Linen Shirt by Norda", timeout=WAIT)
    dialog.source.setPlainText("{{ title.__class__ }}")
    qtbot.waitUntil(lambda: "unsafe" in dialog.sample_status.text(), timeout=WAIT)
    assert dialog.apply_blocked_reason() == "Save the template, then preview the changes."
    dialog.source.setPlainText("{{ title }} by {{ vendor }}")
    dialog.save_template()
    qtbot.waitUntil(dialog.is_saved, timeout=WAIT)
    dialog.preview()
    qtbot.waitUntil(lambda: dialog.preview_result is not None, timeout=WAIT)
    assert dialog.preview_result.affected == dialog.changes_model.rowCount() == 2
    assert changesets.list_changesets(db) == []
    assert dialog.apply_button.isEnabled() and dialog.apply_button.text() == "Apply to 2 products"
    dialog.apply()
    qtbot.waitUntil(lambda: not dialog._applying, timeout=WAIT)
    [cs] = changesets.list_changesets(db)
    assert cs.row_count == 2 and f"#{cs.id}" in dialog.banner.text.text()
    with db.read() as session:
        assert session.scalar(select(Product.description).where(Product.handle == "merino-crew")) == \
            "Merino Crew Jumper by Norda"


def test_checks_dialog_counts_equal_the_database_and_export_every_product(qtbot, tasks: TaskManager,  # type: ignore[no-untyped-def]
                                                                          connected_context, sqlite_db: Database,
                                                                          sqlite_actor: Actor, tmp_path: Path) -> None:
    db = sqlite_db
    make_catalog(db, sqlite_actor)
    shown: list[bool] = []
    dialog = ContentChecksDialog(connected_context(db, sqlite_actor), tasks, VariantFilter(), "All products",
                                 lambda: shown.append(True))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=WAIT)
    report = content_checks.run_checks(db)
    assert dialog.summary.total == dialog.rows_model.rowCount() == 5
    assert [int(r[1].replace(",", "")) for r in dialog.checks_model.rows] == \
        [report.counts[c.key] for c in content_checks.CHECKS]
    assert f"{report.attention_count} need attention" in dialog.headline.text()
    scores = [int(r[0]) for r in dialog.rows_model.rows]
    assert scores == sorted(scores)
    # a stricter threshold is saved and the checks run again
    dialog.attention_below.setValue(100)
    dialog.save_settings()
    qtbot.waitUntil(lambda: dialog.summary is not None and dialog.summary.rules.attention_below == 100, timeout=WAIT)
    assert dialog.summary.attention_count == 5 == content_checks.run_checks(db).attention_count
    path = tmp_path / "content.xlsx"
    dialog.export(str(path))
    qtbot.waitUntil(lambda: "Wrote 5 products" in dialog.banner.text.text(), timeout=WAIT)
    assert openpyxl.load_workbook(path, read_only=True)["Content checks"].max_row == 6
    dialog.grid_button.click()
    assert shown == [True]


def test_the_needs_attention_filter_reaches_the_grid_count(qtbot, sqlite_db: Database, sqlite_actor: Actor,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    make_catalog(sqlite_db, sqlite_actor)
    bar = ProductFilterBar(QSettings(str(tmp_path / "f.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(bar)
    bar.needs_attention.setChecked(True)
    f = bar.current_filter()
    assert f.needs_attention and "More filters (1)" == bar.more_button.text()
    report = content_checks.run_checks(sqlite_db)
    assert catalog_grid.count(sqlite_db, f) == report.attention_count   # one variant per product needing it
    bar.clear()
    assert not bar.current_filter().needs_attention


def test_the_merchandising_menu_opens_the_checks_and_shows_the_products_needing_attention_in_the_grid(  # type: ignore[no-untyped-def]
        qtbot, tasks: TaskManager, connected_context, sqlite_db: Database, sqlite_actor: Actor,
        ui_settings: QSettings) -> None:
    from backoffice.ui.views.products.view import ProductsView

    make_catalog(sqlite_db, sqlite_actor)
    view = ProductsView(connected_context(sqlite_db, sqlite_actor), tasks, settings=ui_settings)
    qtbot.addWidget(view)
    view.resize(1300, 800)
    view.show()
    view.activate()
    qtbot.waitUntil(lambda: not view.is_loading() and view.model.total == 6, timeout=WAIT)
    entries = {a.text(): a for a in view.merchandising_menu.actions()}
    entries["Content checks…"].trigger()
    dialog = view.dialog
    assert isinstance(dialog, ContentChecksDialog)
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=WAIT)
    attention = dialog.summary.attention_count
    dialog.grid_button.click()
    qtbot.waitUntil(lambda: not view.is_loading() and view.filters.current_filter().needs_attention
                    and view.model.total == catalog_grid.count(sqlite_db, VariantFilter(needs_attention=True)),
                    timeout=WAIT)
    assert view.model.total == attention            # one variant per product needing attention here
    entries["Description templates…"].trigger()
    assert isinstance(view.dialog, ContentTemplatesDialog)
    assert [label for label, _ in view.dialog.targets] == ["The products of all 4 variants matching the filter"]
    view.dialog.reject()
