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

__all__ = ["ANYONE", "PERMISSIONS", "TABLES", "allowed", "describe", "require", "roles_for", "table_grants"]

M, W, P, G, A = Role.MERCHANDISER, Role.WAREHOUSE, Role.PURCHASER, Role.MANAGER, Role.ADMIN

ANYONE: frozenset[Role] = frozenset()          # no signed-in user needed (see the module's text)
EVERYONE = frozenset({M, W, P, G, A})          # every signed-in member of staff
CATALOG = frozenset({M, G, A})                 # edits products, prices, variants, images, content
STOCK = frozenset({W, G, A})                   # moves stock: adjustments, counts, locations
MOVERS = frozenset({W, P, G, A})               # transfers between locations
BUYING = frozenset({P, G, A})                  # suppliers, their costs, purchase orders, suggestions
RECEIVING = frozenset({W, P, G, A})            # receiving purchase orders at a location
MANAGERS = frozenset({G, A})                   # the audit log, reports, settings of the store
FULFILMENT = frozenset({W, G, A})              # reserves, ships and cancels orders, receives returns
BACKORDERS = frozenset({M, G, A})              # which products may be sold beyond stock
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
    **_area("classifier", {"capabilities": EVERYONE, "evaluate": EVERYONE, "suggest": EVERYONE, "apply": CATALOG}),
    **_area("content", {
        "fields": EVERYONE, "templates": EVERYONE, "template": EVERYONE, "render_sample": EVERYONE,
        "settings": EVERYONE, "check": EVERYONE, "export_report": EVERYONE,
        "save_template": CATALOG, "delete_template": CATALOG, "preview": CATALOG, "apply": CATALOG,
        "save_settings": CATALOG,
    }),
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
        "set_locations": ADMINS, "locations": EVERYONE, "database_sessions": ADMINS, "end_database_session": ADMINS,
    }),
    **_area("auth", {
        "login": ANYONE, "refresh": ANYONE, "logout": ANYONE, "verify": ANYONE, "reset_password": ANYONE,
    }),
    **_area("settings", {}),
    **_area("jobs", {"status": EVERYONE, "result": EVERYONE, "cancel": EVERYONE}),   # a job's owner or an admin
    **_area("idempotency", {"begin": EVERYONE, "finish": EVERYONE, "forget": EVERYONE, "operation_id": EVERYONE}),
    **_area("admin", {
        "ping": ANYONE, "schema": ANYONE, "upgrade": ANYONE, "upgrade_sql": ANYONE, "demo_state": ANYONE,
        "backup": ANYONE, "verify_backup": ANYONE, "restore": ANYONE,
        "generate_demo": ADMINS, "previous_result": EVERYONE, "previous_changeset": EVERYONE,
    }),
    **_area("orders", {
        "list": EVERYONE, "count": EVERYONE, "state_counts": EVERYONE, "get": EVERYONE, "find": EVERYONE,
        "settings": EVERYONE, "check": EVERYONE, "reserved_at": EVERYONE,
        "process": FULFILMENT, "place": FULFILMENT, "fulfil": FULFILMENT, "fulfil_many": FULFILMENT,
        "cancel": FULFILMENT, "record_payment": MANAGERS, "set_backorders": BACKORDERS, "save_settings": MANAGERS,
    }),
    **_area("returns", {
        "list": EVERYONE, "get": EVERYONE, "find": EVERYONE, "reasons": EVERYONE,
        "authorise": FULFILMENT, "receive": FULFILMENT, "cancel": FULFILMENT, "record_refund": MANAGERS,
    }),
    **_area("customers", {
        "list": FULFILMENT, "count": FULFILMENT, "get": FULFILMENT,
        "update": MANAGERS, "export": MANAGERS, "erase": MANAGERS,
    }),
    **_area("connectors", {
        "list": MANAGERS, "get": MANAGERS, "runs": MANAGERS, "api_stats": MANAGERS, "response_times": MANAGERS,
        "outbox": MANAGERS, "health": MANAGERS, "store_locations": MANAGERS, "key_source": MANAGERS,
        "sync": MANAGERS, "reconcile": MANAGERS, "retry_outbox": MANAGERS, "discard_outbox": MANAGERS,
        "add": ADMINS, "set_key": ADMINS, "update": ADMINS, "remove": ADMINS, "link_location": ADMINS,
        "unlink_location": ADMINS,
    }),
    **_area("bundles", {
        "list": EVERYONE, "get": EVERYONE, "availability": EVERYONE, "rules": EVERYONE, "quote": EVERYONE,
        "save": CATALOG, "set_components": CATALOG, "delete": CATALOG, "save_rule": CATALOG, "delete_rule": CATALOG,
    }),
    **_area("product_templates", {
        "list": EVERYONE, "get": EVERYONE, "find_product": EVERYONE, "plan_revert": EVERYONE,
        "save": CATALOG, "delete": CATALOG, "plan_product": CATALOG, "create_product": CATALOG,
        "apply_revert": CATALOG,
    }),
    **_area("schedule", {"jobs": EVERYONE, "last_runs": EVERYONE, "runs": EVERYONE}),
    **_area("events", {
        "list": EVERYONE, "get": EVERYONE, "variants": EVERYONE, "conflicts": EVERYONE, "settings": EVERYONE,
        "preview": CATALOG, "plan": CATALOG, "cancel": CATALOG, "resolve": CATALOG, "save_settings": CATALOG,
        "run_due": CATALOG,
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
    return "\n".join(lines) + "\n" + grants_markdown()


# -- the database's share of the table ---------------------------------------------------------------------
# On PostgreSQL every member of staff logs in as themselves, a member of one group role per application
# role, and the database grants each group what its operations need, table by table: a LOGIN role can then
# do in psql exactly what the application would let it do, and no more. The grants are *derived* from the
# table above: each table names the operations that read or write it, and a privilege goes to the roles
# that may run any of those operations. ``backoffice/services/db_roles.py`` applies them (at every
# ``db upgrade``); ``tests/test_db_roles.py`` tries every privilege on every table as every role.
#
# What no operation list can express is stated as such: the ledger (stock_moves, stock_operations and the
# on-hand columns of stock_levels) is written only by the posting function, which runs as the schema's
# owner; the history tables are insert-only; ``users.password_hash`` is read by nobody on staff.

READ_BY_ALL = ("catalog.page",)          # every signed-in role may run it: the table is readable by all staff
PRIVILEGES = ("select", "insert", "update", "delete")


class TableAccess:
    """The operations behind each privilege on one table (empty: no staff role has the privilege);
    ``update_columns``: the UPDATE is limited to these columns; ``hidden_columns``: columns no staff role
    may read (SELECT is granted column by column on the others)."""

    def __init__(self, *, select: tuple[str, ...] = READ_BY_ALL, insert: tuple[str, ...] = (),
                 update: tuple[str, ...] = (), delete: tuple[str, ...] = (),
                 update_columns: tuple[str, ...] = (), hidden_columns: tuple[str, ...] = (),
                 note: str = "") -> None:
        self.operations = {"select": select, "insert": insert, "update": update, "delete": delete}
        self.update_columns = update_columns
        self.hidden_columns = hidden_columns
        self.note = note


def _writes(*operations: str, delete: bool = True, update_columns: tuple[str, ...] = (),
            select: tuple[str, ...] = READ_BY_ALL, note: str = "") -> TableAccess:
    return TableAccess(select=select, insert=operations, update=operations, delete=operations if delete else (),
                       update_columns=update_columns, note=note)


def _appends(*operations: str, select: tuple[str, ...] = READ_BY_ALL, note: str = "") -> TableAccess:
    return TableAccess(select=select, insert=operations, note=note)


_CATALOG_EDITS = ("catalog.save_edits", "catalog.create_product", "bulk.apply", "importexport.apply",
                  "changesets.revert", "variants.generate", "variants.set_base_price", "variants.apply_reprice",
                  "content.apply")
_CATALOG_EDITS += ("product_templates.create_product", "product_templates.apply_revert")
_CATALOG_EDITS += ("classifier.apply",)
_IMAGE_EDITS = ("images.upload", "images.reorder", "images.set_main", "images.set_alt_text", "images.delete",
                "images.assign_variants", "images.edit", "images.restore_version", "variants.apply_image_assignment")
_COST_EDITS = ("suppliers.save_item", "suppliers.save_items", "purchase_orders.receive")
_ATTRIBUTE_EDITS = ("variants.create_attribute", "variants.rename_attribute", "variants.add_values",
                    "variants.rename_value", "variants.remove_value", "variants.restore_attribute")
_TRANSFERS = ("transfers.create", "transfers.update_draft", "transfers.ship", "transfers.receive", "transfers.cancel")
_COUNTS = ("adjustments.start_count", "adjustments.record_counts", "adjustments.post_count", "adjustments.cancel_count")
_PURCHASING = ("purchase_orders.create", "purchase_orders.update_draft", "purchase_orders.send",
               "purchase_orders.receive", "purchase_orders.cancel", "replenishment.create_drafts")
_THRESHOLDS = ("alerts.set_threshold", "variants.apply_thresholds", "replenishment.set_levels")
_STOCK_WRITERS = ("transfers.ship", "adjustments.adjust", "purchase_orders.receive") + _THRESHOLDS
_ANY_WRITE = ("catalog.save_edits", "transfers.create", "adjustments.adjust", "suppliers.create",
              "reports.save", "purchase_orders.receive", "alerts.set_threshold", "users.set_password")
_SETTINGS = ("alerts.check_now", "alerts.save_mail_settings", "replenishment.save_settings", "orders.save_settings")
_SHIPPING = ("orders.fulfil", "orders.fulfil_many")
_STORE_SYNC = ("connectors.sync", "connectors.reconcile")   # places, cancels and pays store orders here
_ORDER_WRITES = ("orders.process", "orders.place", *_SHIPPING, "orders.cancel", "connectors.sync")
_RELEASING = ("adjustments.adjust", "adjustments.post_count")   # stock gone from a shelf frees orders' units there
_ORDER_ROWS = _ORDER_WRITES + _RELEASING + ("orders.record_payment", "returns.authorise", "returns.receive")
_JOBS = ("reports.run_due", "alerts.send_digest", "orders.process", "connectors.sync")  # the scheduled jobs
_JOBS += ("events.run_due",)
_EVENT_PRICES = ("events.cancel", "events.resolve", "events.run_due")   # price events: variants' prices as changesets
_EVENTS = ("events.plan", *_EVENT_PRICES)
_SETTINGS += ("events.save_settings",)
_RETURNS = ("returns.authorise", "returns.receive", "returns.cancel", "returns.record_refund")

TABLES: dict[str, TableAccess] = {
    # the catalog
    "products": _writes(*_CATALOG_EDITS, *_IMAGE_EDITS, "orders.set_backorders", "bundles.save"),
    "product_tags": _writes(*_CATALOG_EDITS),
    "variants": _writes(*_CATALOG_EDITS, *_IMAGE_EDITS, *_COST_EDITS, "bundles.save", "bundles.set_components",
                        *_EVENT_PRICES),
    "variant_options": _writes(*_CATALOG_EDITS),
    "categories": _writes("store.add_category", "store.rename_category", "store.move_category", *_CATALOG_EDITS),
    "attributes": _writes(*_ATTRIBUTE_EDITS),
    "attribute_values": _writes(*_ATTRIBUTE_EDITS),
    "variant_templates": _writes("variants.save_template", "variants.delete_template"),
    "variant_template_values": _writes("variants.save_template", "variants.delete_template"),
    "product_templates": _writes("product_templates.save", "product_templates.delete"),
    "product_base_prices": _writes("variants.set_base_price", "variants.apply_reprice"),
    "price_rules": _writes("variants.set_rule", "variants.delete_rule"),
    "variant_price_overrides": _writes("variants.set_price_override", "variants.save_matrix_prices"),
    "product_images": _writes(*_IMAGE_EDITS, "importexport.apply"),
    "content_templates": _writes("content.save_template", "content.delete_template"),
    "content_settings": _writes("content.save_settings", delete=False),
    "product_image_variants": _writes(*_IMAGE_EDITS),
    "image_versions": _appends(*_IMAGE_EDITS),
    "changesets": _appends(*_CATALOG_EDITS, *_COST_EDITS, *_EVENT_PRICES),
    "changeset_entries": _appends(*_CATALOG_EDITS, *_COST_EDITS, *_EVENT_PRICES, note="insert-only: an entry is never changed or removed"),
    # stock: documents, levels and the ledger
    "locations": _writes("store.add_location", "store.edit_location", "store.archive_location", delete=False),
    "stock_levels": TableAccess(update=_THRESHOLDS,
                                update_columns=("low_stock_threshold", "reorder_point", "order_up_to",
                                                "version", "updated_at"),
                                note="on hand and reserved change only through the posting function; staff "
                                     "may set thresholds and reorder points"),
    "stock_operations": TableAccess(note="written only by the posting function (bo_post_moves)"),
    "stock_moves": TableAccess(note="written only by the posting function (bo_post_moves)"),
    "transfers": _writes(*_TRANSFERS, delete=False, note="row-level security: a user limited to locations "
                                                         "writes only transfers from or to them"),
    "transfer_lines": _writes(*_TRANSFERS),
    "stock_counts": _writes(*_COUNTS, delete=False, note="row-level security: a user limited to locations "
                                                        "counts only at them"),
    "stock_count_lines": _writes(*_COUNTS),
    "low_stock_defaults": _writes("alerts.set_threshold"),
    "stock_alerts": _writes("alerts.check_now", "alerts.send_digest", *_STOCK_WRITERS),
    # buying
    "suppliers": _writes("suppliers.create", "suppliers.update", delete=False),
    "supplier_items": _writes("suppliers.save_item", "suppliers.save_items", "replenishment.create_drafts"),
    "purchase_orders": _writes(*_PURCHASING, delete=False),
    "purchase_order_lines": _writes(*_PURCHASING),
    "purchase_receipts": _appends("purchase_orders.receive"),
    # sales: written by the store; their state, reservations, shipments and returns by the back-office
    "customers": TableAccess(update=("customers.update", "customers.erase"),
                             note="edits audited by field name only, never the values (see customers.py)"),
    "orders": TableAccess(insert=("orders.place", "connectors.sync"), update=_ORDER_ROWS),
    "order_lines": TableAccess(insert=("orders.place", "connectors.sync"), update=_ORDER_WRITES + ("returns.receive",)),
    "order_reservations": _writes(*_ORDER_WRITES, *_RELEASING, note="their sum per variant and location is stock_levels.reserved, "
                                                      "written in the same transaction by bo_reserve"),
    "shipments": TableAccess(insert=_SHIPPING, update=_SHIPPING, update_columns=("number",),
                             note="insert-only but for its number (SH-… made from its id)"),
    "shipment_lines": _appends(*_SHIPPING),
    "returns": TableAccess(insert=("returns.authorise",), update=_RETURNS),
    "return_lines": _appends("returns.authorise"),
    # store connectors: their settings, id maps, cursors, push outbox and log
    "store_connections": _writes("connectors.add", "connectors.update", "connectors.remove",
                                 select=("connectors.list",), note="the API key is in the keyring, never here"),
    "store_location_links": _writes("connectors.link_location", "connectors.unlink_location", "connectors.remove",
                                    select=("connectors.list",)),
    "store_product_links": _writes(*_STORE_SYNC, "connectors.remove", select=("connectors.list",)),
    "store_variant_links": _writes(*_STORE_SYNC, "connectors.remove", select=("connectors.list",)),
    "store_stock_links": _writes(*_STORE_SYNC, "connectors.link_location", "connectors.unlink_location",
                                 "connectors.remove", select=("connectors.list",)),
    "store_order_links": _writes(*_STORE_SYNC, "connectors.remove", select=("connectors.list",)),
    "store_fulfilment_links": _writes(*_STORE_SYNC, "connectors.remove", select=("connectors.list",)),
    "store_cursors": _writes(*_STORE_SYNC, "connectors.remove", select=("connectors.list",)),
    "store_outbox": _writes(*_STORE_SYNC, "connectors.retry_outbox", "connectors.discard_outbox", "connectors.remove",
                            select=("connectors.list",)),
    "store_sync_runs": _writes(*_STORE_SYNC, "connectors.remove", select=("connectors.list",)),
    "store_api_calls": _writes(*_STORE_SYNC, "connectors.remove", select=("connectors.list",)),
    # reports
    "saved_reports": _writes("reports.save", "reports.duplicate", "reports.delete"),
    "report_schedules": _writes("reports.add_schedule", "reports.delete_schedule", "reports.save"),
    "report_runs": _writes("reports.run_due", "reports.add_schedule"),
    # the scheduled jobs: their leases and run history (every run of a job claims, records, releases)
    "job_runs": _writes(*_JOBS, select=("schedule.last_runs", "schedule.runs")),
    "job_locks": _writes(*_JOBS, select=("schedule.last_runs", *_JOBS)),
    # price events: planned by merchandisers, moved along by each run of `events run-due`
    "price_events": _writes(*_EVENTS, delete=False),
    "price_event_variants": _writes(*_EVENTS, delete=False),
    # bundles: a bundle's pricing and components; component lines of orders placed for bundles; mix-and-match
    "bundles": _writes("bundles.save", "bundles.set_components", "bundles.delete", "importexport.apply"),
    "bundle_components": _writes("bundles.save", "bundles.set_components", "bundles.delete", "importexport.apply"),
    "bundle_order_lines": _appends("orders.place", note="insert-only: which bundle a component line was placed for"),
    "mix_match_rules": _writes("bundles.save_rule", "bundles.delete_rule"),
    "store_settings": _writes(*_SETTINGS, delete=False,
                              note="row-level security by key: the mail server only by the roles of "
                                   "alerts.save_mail_settings, replenishment by those of its save_settings"),
    # people, identity and history
    "users": TableAccess(insert=("users.add",), update=("users.set_role", "users.deactivate", "users.set_password"),
                         hidden_columns=("password_hash", "password_reset_hash"),
                         note="row-level security: staff change only their own row (their password); "
                              "password hashes are readable by no staff role"),
    "user_locations": _writes("users.set_locations"),
    "auth_tokens": TableAccess(select=("users.sessions",), insert=("users.create_api_key",),
                               update=("users.revoke_session",), update_columns=("revoked_at",),
                               hidden_columns=("token_hash",),
                               note="row-level security: staff end only their own sessions"),
    "audit_log": _appends(*_ANY_WRITE, select=("audit.page", "catalog.product_history", "changesets.history"),
                          note="insert-only; who wrote a row is stamped by the database (session_user); "
                               "row-level security: the whole log for managers and admins, a product's "
                               "history for everyone"),
    "row_audit": TableAccess(select=("audit.page",), note="written only by the audit triggers"),
    "applied_operations": TableAccess(insert=_ANY_WRITE, update=_ANY_WRITE, update_columns=("result",)),
    "api_requests": _writes("idempotency.begin", "idempotency.finish", "idempotency.forget"),
    "change_log": TableAccess(note="written only by the change-log triggers"),
    "alembic_version": TableAccess(note="the schema's revision, read when connecting"),
}


def table_grants() -> dict[str, dict[str, frozenset[Role]]]:
    """``{table: {"select": roles, "insert": roles, ...}}``: the roles that hold each privilege, derived
    from the operations behind it (admin holds whatever any role holds)."""
    grants: dict[str, dict[str, frozenset[Role]]] = {}
    for table, access in TABLES.items():
        grants[table] = {}
        for privilege in PRIVILEGES:
            roles: set[Role] = set()
            for operation in access.operations[privilege]:
                allowed_roles = PERMISSIONS.get(operation)
                if allowed_roles is None:
                    raise KeyError(f"{table}.{privilege} names {operation}, which is not in the permission table")
                roles |= set(allowed_roles) | {Role.ADMIN}
            grants[table][privilege] = frozenset(roles)
    return grants


def grants_markdown() -> str:
    """The table grants as a section of ``docs/permissions.md``."""
    roles = list(Role)
    lines = [
        "",
        "## What each PostgreSQL group role may do to each table",
        "",
        "Derived from the operations above: each table names the operations that read or write it, and a",
        "privilege goes to the roles that may run any of them. `S I U D` = SELECT, INSERT, UPDATE, DELETE;",
        "`U(…)` and `S*` mark column-limited grants. Applied by `backoffice db upgrade` to the group roles",
        "`backoffice_<role>`.",
        "",
        "| table | " + " | ".join(r.value for r in roles) + " | notes |",
        "| --- | " + " | ".join(":---:" for _ in roles) + " | --- |",
    ]
    grants = table_grants()
    for table in sorted(TABLES):
        access = TABLES[table]
        cells = []
        for role in roles:
            held = []
            for privilege in PRIVILEGES:
                if role in grants[table][privilege]:
                    letter = privilege[0].upper()
                    if privilege == "select" and access.hidden_columns:
                        letter = "S*"
                    if privilege == "update" and access.update_columns:
                        letter = "U(" + ", ".join(access.update_columns) + ")"
                    held.append(letter)
            cells.append(" ".join(held) or "—")
        notes = access.note
        if access.hidden_columns:
            notes = (notes + "; " if notes else "") + "S*: all columns but " + ", ".join(access.hidden_columns)
        lines.append(f"| `{table}` | " + " | ".join(cells) + f" | {notes} |")
    return "\n".join(lines) + "\n"
