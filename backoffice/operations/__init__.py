"""The operations contract: one method per thing a user can do or read, for every client.

The GUI, the CLI and the HTTP server call only this package (a test enforces that they never import
``backoffice.services``, ``backoffice.db`` or ``backoffice.models``). Values in and out are plain and
JSON-safe (dataclasses of str, int, Decimal, zoned datetimes, lists and dicts of them), every write takes
an optional operation id and notes what it changed (:mod:`backoffice.operations.changes`), and failures
are the typed errors re-exported here. :class:`LocalOperations` implements the contract in-process over
the services; an HTTP implementation provides the same areas and methods.
"""

from backoffice.operations.base import (
    Actor,
    CancelCallback,
    ConflictError,
    NotFound,
    PermissionDenied,
    ProgressCallback,
    ServiceError,
    ValidationError,
)
from backoffice.operations.changes import Changes, collecting, merge
from backoffice.operations.local import LocalOperations, Operations

__all__ = ["Actor", "CancelCallback", "Changes", "ConflictError", "LocalOperations", "NotFound", "Operations",
           "PermissionDenied", "ProgressCallback", "ServiceError", "ValidationError", "collecting", "merge"]
