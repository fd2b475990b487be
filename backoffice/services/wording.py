"""Numbers and counts in human text: changeset descriptions, audit notes, previews, command output.

Text built here is often stored (a changeset's description lives as long as the changeset), so it is
plain and locale-independent: ``10``, not ``1E+1``; ``7.5``, not ``7.50000``; ``12.50`` for money.
The GUI formats numbers it only shows in the user's locale; whatever is written down goes through here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def decimal_text(value: Any, *, places: int = 0) -> str:
    """``value`` written out in full: never an exponent, no trailing zeros beyond ``places`` decimals
    (``places=2`` for money: ``12.50``, ``12.345``; ``places=0`` for percentages: ``10``, ``7.5``).

    >>> decimal_text(Decimal("1E+1")), decimal_text(Decimal("7.50")), decimal_text(Decimal("3"), places=2)
    ('10', '7.5', '3.00')
    """
    if value is None:
        return ""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(number)
    text = format(number, "f")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) < places:
        fraction += "0" * (places - len(fraction))
    if whole in ("-0", "") and not fraction.strip("0"):
        whole = "0"   # no "-0" for a negative zero
    return f"{whole}.{fraction}" if fraction else whole


def money_text(value: Any) -> str:
    """An amount of money: at least two decimals (``12.50``), more only if it has them."""
    return decimal_text(value, places=2)


def count_text(n: int, one: str, many: str) -> str:
    """``1 variant``, ``5 variants``, ``1,234 variants``: a count with the word that agrees with it."""
    return f"{n:,} {one if n == 1 else many}"
