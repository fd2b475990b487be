"""Content: description templates (sandboxed rendering with hostile templates and hostile product values,
preview, one revertible changeset, conflicts, bad rows), the SEO and content checks (each product's
checks and score against an independent computation, the grid's "Needs attention" count against the
database), the CLI (templates, apply, check with an XLSX/CSV report) and the store API on loopback."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Changeset, Product, ProductImage, Variant
from backoffice.operations import LocalOperations, PermissionDenied
from backoffice.operations.content import Target
from backoffice.services import catalog, catalog_grid, changesets, content, content_checks
from backoffice.services.base import Actor, ConflictError, NotFound, ValidationError
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.templating import MAX_OUTPUT, check_template, render_template
from tests.api_support import PASSWORD, add_staff, start_server, url_of

LONG = "Soft merino wool knitted in a fine gauge for everyday layering. " * 3   # 30 words


# -- the sandbox: hostile templates and hostile values ----------------------------------------------------
@pytest.mark.parametrize("title", ["{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "{{ ''.__class__ }}",
                                   "{#", "<script>alert(1)</script>"])
def test_hostile_values_come_out_literally(title: str) -> None:
    assert render_template("[{{ title }}]", {"title": title}) == f"[{title}]"
    assert render_template("{{ title|e }}", {"title": "<b>"}) == "&lt;b&gt;"


@pytest.mark.parametrize("source, reason", [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    ("{{ title.__class__ }}", "unsafe"),
    ("{{ cycler.__init__.__globals__ }}", "unsafe"),
    ("{{ lipsum.__globals__['os'] }}", "unsafe"),
    ("{{ tags.append('x') }}", "unsafe"),
    ("{{ 'x' * 10000000 }}", "repeated text"),
    ("{{ [1] * 100000 }}", "repeated list"),
    ("{{ 9 ** 99999 }}", "powers"),
    ("{% for i in range(100000) %}{% endfor %}", "range"),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", "loops of one rendering"),
    ("{% for i in range(1000) %}{% for j in range(100) %}{{ title }}{% endfor %}{% endfor %}", "more than"),
    # padding to a width, formats and amplifying replaces or joins are refused before they allocate
    ("{{ 'x'|center(2000000000) }}", "No filter named 'center'"),
    ("{{ '{:>2000000000}'.format(1) }}", "unsafe"),
    ("{{ 'x'.ljust(2000000000) }}", "not allowed in a template"),
    ("{{ '%2000000000d' % 1 }}", "format widths"),
    ("{{ ('a' * 1000)|replace('a', 'a' * 1000) }}", "replace would make"),
    ("{{ ('a' * 1000).replace('a', 'a' * 1000) }}", "replace would make"),
    ("{{ range(1000)|join('a' * 1000) }}", "join would make"),
    ("{{ [1, 2]|batch(2000000000)|list }}", "numbers above"),
    # nested loops over a long literal list stop after the rendering's budget of steps
    ("{% set l = [" + ",".join(["1"] * 3000) + "] %}{% for a in l %}{% for b in l %}{% for c in l %}{% endfor %}"
     "{% endfor %}{% endfor %}", "100,000 steps"),
])
def test_hostile_templates_are_refused_naming_the_row(source: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        render_template(source, {"title": "x" * 20, "tags": []}, row="product p1", field_name="description")
    assert str(caught.value).startswith("product p1 description: ")
    assert reason in str(caught.value)


def test_ordinary_templates_still_work_in_the_sandbox() -> None:
    values = {"title": "Hat", "tags": ["a", "b"], "variants": [{"sku": "A", "price": "9.00"}, {"sku": "B", "price": "12.50"}],
              "attributes": {"Colour": ["Red", "Blue"]}}
    source = ("{{ title|upper }} {{ tags|join(', ') }} {{ '%s-%d' % (title, 3) }} {{ title|replace('a', 'o') }} "
              "{% for v in variants %}{{ loop.index }}/{{ loop.length }} {{ v.sku }} {{ v.price }}{% if not loop.last %}, "
              "{% endif %}{% endfor %} {{ attributes.Colour|join('/') }} {{ attributes.get('Size', [])|length }} "
              "{{ title.split()|join('-')|lower }}{% for x in [] %}{% else %} none{% endfor %}")
    assert render_template(source, values) == \
        "HAT a, b Hat-3 Hot 1/2 A 9.00, 2/2 B 12.50 Red/Blue 0 hat none"


def test_a_broken_template_names_its_line_and_an_oversized_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="line 2"):
        check_template("ok\n{% if %}")
    with pytest.raises(ValidationError, match="characters; the most is"):
        check_template("x" * 20_001)
    assert len(render_template("{% for i in range(1000) %}{{ title }}{% endfor %}", {"title": "x" * 100})) == MAX_OUTPUT


# -- a small catalog with known content ---------------------------------------------------------------------
def make_catalog(db: Database, actor: Actor) -> dict[str, int]:
    catalog.create_attribute(db, actor, code="colour", name="Colour", values=["Navy", "Grey", "Red"])
    catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M"])
    shirts = catalog.add_category_path(db, actor, "Apparel > Shirts").entity_id
    seo = "A soft merino crew neck jumper for cold mornings, in three colours."
    specs = [
        ("merino-crew", "Merino Crew Jumper", "Norda", LONG, seo, shirts, ["wool"], [("MC-N", "Navy", "59.99"), ("MC-G", "Grey", "64.00")]),
        ("linen-shirt", "{{ 7*7 }} Linen Shirt", "Norda", "Short text.", "", shirts, [], [("LS-R", "Red", "35.00")]),
        ("linen-shirt-2", "{{ 7*7 }} linen shirt ", "", "Short text.", "", None, [], [("LS2", None, "12.50")]),
        ("cap", "Cap", "Other", "", "x" * 200, None, ["sale"], [("CAP", "Grey", "9.00")]),
        ("long-title", "T" * 80, "Other", LONG, seo, shirts, [], [("LT-1", None, "20.00")]),
    ]
    ids = {}
    for handle, title, vendor, description, seo_description, category, tags, variants in specs:
        ids[handle] = catalog.create_product(
            db, actor, values={"handle": handle, "title": title, "vendor": vendor, "description": description,
                               "seo_description": seo_description, "category_id": category, "tags": tags,
                               "status": "active"},
            variants=[{"sku": sku, "price": price, **({"options": {"colour": colour}} if colour else {})}
                      for sku, colour, price in variants]).entity_id
    with db.write() as session:   # images: two for the crew (one without alt text), one for the long title
        session.add_all([ProductImage(product_id=ids["merino-crew"], content_hash="a" * 64, alt_text="Navy crew"),
                         ProductImage(product_id=ids["merino-crew"], content_hash="b" * 64, alt_text="  ", position=1),
                         ProductImage(product_id=ids["long-title"], content_hash="c" * 64, alt_text="Long")])
    return ids


@pytest.fixture
def shop(db: Database, actor: Actor) -> dict[str, int]:
    return make_catalog(db, actor)


def expected_checks(db: Database, thin_words: int) -> dict[str, tuple[set[str], int]]:
    """Each product's failing checks and score, computed in Python from the rows (not the SQL)."""
    with db.read() as session:
        products = session.execute(select(Product.id, Product.handle, Product.title, Product.description,
                                          Product.seo_title, Product.seo_description, Product.category_id,
                                          Product.vendor)).all()
        images = session.execute(select(ProductImage.product_id, ProductImage.alt_text)).all()
    key = lambda s: s.strip().lower()  # noqa: E731
    titles = [key(p.title) for p in products]
    descriptions = [key(p.description) for p in products if p.description.strip()]
    out = {}
    for p in products:
        own = [alt for pid, alt in images if pid == p.id]
        seo_title = p.seo_title.strip() or p.title.strip()
        fails = {
            "title_length": not 10 <= len(p.title.strip()) <= 70,
            "seo_title_length": len(seo_title) > 60,
            "meta_description": not 50 <= len(p.seo_description.strip()) <= 160,
            "duplicate_title": titles.count(key(p.title)) > 1,
            "duplicate_description": bool(p.description.strip()) and descriptions.count(key(p.description)) > 1,
            "duplicate_handle": False,
            "no_images": not own,
            "missing_alt_text": any(not a.strip() for a in own),
            "empty_description": not p.description.strip(),
            "thin_description": bool(p.description.strip()) and len(p.description.split()) < thin_words,
            "missing_category": p.category_id is None,
            "missing_vendor": not p.vendor.strip(),
        }
        failing = {k for k, v in fails.items() if v}
        weights = {c.key: c.weight for c in content_checks.CHECKS}
        out[p.handle] = (failing, 100 - sum(weights[k] for k in failing))
    return out


def grid_count(db: Database, f: VariantFilter) -> int:
    return catalog_grid.count(db, f)


def test_checks_and_scores_match_an_independent_computation_and_the_grid_count(db: Database, actor: Actor,
                                                                                shop: dict[str, int]) -> None:
    report = content_checks.run_checks(db)
    got = {r.handle: (set(r.failing), r.score) for r in report.rows}
    assert got == expected_checks(db, 50)
    assert got["linen-shirt"][0] >= {"duplicate_title", "thin_description", "duplicate_description", "no_images"}
    assert "missing_alt_text" in got["merino-crew"][0] and "no_images" not in got["merino-crew"][0]
    assert report.counts["duplicate_title"] == 2
    assert content_checks.run_checks(db) == report            # running it again changes nothing
    # the grid's "Needs attention" rows are the variants of the products scoring below the threshold
    with db.read() as session:
        variants_of = dict(session.execute(select(Product.handle, func.count(Variant.id))
                                           .join(Variant, Variant.product_id == Product.id).group_by(Product.handle)).all())
    for below in (80, 95, 100, 0):
        content_checks.save_rules(db, actor, thin_words=50, attention_below=below)
        wanted = sum(variants_of[h] for h, (_, score) in got.items() if score < below)
        assert grid_count(db, VariantFilter(needs_attention=True)) == wanted
        assert content_checks.run_checks(db).attention_count == sum(1 for _, s in got.values() if s < below)
    # thresholds are the store's setting: a lower word count makes no description thin
    content_checks.save_rules(db, actor, thin_words=2, attention_below=80)
    assert {h: s for h, (_, s) in {r.handle: (set(r.failing), r.score) for r in content_checks.run_checks(db).rows}.items()} \
        == {h: s for h, (_, s) in expected_checks(db, 2).items()}
    # combined with another filter, and over a selection of variants
    norda = content_checks.run_checks(db, VariantFilter(vendors=("Norda",)))
    assert sorted(r.handle for r in norda.rows) == ["linen-shirt", "merino-crew"]
    picked = content_checks.run_checks(db, None, (shop["cap"] and _variant_id(db, "CAP"),))
    assert [r.handle for r in picked.rows] == ["cap"]


def _variant_id(db: Database, sku: str) -> int:
    with db.read() as session:
        return session.scalar(select(Variant.id).where(Variant.sku == sku))


def test_bad_thresholds_are_refused_and_a_stale_save_is_a_conflict(db: Database, actor: Actor) -> None:
    with pytest.raises(ValidationError, match="attention_below: 101 is not a score from 0 to 100"):
        content_checks.save_rules(db, actor, thin_words=5, attention_below=101)
    saved = content_checks.save_rules(db, actor, thin_words=5, attention_below=70, expected_version=0)
    assert content_checks.get_rules(db) == saved
    with pytest.raises(ConflictError):
        content_checks.save_rules(db, actor, thin_words=6, attention_below=70, expected_version=0)
    assert content_checks.get_rules(db).thin_words == 5


# -- templates: preview, apply, revert, conflicts, bad rows --------------------------------------------------
SOURCE = ("<p>{{ title }}{% if vendor %} by {{ vendor }}{% endif %}.</p>"
          "{% for name, values in attributes.items() %} {{ name }}: {{ values|join(', ') }}.{% endfor %}"
          "{% if min_price %} From {{ min_price }}.{% endif %}")


def descriptions(db: Database) -> dict[str, str]:
    with db.read() as session:
        return dict(session.execute(select(Product.handle, Product.description)).all())


def test_apply_previews_then_writes_one_revertible_changeset(db: Database, actor: Actor, shop: dict[str, int]) -> None:
    content.save_template(db, actor, name="Basic", target_field="description", source=SOURCE)
    before = descriptions(db)
    target = Target(filter=VariantFilter(vendors=("Norda",)))
    p = content.plan(db, "Basic", target)
    assert descriptions(db) == before and changesets.list_changesets(db) == []      # the preview writes nothing
    assert (p.considered, len(p.changes), p.unchanged, p.invalid) == (2, 2, 0, [])
    after = {h: a for h, _, a in p.sample}
    assert after["merino-crew"] == "<p>Merino Crew Jumper by Norda.</p> Colour: Navy, Grey. From 59.99."
    assert after["linen-shirt"] == "<p>{{ 7*7 }} Linen Shirt by Norda.</p> Colour: Red. From 35.00."   # literally
    result = content.apply_template(db, actor, "Basic", target, previewed=p.versions)
    assert (result.applied_rows, result.conflicts) == (2, [])
    now = descriptions(db)
    assert {h: now[h] for h in after} == after and now["cap"] == before["cap"]
    [cs] = changesets.list_changesets(db)
    assert cs.kind == "template" and cs.row_count == 2
    again = content.plan(db, "Basic", target)                 # applying twice changes nothing more
    assert (len(again.changes), again.unchanged) == (0, 2)
    changesets.revert_changeset(db, actor, result.changeset_id)
    assert descriptions(db) == before


def test_rows_changed_since_the_preview_are_conflicts_left_as_they_are(db: Database, actor: Actor,
                                                                        shop: dict[str, int]) -> None:
    content.save_template(db, actor, name="Seo", target_field="seo_title", source="{{ title|truncate(50) }} | Norda")
    target = Target(filter=VariantFilter(vendors=("Norda",)))
    p = content.plan(db, "Seo", target)
    product = catalog.get_product(db, shop["merino-crew"])
    catalog.update_product(db, actor, shop["merino-crew"], values={"seo_title": "Hand written"},
                           expected_version=product["version"])
    result = content.apply_template(db, actor, "Seo", target, previewed=p.versions)
    assert result.applied_rows == 1
    [conflict] = result.conflicts
    assert (conflict.label, conflict.field, conflict.theirs) == ("merino-crew", "seo_title", "Hand written")
    assert catalog.get_product(db, shop["merino-crew"])["seo_title"] == "Hand written"


def test_products_that_cannot_render_are_named_and_block_the_apply_unless_skipped(db: Database, actor: Actor,
                                                                                  shop: dict[str, int]) -> None:
    content.save_template(db, actor, name="Colours", target_field="description",
                          source="{{ title }} in {{ attributes.Colour|join(', ') }}")
    before = descriptions(db)
    p = content.plan(db, "Colours", Target())
    assert sorted(row for row, _, _ in p.invalid) == ["product linen-shirt-2", "product long-title"]
    assert all(f == "description" and "Colour" in why for _, f, why in p.invalid)
    with pytest.raises(ValidationError, match="product linen-shirt-2 description"):
        content.apply_template(db, actor, "Colours", Target(), previewed=p.versions)
    assert descriptions(db) == before
    result = content.apply_template(db, actor, "Colours", Target(), previewed=p.versions, skip_invalid=True,
                                    operation_id="colours-1")
    assert result.applied_rows == 3
    replay = content.apply_template(db, actor, "Colours", Target(), skip_invalid=True, operation_id="colours-1")
    assert replay.changeset_id == result.changeset_id
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Changeset)) == 1
    # an SEO field too long for its column is a bad row too
    content.save_template(db, actor, name="Long", target_field="seo_title", source="{{ description }}{{ description }}")
    long_rows = [row for row, _, why in content.plan(db, "Long", Target()).invalid if "the field holds 255" in why]
    assert long_rows == ["product long-title"]          # the crew's description is short by now


def test_template_names_fields_and_sources_are_checked(db: Database, actor: Actor) -> None:
    with pytest.raises(ValidationError, match="field: 'price' is not one of"):
        content.save_template(db, actor, name="X", target_field="price", source="{{ title }}")
    with pytest.raises(ValidationError, match="source: line 1"):
        content.save_template(db, actor, name="X", target_field="description", source="{{ title ")
    with pytest.raises(ValidationError, match="name: must not be empty"):
        content.save_template(db, actor, name=" ", target_field="description", source="x")
    assert content.list_templates(db) == []
    content.save_template(db, actor, name="X", target_field="description", source="a")
    content.save_template(db, actor, name="X", target_field="description", source="b", expected_version=1)
    with pytest.raises(ConflictError):
        content.save_template(db, actor, name="X", target_field="description", source="c", expected_version=1)
    assert content.get_template(db, "X").source == "b"
    content.delete_template(db, actor, "X")
    with pytest.raises(NotFound):
        content.get_template(db, "X")


def test_a_role_without_catalog_rights_may_check_but_not_apply(db: Database, actor: Actor, shop: dict[str, int]) -> None:
    from backoffice.models import Role
    from backoffice.services import users

    users.create_user(db, actor, "wh", Role.WAREHOUSE, "Warehouse", password=PASSWORD)
    ops = LocalOperations(db, users.sign_in(db, "wh"), owns_database=False)
    assert ops.content.check().total == 5
    with pytest.raises(PermissionDenied):
        ops.content.save_template("X", "description", "{{ title }}")
    with pytest.raises(PermissionDenied):
        ops.content.apply("X", Target())


# -- the command line -----------------------------------------------------------------------------------
def run(db: Database, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--user", "tester", *args, "--db", url_of(db)])


def test_cli_templates_apply_and_check_report(db: Database, actor: Actor, shop: dict[str, int], tmp_path: Path) -> None:
    source = tmp_path / "basic.j2"
    source.write_text(SOURCE, encoding="utf-8")
    assert run(db, "content", "templates", "save", "Basic", "--file", str(source)).exit_code == 0
    listed = run(db, "content", "templates", "list")
    assert listed.output.split()[:2] == ["Basic", "description"]
    assert run(db, "content", "templates", "show", "Basic").stdout.rstrip("\n") == SOURCE
    before = descriptions(db)
    dry = run(db, "content", "apply", "Basic", "--vendor", "Norda", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[0] == ("Template 'Basic' → description: 2 products, 2 would change, 0 unchanged, "
                                          "0 cannot be rendered.")
    assert descriptions(db) == before
    applied = run(db, "content", "apply", "Basic", "--vendor", "Norda")
    assert applied.exit_code == 0, applied.output
    [cs] = changesets.list_changesets(db)
    assert f"Applied as changeset #{cs.id}: 2 products changed." in applied.output

    xlsx = tmp_path / "report.xlsx"
    wrote = run(db, "content", "check", "--xlsx", str(xlsx))
    assert wrote.exit_code == 0, wrote.output
    sheet = openpyxl.load_workbook(xlsx, read_only=True)["Content checks"]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    expected = expected_checks(db, 50)
    assert len(body) == len(expected) == 5
    for row in body:
        record = dict(zip(header, row, strict=True))
        failing, score = expected[record["Handle"]]
        assert record["Score"] == score
        assert record["Needs attention"] == ("yes" if score < 80 else "no")
        assert {c.key for c in content_checks.CHECKS if record[c.label] == "fail"} == failing
    norda_csv = tmp_path / "norda.csv"
    assert run(db, "content", "check", "--vendor", "Norda", "--csv", str(norda_csv)).exit_code == 0
    with norda_csv.open(encoding="utf-8") as fh:
        handles = sorted(r["Handle"] for r in csv.DictReader(fh))
    assert handles == ["linen-shirt", "merino-crew"]
    shown = run(db, "content", "check", "--limit", "2")
    assert re.match(r"5 products checked; \d+ need attention \(score below 80\)", shown.output)


def test_cli_bad_input_is_one_line_and_writes_nothing(db: Database, actor: Actor, shop: dict[str, int],
                                                      tmp_path: Path) -> None:
    broken = tmp_path / "broken.j2"
    broken.write_text("{% for x in %}", encoding="utf-8")
    result = run(db, "content", "templates", "save", "Broken", "--file", str(broken))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("backoffice: error: template Broken source: line 1")
    assert content.list_templates(db) == []
    missing = run(db, "content", "apply", "Nope")
    assert missing.exit_code == 1 and missing.stderr == "backoffice: error: description template 'Nope' does not exist\n"
    colours = tmp_path / "colours.j2"
    colours.write_text("{{ attributes.Colour|join(', ') }}", encoding="utf-8")
    assert run(db, "content", "templates", "save", "Colours", "--file", str(colours)).exit_code == 0
    blocked = run(db, "content", "apply", "Colours")
    assert blocked.exit_code == 1
    assert "2 products cannot be rendered; nothing was written" in blocked.stderr
    assert changesets.list_changesets(db) == []


# -- over the store API ------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_the_content_area_works_over_http(pg_db: Database) -> None:
    from backoffice.remote.session import sign_in
    from backoffice.server import create_app_for_url
    from backoffice.services import users

    add_staff(pg_db)
    make_catalog(pg_db, users.sign_in(pg_db, "admin"))
    running, stop = start_server(create_app_for_url(url_of(pg_db), rate=10_000, burst=10_000))
    try:
        ops = sign_in(running.base_url, "merchandiser", PASSWORD)
        try:
            summary = ops.content.check(VariantFilter(needs_attention=True))
            # the products needing attention have one variant each: as many grid rows as products
            assert summary.total == summary.attention_count == grid_count(pg_db, VariantFilter(needs_attention=True)) == 4
            saved = ops.content.save_template("Basic", "description", SOURCE)
            assert saved.version == 1
            preview = ops.content.preview("Basic", Target(filter=VariantFilter(vendors=("Norda",))))
            assert (preview.affected, preview.invalid_count) == (2, 0)
            result = ops.content.apply("Basic", Target(filter=VariantFilter(vendors=("Norda",))), stamp=preview.stamp,
                                       template_version=preview.template_version, op_id="http-1")
            assert result.applied_rows == 2
            assert descriptions(pg_db)["merino-crew"].startswith("<p>Merino Crew Jumper by Norda.</p>")
        finally:
            ops.close()
        with pytest.raises(PermissionDenied):
            wh = sign_in(running.base_url, "warehouse", PASSWORD)
            try:
                wh.content.apply("Basic", Target())
            finally:
                wh.close()
    finally:
        stop()


def test_a_preview_reports_progress_and_stops_when_cancelled(db: Database, actor: Actor, shop: dict[str, int]) -> None:
    content.save_template(db, actor, name="Basic", target_field="description", source="{{ title }}")
    seen: list[float] = []
    p = content.plan(db, "Basic", Target(), progress=lambda f, _text: seen.append(f))
    assert p.considered == 5 and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(content.Cancelled):
        content.plan(db, "Basic", Target(), cancel=lambda: True)


TRICKY = ["one two  three", "\n\tone\r\ntwo\n\n", "   ", "\n\n", "a" + " " * 40 + "b", "<p>one</p>\n<ul>\n  <li>two</li>\n</ul>",
          " single ", "x " * 60]


def test_word_counts_and_the_grid_agree_with_python_on_tricky_whitespace(db: Database, actor: Actor,
                                                                          shop: dict[str, int]) -> None:
    handles = list(shop)
    with db.write() as session:
        for handle, text in zip(handles * 2, TRICKY, strict=False):
            session.execute(Product.__table__.update().where(Product.handle == handle).values(description=text))
    report = content_checks.run_checks(db)
    with db.read() as session:
        texts = dict(session.execute(select(Product.handle, Product.description)).all())
    assert {r.handle: r.words for r in report.rows} == {h: len(t.split()) for h, t in texts.items()}
    for thin_words, below in ((3, 80), (10, 90), (61, 75), (2, 100)):
        content_checks.save_rules(db, actor, thin_words=thin_words, attention_below=below)
        report = content_checks.run_checks(db)
        got = {r.handle: (set(r.failing), r.score) for r in report.rows}
        assert got == expected_checks(db, thin_words)
        attention = {r.handle for r in report.rows if r.score < below}
        rows = catalog_grid.ordered_ids(db, VariantFilter(needs_attention=True))
        with db.read() as session:
            grid_products = set(session.scalars(select(Product.handle).join(Variant, Variant.product_id == Product.id)
                                                .where(Variant.id.in_(list(rows)))))
        assert grid_products == attention
