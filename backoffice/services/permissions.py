"""The permission table: which roles may run each operation of the contract, in one place.

Every operation is named ``area.method`` (``catalog.save_edits``, ``transfers.ship``) and maps to the roles
that may run it. The operations layer checks the table before every call, whichever client makes it (the
desktop, the command line, the store API server); the server also checks it per route before it reads
the request, so a refused caller learns nothing from a 422. ``admin`` may run everything. An operation
missing from the table is refused for everyone (and a test fails), so nothing new is open by accident.

``ANYONE`` marks the operations that need no signed-in user: proving who one is (``auth.*``), looking at
the schema before any account exists, releasing a connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from backoffice.models import Role
from backoffice.services.base import Actor, PermissionDenied

__all__ = ["ANYONE", "PERMISSIONS", "allowed", "require", "roles_for", "describe"]

M, W, P, G, A = Role.MERCHANDISER, Role.WAREHOUSE, Role.PURCHASER, Role.MANAGER, Role.ADMIN

ANYONE: frozenset[Role] = frozenset()          # no signed-in user needed (see the module's text)
EVERYONE = frozenset({M, W, P, G, A})          # every signed-in member of staff
CATALOG = frozenset({M, G, A})                 # edits products, prices, variants, images, content
STOCK = frozenset({W, G, A})                   # moves stock: adjustments, counts, locations
MOVERS = frozenset({W, P, G, A})               # transfers between locations
BUYING = frozenset({P, G, A})                  # suppliers, their costs, purchase orders, suggestions
RECEIVING = frozenset({W, P, G, A})            # receiving purchase orders at a location
MANAGERS = frozenset({G, A})                   # the audit log, reports, settings of the store
ADMINS = frozenset({A})                        # accounts, schema, the demo store


def _area(name: str, entries: Mapping[str, frozenset[Role]]) -> dict[str, frozenset[Role]]:
    return {f"{name}.{method}": roles for method, roles in entries.items()}


PERMISSIONS: dict[str, frozenset[Role]] = {
    **_area("catalog", {
        "close": ANYONE, "count": EVERYONE, "ordered_ids": EVERYONE, "first_page": EVERYONE,
        "last_page": EVERYONE, "page": EVERYONE, "page_json": EVERYONE, "rows_by_id": EVERYONE, "facets": EVERYONE,
        "product_history": EVERYONE, "product": EVERYONE, "variant": EVERYONE,
        "new_product_choices": CATALOG, "save_edits": CATALOG, "create_product": CATALOG,
    }),
    **_area("bulk", {"choices": EVERYONE, "preview": CATALOG, "apply": CATALOG}),
    **_area("changesets", {
        "list": EVERYONE, "get": EVERYONE, "for_operation": EVERYONE, "rows": EVERYONE, "entries": EVERYONE,
        "history": EVERYONE, "revert": CATALOG,
    }),
    **_area("importexport", {
        "preview_file": CATALOG, "category_paths": EVERYONE, "check": CATALOG, "apply": CATALOG,
        "write_error_report": CATALOG, "export": EVERYONE,
    }),
    **_area("images", {
        "use_store": ANYONE, "read_files": EVERYONE, "search_products": EVERYONE, "count_products": EVERYONE,
        "product_by_handle": EVERYONE, "gallery": EVERYONE, "image": EVERYONE, "versions": EVERYONE,
        "product_variants": EVERYONE, "missing_alt_text": EVERYONE,
        "plan_upload": CATALOG, "upload": CATALOG, "reorder": CATALOG, "set_main": CATALOG,
        "set_alt_text": CATALOG, "assign_variants": CATALOG, "assign_by_option": CATALOG, "delete": CATALOG,
        "edit": CATALOG, "restore_version": CATALOG,
    }),
    **_area("variants", {
        "overview": EVERYONE, "find_products": EVERYONE, "resolve_products": EVERYONE,
        "products_with_base_price": EVERYONE, "variant_ids_by_sku": EVERYONE, "attributes": EVERYONE,
        "attribute": EVERYONE, "templates": EVERYONE, "rules": EVERYONE, "matrix": EVERYONE,
        "option_filter": EVERYONE,
        "create_attribute": CATALOG, "rename_attribute": CATALOG, "add_values": CATALOG,
        "rename_value": CATALOG, "reorder_values": CATALOG, "remove_value": CATALOG,
        "remove_attribute": CATALOG, "restore_attribute": CATALOG, "save_template": CATALOG,
        "delete_template": CATALOG, "plan_generation": CATALOG, "generate": CATALOG, "set_rule": CATALOG,
        "delete_rule": CATALOG, "set_base_price": CATALOG, "set_price_override": CATALOG,
        "preview_reprice": CATALOG, "apply_reprice": CATALOG, "save_matrix_prices": CATALOG,
        # reorder points are stock settings, kept by the warehouse and by purchasing
        "preview_thresholds": frozenset({W, P, G, A}), "apply_thresholds": frozenset({W, P, G, A}),
        "preview_image_assignment": CATALOG, "apply_image_assignment": CATALOG,
    }),
    **_area("stock", {
        "levels": EVERYONE, "count_levels": EVERYONE, "availability": EVERYONE, "levels_at": EVERYONE,
        "history": EVERYONE, "all_history": EVERYONE, "locations": EVERYONE, "location_by_code": EVERYONE,
        "category_choices": EVERYONE,
    }),
    **_area("transfers", {
        "list": EVERYONE, "get": EVERYONE, "find": EVERYONE, "find_variant": EVERYONE,
        "available_at": EVERYONE, "document": EVERYONE, "write_document": EVERYONE,
        "create": MOVERS, "create_and_ship": MOVERS, "update_draft": MOVERS, "ship": MOVERS,
        "receive": MOVERS, "close": MOVERS, "cancel": MOVERS,
    }),
    **_area("adjustments", {
        "open_counts": EVERYONE, "get_count": EVERYONE,
        "adjust": STOCK, "start_count": STOCK, "record_counts": STOCK, "post_count": STOCK,
        "cancel_count": STOCK,
    }),
    **_area("alerts", {
        "overview": EVERYONE, "open_count": EVERYONE, "mail_settings": MANAGERS,
        "set_threshold": frozenset({W, P, G, A}), "check_now": frozenset({W, P, G, A}),
        "send_digest": frozenset({W, G, A}), "save_mail_settings": MANAGERS, "send_test_message": MANAGERS,
    }),
    **_area("suppliers", {
        "list": EVERYONE, "find": EVERYONE, "items": BUYING,
        "create": BUYING, "update": BUYING, "save_item": BUYING, "save_items": BUYING,
    }),
    **_area("replenishment", {
        "suggest": RECEIVING, "settings": EVERYONE, "save_settings": BUYING, "set_levels": RECEIVING,
        "create_drafts": BUYING,
    }),
    **_area("purchase_orders", {
        "list": RECEIVING, "get": RECEIVING, "find": RECEIVING, "find_line": RECEIVING,
        "write_document": RECEIVING,
        "create": BUYING, "update_draft": BUYING, "send": BUYING, "email": BUYING, "close": BUYING,
        "cancel": BUYING, "receive": RECEIVING,
    }),
    **_area("reports", {
        "library": EVERYONE, "get": EVERYONE, "saved_version": EVERYONE, "run": EVERYONE, "export": EVERYONE,
        "schedules": MANAGERS, "last_runs": MANAGERS,
        "save": MANAGERS, "duplicate": MANAGERS, "delete": MANAGERS, "add_schedule": MANAGERS,
        "delete_schedule": MANAGERS, "run_due": MANAGERS,
    }),
    **_area("audit", {
        "page": MANAGERS, "entry": MANAGERS, "count": MANAGERS, "facets": MANAGERS, "changeset_rows": MANAGERS,
    }),
    **_area("feeds", {"changes": EVERYONE, "cursor": EVERYONE, "audit_changes": MANAGERS, "audit_cursor": MANAGERS}),
    **_area("users", {
        "whoami": EVERYONE, "list": ADMINS, "get": ADMINS, "add": ADMINS, "bootstrap_admin": ANYONE,
        "set_role": ADMINS, "deactivate": ADMINS, "set_password": EVERYONE, "issue_reset_token": ADMINS,
        "create_api_key": ADMINS, "sessions": EVERYONE, "revoke_session": EVERYONE,
    }),
    **_area("auth", {
        "login": ANYONE, "refresh": ANYONE, "logout": ANYONE, "verify": ANYONE, "reset_password": ANYONE,
    }),
    **_area("settings", {}),
    **_area("jobs", {"status": EVERYONE, "result": EVERYONE, "cancel": EVERYONE}),   # a job's owner or an admin
    **_area("idempotency", {"begin": EVERYONE, "finish": EVERYONE, "forget": EVERYONE, "operation_id": EVERYONE}),
    **_area("admin", {
        "ping": ANYONE, "schema": ANYONE, "upgrade": ANYONE, "demo_state": ANYONE,
        "generate_demo": ADMINS, "previous_result": EVERYONE, "previous_changeset": EVERYONE,
    }),
    **_area("store", {
        "list_locations": EVERYONE, "find_location": EVERYONE, "list_categories": EVERYONE,
        "find_category": EVERYONE,
        "add_location": STOCK, "edit_location": STOCK, "archive_location": STOCK, "restore_location": STOCK,
        "add_category": CATALOG, "add_category_path": CATALOG, "rename_category": CATALOG,
        "move_category": CATALOG,
    }),
}


def roles_for(operation: str) -> frozenset[Role] | None:
    """The roles that may run ``operation`` (``ANYONE``: no sign-in needed); None when it has no entry."""
    return PERMISSIONS.get(operation)


def needs_sign_in(operation: str) -> bool:
    return PERMISSIONS.get(operation) != ANYONE


def allowed(operation: str, role: Role) -> bool:
    """True when ``role`` may run ``operation`` (admin may run every operation in the table)."""
    roles = PERMISSIONS.get(operation)
    if roles is None:
        return False
    return roles == ANYONE or role is Role.ADMIN or role in roles


def describe(roles: Iterable[Role]) -> str:
    """``merchandiser, manager or admin``"""
    names = [r.value for r in Role if r in set(roles)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def require(actor: Actor, operation: str) -> None:
    """PermissionDenied, naming the roles that may, unless ``actor``'s role may run ``operation``."""
    if allowed(operation, actor.role):
        return
    roles = PERMISSIONS.get(operation)
    if roles is None:
        raise PermissionDenied(f"{operation} is not in the permission table: nobody may run it")
    raise PermissionDenied(f"{actor.username} ({actor.role.value}) may not run {operation}; "
                           f"it needs the role {describe(roles | {Role.ADMIN})}")


def markdown() -> str:
    """The table as the document ``docs/permissions.md`` (one row per operation, a column per role)."""
    roles = list(Role)
    lines = [
        "# Permissions",
        "",
        "Which role may run each operation of Backoffice, whichever client asks (the desktop, the command",
        "line, the store API). Generated from `backoffice/services/permissions.py` by",
        "`backoffice users permissions --markdown > docs/permissions.md`; a test fails when they differ.",
        "`open` marks operations that need no signed-in user (signing in, looking at the schema).",
        "",
        "| operation | " + " | ".join(r.value for r in roles) + " |",
        "| --- | " + " | ".join(":---:" for _ in roles) + " |",
    ]
    for operation in sorted(PERMISSIONS):
        if PERMISSIONS[operation] == ANYONE:
            cells = ["open"] * len(roles)
        else:
            cells = ["yes" if allowed(operation, r) else "" for r in roles]
        lines.append(f"| `{operation}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
