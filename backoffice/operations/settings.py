"""The settings area of the operations contract.

The store-wide settings kept in the database each belong to the area that uses them: the outgoing mail
server to ``ops.alerts`` (digests) and the reorder settings to ``ops.replenishment``. What a single user
chooses for themselves (window layout, saved filters, connection profiles) is kept on their computer by
the client, not here. This area holds the settings no other area owns; there are none yet.
"""

from __future__ import annotations

from backoffice.operations.base import Area

__all__ = ["SettingsOperations"]


class SettingsOperations(Area):
    pass
