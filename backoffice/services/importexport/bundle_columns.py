"""Bundles in the native product file: four columns after the others, written only when the store has
bundles (a store without any exports exactly the file it always did)::

    bundle_components   SKU-A*2; SKU-B*1      (the components and how many of each one bundle holds)
    bundle_pricing      fixed | discount
    bundle_amount       fixed: the price; discount: an amount off the components' prices
    bundle_percent_off  discount: a percentage off the components' prices

On import a row whose ``bundle_components`` cell is filled makes its SKU a bundle, or changes it, in the
import's transaction after the products and variants are written (so a bundle and its components may be
new in the same file). A row with empty bundle cells leaves a bundle as it is (``backoffice bundles delete``
stops one). Exporting and importing the same file changes nothing. Every bad cell is a problem naming its
row and column; the dry run checks the component SKUs against the store and the file.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.models import Bundle, BundleComponent, Variant
from backoffice.services import bundles
from backoffice.services.base import Actor, ValidationError
from backoffice.services.importexport.common import BUNDLE_COLUMNS, Problem

__all__ = ["BUNDLE_COLUMNS", "apply_rows", "check_rows", "export_cells"]


def export_cells(session: Session) -> dict[str, list[str]]:
    """SKU -> its four bundle cells, for every bundle of the store (empty: no bundles, no columns)."""
    found = session.execute(select(Bundle.id, Variant.sku, Bundle.pricing, Bundle.amount, Bundle.percent_off)
                            .join(Variant, Variant.id == Bundle.variant_id)).all()
    if not found:
        return {}
    components: dict[int, list[tuple[str, int]]] = {}
    for bundle_id, sku, q in session.execute(
            select(BundleComponent.bundle_id, Variant.sku, BundleComponent.quantity)
            .join(Variant, Variant.id == BundleComponent.component_variant_id).order_by(Variant.sku)):
        components.setdefault(bundle_id, []).append((sku, q))
    return {sku: [bundles.format_components(components.get(bid, [])), pricing.value, str(amount), str(percent)]
            for bid, sku, pricing, amount, percent in found}


def _rows(parsed: Any) -> list[tuple[int, str, list[str]]]:  # noqa: ANN401 - a ParsedFile
    """(row number, SKU, the four bundle cells) of the rows with a filled bundle_components cell."""
    at = {name: parsed.columns.get(name) for name in BUNDLE_COLUMNS}
    if at["bundle_components"] is None:
        return []
    i_sku = parsed.columns["sku"]
    out = []
    for number, cells in zip(parsed.row_numbers, parsed.rows, strict=True):
        values = [parsed.clean(cells[i]) if i is not None and i < len(cells) else "" for i in at.values()]
        if values[0]:
            out.append((number, parsed.clean(cells[i_sku]), values))
    return out


def _spec(parsed: Any, number: int, sku: str, values: list[str]) -> tuple[dict[str, Any], list[Problem]]:  # noqa: ANN401
    text, pricing, amount, percent = values
    header = {name: parsed.header[parsed.columns[name]] if name in parsed.columns else name for name in BUNDLE_COLUMNS}
    try:
        components = bundles.parse_components(text, f"row {number}")
        kind, money, pct = bundles.clean_pricing(pricing or "discount", amount or "0", percent or "0", f"row {number}")
    except ValidationError as exc:
        names = {"bundle_components": "bundle_components", "pricing": "bundle_pricing", "amount": "bundle_amount",
                 "percent_off": "bundle_percent_off"}
        return {}, [Problem(number, header.get(names.get(f, f), f), m) for _, f, m in exc.problems]
    return {"sku": sku, "pricing": kind.value, "amount": money, "percent_off": pct, "components": components}, []


def check_rows(session: Session, parsed: Any) -> list[Problem]:  # noqa: ANN401 - a ParsedFile
    """The problems of the file's bundle cells (a dry run): amounts, pricing, quantities, and component SKUs
    that are neither in the store nor in the file."""
    rows = _rows(parsed)
    if not rows:
        return []
    problems: list[Problem] = []
    i_sku = parsed.columns["sku"]
    in_file = {parsed.clean(cells[i_sku]) for cells in parsed.rows}
    specs = []
    for number, sku, values in rows:
        spec, bad = _spec(parsed, number, sku, values)
        problems.extend(bad)
        if spec:
            specs.append((number, spec))
    wanted = sorted({c.sku for _, s in specs for c in s["components"]})
    known = set(session.scalars(select(Variant.sku).where(Variant.sku.in_(wanted)))) if wanted else set()
    bundle_skus = {s["sku"] for _, s in specs} | set(session.scalars(
        select(Variant.sku).join(Bundle, Bundle.variant_id == Variant.id)))
    column = parsed.header[parsed.columns["bundle_components"]]
    for number, spec in specs:
        for c in spec["components"]:
            if c.sku not in known and c.sku not in in_file:
                problems.append(Problem(number, column, f"component {c.sku}: no variant has this SKU"))
            elif c.sku in bundle_skus:
                problems.append(Problem(number, column, f"component {c.sku}: is a bundle, not a product with stock"))
            elif c.quantity <= 0:
                problems.append(Problem(number, column, f"component {c.sku}: quantity {c.quantity} must be above zero"))
    return problems


def apply_rows(session: Session, actor: Actor, parsed: Any, operation_id: str | None) -> tuple[int, list[Problem]]:  # noqa: ANN401
    """Write the file's bundles in the caller's transaction: (bundles created or changed, problems). The
    caller rolls back when there are problems."""
    changed = 0
    problems: list[Problem] = []
    column = parsed.header[parsed.columns["bundle_components"]] if "bundle_components" in parsed.columns else ""
    for number, sku, values in _rows(parsed):
        spec, bad = _spec(parsed, number, sku, values)
        if bad:
            problems.extend(bad)
            continue
        try:
            _, action = bundles.save_in_session(session, actor, expected_version=None, operation_id=operation_id,
                                                row=f"row {number}", **spec)
        except ValidationError as exc:
            problems.extend(Problem(number, column, f"{f}: {m}" if f and f != "components" else m)
                            for _, f, m in exc.problems)
            continue
        changed += action != "unchanged"
    return changed, problems

