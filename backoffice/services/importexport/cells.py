"""Cell parsers and small helpers of the planner: text -> (value, problem or None), each one cheap,
because the planner calls them once per distinct cell text of a column."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from backoffice.models import ProductStatus, VariantStatus
from backoffice.services.catalog import MAX_LENGTHS, parse_money
from backoffice.services.importexport.common import category_key

PRODUCT_STATUSES = {s.value for s in ProductStatus}
VARIANT_STATUSES = {s.value for s in VariantStatus}
_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$")
ABSENT = object()   # a cell that gives no value (an empty status: keep the stored one)


def short(v: str, n: int = 40) -> str:
    return repr(v if len(v) <= n else v[: n - 1] + "…")


def money(text: str) -> tuple[Any, str | None]:
    if not text:
        return None, None
    if _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    local: list = []
    value = parse_money(text, 0, "", local, required=False)
    return (value, None) if not local else (None, local[0][2])


def barcode(code: str) -> tuple[Any, str | None]:
    if code and not code.isdigit():
        return None, f"{short(code)} must be digits only"
    if len(code) > MAX_LENGTHS["barcode"]:
        return None, f"is {len(code)} digits long; at most {MAX_LENGTHS['barcode']}"
    return code or None, None


def whole_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    try:
        d = Decimal(text)
    except ArithmeticError:
        return None
    if not d.is_finite() or d != d.to_integral_value():
        return None
    return int(d)


def weight(w: str) -> tuple[Any, str | None]:
    if not w:
        return None, None
    grams = whole_number(w)
    if grams is None or grams < 0:
        return None, f"{short(w)} must be a whole number of grams, not negative"
    if grams > 2_000_000_000:
        return None, f"{w} is too large"
    return grams, None


def variant_status(st: str) -> tuple[Any, str | None]:
    st = st.lower()
    if not st:
        return ABSENT, None
    if st not in VARIANT_STATUSES:
        return None, f"{short(st)} is not one of {', '.join(sorted(VARIANT_STATUSES))}"
    return st, None


PARSERS = {"price": money, "compare_at_price": money, "cost": money, "barcode": barcode,
            "weight_grams": weight, "status": variant_status}


def same_value(key: str, a: str, b: str) -> bool:
    """Whether two cells give a product field the same value (spelling aside)."""
    if key == "category":
        return category_key(a) == category_key(b)
    if key == "tags":
        return {t.strip() for t in a.split(",") if t.strip()} == {t.strip() for t in b.split(",") if t.strip()}
    if key in ("status", "published"):
        return a.strip().lower() == b.strip().lower()
    if key == "title":
        return a.strip() == b.strip()
    return a == b


def array_literal(keys: list[Any]) -> str:
    if keys and isinstance(keys[0], int):
        return "{" + ",".join(map(str, keys)) + "}"
    return "{" + ",".join('"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys) + "}"


def signature(pairs: list[tuple[int, int]]) -> str:
    return ",".join(f"{a}:{v}" for a, v in sorted(pairs))


def parse_signature(sig: str | None) -> dict[int, int]:
    return {int(a): int(v) for a, v in (p.split(":") for p in sig.split(","))} if sig else {}


def slug(name: str) -> str:
    code = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if not code or not code[0].isalpha():
        code = "option_" + code if code else "option"
    return code[:100]
