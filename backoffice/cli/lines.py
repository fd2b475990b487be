"""What the stock and purchasing commands share: ``SKU=QTY`` lines, location codes, the --op-id help and
the mail password."""

from __future__ import annotations

import os
from typing import Any

import click

OP_ID_HELP = ("Operation id: the same id posted twice moves stock once (default: a new random id; give your "
              "own in scripts so a retried command is safe).")


def parse_lines(lines: tuple[str, ...], *, signed: bool = False) -> list[tuple[str, int]]:
    out = []
    for i, spec in enumerate(lines, 1):
        sku, sep, qty = spec.rpartition("=")
        if not sep or not sku.strip():
            raise click.UsageError(f"--line {i} {spec!r}: write it as SKU=QUANTITY")
        try:
            n = int(qty)
        except ValueError:
            raise click.UsageError(f"--line {i} {spec!r}: {qty!r} is not a whole number") from None
        if not signed and n <= 0:
            raise click.UsageError(f"--line {i} {spec!r}: the quantity must be greater than zero")
        out.append((sku.strip(), n))
    return out


def find_variant_ids(ops: Any, lines: list[tuple[str, int]]) -> list[tuple[int, int]]:
    """(variant id, quantity) of each (SKU or barcode, quantity), found through the operations contract;
    every unknown code named in one error."""
    resolved, unknown = [], []
    for code, qty in lines:
        found = ops.transfers.find_variant(code)
        if found is None:
            unknown.append(code)
        else:
            resolved.append((found["variant_id"], qty))
    if unknown:
        raise click.ClickException(f"unknown SKU or barcode: {', '.join(unknown)}")
    return resolved


def find_location_id(ops: Any, code: str) -> int:
    """The id of the location with this code (any case); an unknown code is an error naming the known ones."""
    return ops.stock.location_by_code(code)["id"]


def smtp_password(smtp: Any) -> str | None:
    from backoffice.operations.alerts import smtp_secret_key
    from backoffice.secrets import SecretStore

    if not smtp.username:
        return None
    env = os.environ.get("BACKOFFICE_SMTP_PASSWORD")
    if env:
        return env
    password = SecretStore().resolve(smtp_secret_key(smtp), None)
    if password is None:
        raise click.ClickException(f"no password for {smtp.username}@{smtp.host} in the keyring: run "
                                   "`backoffice stock mail-settings --ask-password` on this machine")
    return password
