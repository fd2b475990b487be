"""The command line: the same services as the GUI, no Qt import unless a command draws something.

Every command takes ``--db URL`` (or ``--profile NAME``, or BACKOFFICE_DATABASE_URL); errors are one
clear line on stderr and a non-zero exit status. One module per group of commands.
"""

from backoffice.cli import (  # noqa: F401  (registers the commands)
    admin,
    backup,
    bundles,
    catalog,
    catalog_setup,
    categories,
    connectors,
    content,
    events,
    images,
    orders,
    permissions,
    products,
    product_templates,
    purchasing,
    reports,
    schedule,
    serve,
    stock,
    store,
    transfers,
    variants,
)
from backoffice.cli.app import main

__all__ = ["main"]
