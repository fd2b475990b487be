"""The ``/v1`` router: the versioned resources of the store API.

Resources join it as modules that add their routes to the router :func:`router` builds (each app gets a
router of its own). Nothing is exposed here without authentication.
"""

from __future__ import annotations

from fastapi import APIRouter

PREFIX = "/v1"


def router() -> APIRouter:
    """A fresh ``/v1`` router with the resources of this version."""
    return APIRouter(prefix=PREFIX)
