"""The catalog's price rule, in one place: a compare-at price ("was €79") is never below the price.

Every path that can change a price or a compare-at price checks it here: a single edit (catalog), a grid
save or revert (changesets, row by row and set-based in SQL), a bulk edit (bulk), an import (its
planner) and a repricing by surcharge rules. Each says the problem in its own words; the rule is the
same.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def compare_at_below_price(price: Any, compare_at: Any) -> bool:
    """True when a row would break the rule: it has both prices and the compare-at one is lower. A row
    without a compare-at price (or without a price yet) is fine."""
    if compare_at is None or price is None:
        return False
    if type(compare_at) is not Decimal or type(price) is not Decimal:   # "12.50" as stored in JSON
        if compare_at == "" or price == "":
            return False
        compare_at, price = Decimal(compare_at), Decimal(price)
    return compare_at < price


def compare_at_below_price_sql(price: str, compare_at: str) -> str:
    """The same rule as a SQL condition on two column expressions (NULL on either side: not broken)."""
    return f"({compare_at} < {price})"
