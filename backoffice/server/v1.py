"""The ``/v1`` router: the versioned resources of the store API.

Resources join it as modules of :mod:`backoffice.server.routes` that add their routes to the router
:func:`router` builds (each app gets a router of its own). Every route but the token endpoints needs a
bearer token and names its operation of the contract, whose permission entry decides who may call it.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

from backoffice.server.routes import MODULES

PREFIX = "/v1"


def router() -> APIRouter:
    """A fresh ``/v1`` router with the resources of this version."""
    api = APIRouter(prefix=PREFIX)
    for name in MODULES:
        importlib.import_module(f"backoffice.server.routes.{name}").register(api)
    return api
