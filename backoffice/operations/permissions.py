"""The permission table of the contract (kept with the services, which the database grants also derive
from): which roles may run each ``area.method``."""

from backoffice.models import Role
from backoffice.services.permissions import (
    ANYONE,
    PERMISSIONS,
    allowed,
    describe,
    markdown,
    needs_sign_in,
    require,
    roles_for,
)

__all__ = ["ANYONE", "PERMISSIONS", "Role", "allowed", "describe", "markdown", "needs_sign_in", "require", "roles_for"]
