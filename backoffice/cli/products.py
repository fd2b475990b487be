"""``backoffice products …``: scripted catalog edits over the same services as the GUI."""

from __future__ import annotations

import click

from backoffice.cli.app import main


@main.group("products")
def products() -> None:
    """Products: create them and change many at once (previewed, applied as one revertible changeset)."""
