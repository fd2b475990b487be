"""What the store set-up dialogs (locations, categories, the product form) share: an operation id per
attempted write, so that retrying the same request after a failure (a lost connection, a timeout)
writes once."""

from __future__ import annotations

from typing import Any

from backoffice.operations.store import new_operation_id


class OperationIds:
    """The same id for the same request until it succeeds: "Save" pressed again after an error sends
    the id of the first attempt, so if that one did commit after all, the retry reports it instead of
    writing a second row. A different request gets a new id."""

    def __init__(self) -> None:
        self._key: Any = None
        self._id = ""

    def for_request(self, key: Any) -> str:
        if key != self._key or not self._id:
            self._key, self._id = key, new_operation_id()
        return self._id

    def succeeded(self) -> None:
        self._key, self._id = None, ""
