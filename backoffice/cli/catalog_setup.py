"""``backoffice locations …``, ``backoffice categories …`` and ``backoffice products add``: setting up a
store from nothing, through the same services as the GUI."""

from __future__ import annotations

import click  # noqa: F401

from backoffice.cli.app import main  # noqa: F401
from backoffice.cli.products import products  # noqa: F401
