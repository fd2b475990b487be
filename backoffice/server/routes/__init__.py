"""The resources of ``/v1``, one module per area of the contract. Each module has ``register(router)``,
which adds its routes with :func:`backoffice.server.security.route` (so each names its operation and is
permission-checked); :data:`MODULES` lists them in the order the API's document shows them."""

MODULES: tuple[str, ...] = (
    "auth",
    "catalog",
    "changesets",
    "variants",
    "images",
    "stock",
    "transfers",
    "counts",
    "purchasing",
    "jobs",
    "imports",
    "reports",
    "audit",
    "users",
    "changes",
    "operations",
)
