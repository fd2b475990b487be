"""Keeping a store's own system in step with the back-office: store adapters (one per store kind) driven
by a sync engine that knows no store in particular.

- :mod:`backoffice.connectors.base`: what an adapter implements (``docs/connectors.md`` says how);
- :mod:`backoffice.connectors.engine`: mappings, cursors, the push outbox, reconciliation, the sync log;
- :mod:`backoffice.connectors.medusa`: Medusa 2.x over its admin API.

A new store kind is a module with an adapter class and one line in :data:`ADAPTERS`.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from backoffice.connectors.base import CallObserver, StoreAdapter

__all__ = ["ADAPTERS", "key_env", "key_name", "open_adapter", "read_key"]

# kind -> "module:Class" (imported on first use, so a store kind's dependencies load only when used)
ADAPTERS: dict[str, str] = {
    "medusa": "backoffice.connectors.medusa:MedusaAdapter",
}


def key_name(connection: str) -> str:
    """The keyring entry holding a connected store's API key."""
    return f"store:{connection}"


def key_env(connection: str) -> str:
    """The environment variable that may hold a store's API key instead of the keyring, for machines
    without one (a server's scheduler): ``BACKOFFICE_STORE_API_KEY_<NAME>``, the name upper-cased with
    anything but letters and digits as ``_``. Used only when set: never written by the back-office."""
    return "BACKOFFICE_STORE_API_KEY_" + re.sub(r"[^A-Z0-9]", "_", connection.upper())


def read_key(connection: str, secrets: Any) -> str | None:  # noqa: ANN401 - a SecretStore
    """The store's API key: from the keyring, else from :func:`key_env`; None when neither has it."""
    key = secrets.get(key_name(connection)) if secrets.keyring_available() else None
    return key or os.environ.get(key_env(connection)) or None


def open_adapter(kind: str, url: str, api_key: str, settings: dict[str, Any] | None = None, *,
                 observer: CallObserver | None = None) -> StoreAdapter:
    try:
        target = ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"{kind!r} is not a store kind this version knows ({', '.join(ADAPTERS)})") from None
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(url, api_key, settings or {}, observer=observer)  # type: ignore[no-any-return]
