"""The in-process implementation of the contract: every area calls the services directly with one
database and one acting user (what the desktop and the CLI do in direct-database mode)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from backoffice.operations.base import Actor

if TYPE_CHECKING:
    from backoffice.db import Database
    from backoffice.operations.adjustments import AdjustmentOperations
    from backoffice.operations.admin import AdminOperations
    from backoffice.operations.alerts import AlertOperations
    from backoffice.operations.auth import AuthOperations
    from backoffice.operations.audit import AuditOperations
    from backoffice.operations.bulk import BulkOperations
    from backoffice.operations.bundles import BundleOperations
    from backoffice.operations.catalog import CatalogOperations
    from backoffice.operations.changesets import ChangesetOperations
    from backoffice.operations.classifier import ClassifierOperations
    from backoffice.operations.content import ContentOperations
    from backoffice.operations.connectors import ConnectorOperations
    from backoffice.operations.feeds import FeedOperations
    from backoffice.operations.idempotency import IdempotencyOperations
    from backoffice.operations.images import ImageOperations
    from backoffice.operations.importexport import ImportExportOperations
    from backoffice.operations.jobs import JobOperations
    from backoffice.operations.purchase_orders import PurchaseOrderOperations
    from backoffice.operations.replenishment import ReplenishmentOperations
    from backoffice.operations.reports import ReportOperations
    from backoffice.operations.schedule import ScheduleOperations
    from backoffice.operations.product_templates import ProductTemplateOperations
    from backoffice.operations.settings import SettingsOperations
    from backoffice.operations.stock import StockOperations
    from backoffice.operations.orders import OrderOperations
    from backoffice.operations.returns import ReturnOperations
    from backoffice.operations.customers import CustomerOperations
    from backoffice.operations.events import EventOperations
    from backoffice.operations.store import StoreOperations
    from backoffice.operations.suppliers import SupplierOperations
    from backoffice.operations.transfers import TransferOperations
    from backoffice.operations.users import UserOperations
    from backoffice.operations.variants import VariantOperations


class LocalOperations:
    """``ops.catalog.get_product(7)``, ``ops.transfers.ship("TR-000004", op_id=…)``: one attribute per area.

    Areas are created on first use. The object is safe to use from worker threads (each call opens its
    own session); :meth:`close` releases the connections (the owner calls it off the GUI thread).
    """

    remote = False

    def __init__(self, db: Database, actor: Actor | None, *, sign_in: str | None = None,
                 owns_database: bool = True, owner_mode: bool = False) -> None:
        """Operations over ``db`` acting as ``actor``; or, with ``sign_in`` (the name of an existing
        account) and no actor, acting as that account from the first operation that needs to know who
        acts (an unknown name is an error then: no account is ever created here). Without either, nobody
        is signed in: schema work only. ``owner_mode``: ``actor`` is the owner of an SQLite file (its
        oldest active admin), acting without a login."""
        self._db = db
        self._actor = actor
        self._sign_in = sign_in
        self._owns_database = owns_database
        self.owner_mode = owner_mode and actor is not None

    def acting_as(self, actor: Actor) -> LocalOperations:
        """Operations over the same database acting as ``actor`` (a server's per-caller operations);
        closing them leaves the database open for its owner."""
        return LocalOperations(self._db, actor, owns_database=False)

    @property
    def actor(self) -> Actor | None:
        if self._actor is None and self._sign_in is not None:
            from backoffice.services.users import sign_in

            self._actor = sign_in(self._db, self._sign_in)
        return self._actor

    def database_login(self) -> tuple[str, str] | None:
        """PostgreSQL: (the login connected, what it is: ``owner``, ``server``, ``staff`` or ``other``);
        None on SQLite."""
        from backoffice.services import db_roles

        kind = db_roles.session_kind(self._db)
        return None if kind is None else (kind.login, kind.kind)

    def temporary_password_until(self):  # type: ignore[no-untyped-def]
        """PostgreSQL staff login: when the password an admin gave stops working (the person should set
        their own now: ``users.set_password``); None when the password is their own (or on SQLite, or for
        the owner's connections)."""
        from backoffice.services import db_roles

        kind = db_roles.session_kind(self._db)
        if kind is None or kind.kind != "staff":
            return None
        with self._db.engine.connect() as conn:
            until = conn.exec_driver_sql("SELECT CASE WHEN rolvaliduntil = 'infinity' THEN NULL ELSE rolvaliduntil END "
                                         "FROM pg_roles WHERE rolname = session_user").scalar()
        return until

    def verify_password(self, password: str) -> bool:
        """True when ``password`` is the acting user's (unlocking a locked window, off the GUI thread): a
        staff login's is proven by PostgreSQL with a new connection; an account's by its password (a
        refusal counts towards its lockout and is audited, like any sign-in). An account without a
        password on an SQLite file (its owner) has nothing to prove: True."""
        from backoffice.db import Database, DatabaseUnreachable
        from backoffice.services import auth, db_roles

        actor = self.actor
        if actor is None:
            return False
        kind = db_roles.session_kind(self._db)
        if kind is not None and kind.kind == "staff":
            probe = Database(self._db.url.set(password=password), pool_size=1)
            try:
                probe.ping()
                return True
            except DatabaseUnreachable:
                return False
            finally:
                probe.dispose()
        if self._db.is_sqlite and not auth.has_password(self._db, actor.username):
            return True
        try:
            auth.login(self._db, actor.username, password)
            return True
        except auth.AuthenticationFailed:
            return False

    @property
    def signs_in(self) -> bool:
        """True when someone is (or will be, on first need) signed in."""
        return self._actor is not None or self._sign_in is not None

    # -- the first admin (the schema's administrator, before anyone can sign in) ------------------------
    def has_accounts(self) -> bool:
        """True once the database has any account (needs no signed-in user)."""
        from backoffice.services.users import has_accounts

        return has_accounts(self._db)

    def create_first_admin(self, username: str, *, password: str | None = None) -> Actor | None:
        """Make ``username`` the first admin of a database that has no account at all (``backoffice db
        upgrade --admin NAME``); None, writing nothing, once it has any account."""
        from backoffice.services.users import create_first_admin

        return create_first_admin(self._db, username, password=password)

    def _acting(self) -> Actor:
        return self.actor  # type: ignore[return-value]

    # -- about the connection ------------------------------------------------------------------------
    @property
    def target(self) -> str:
        """Where the data lives, without a password: ``SQLite · /path`` or ``PostgreSQL · host/db``."""
        from backoffice.operations.targets import describe_target

        return describe_target(self._db.url)

    @property
    def url(self) -> str:
        return self._db.display_url()

    def close(self) -> None:
        catalog = self.__dict__.get("catalog")   # created on first use: it keeps a connection for page reads
        if catalog is not None:
            catalog.close()
        if self._owns_database:
            self._db.dispose()

    # -- the areas -----------------------------------------------------------------------------------
    @cached_property
    def catalog(self) -> CatalogOperations:
        from backoffice.operations.catalog import CatalogOperations
        return CatalogOperations(self._db, self._acting)

    @cached_property
    def bulk(self) -> BulkOperations:
        from backoffice.operations.bulk import BulkOperations
        return BulkOperations(self._db, self._acting)

    @cached_property
    def changesets(self) -> ChangesetOperations:
        from backoffice.operations.changesets import ChangesetOperations
        return ChangesetOperations(self._db, self._acting)

    @cached_property
    def classifier(self) -> ClassifierOperations:
        """Category and tag suggestions learnt from the catalog (the model is kept while the catalog is unchanged)."""
        from backoffice.operations.classifier import ClassifierOperations
        return ClassifierOperations(self._db, self._acting)

    @cached_property
    def importexport(self) -> ImportExportOperations:
        from backoffice.operations.importexport import ImportExportOperations
        return ImportExportOperations(self._db, self._acting)

    @cached_property
    def variants(self) -> VariantOperations:
        from backoffice.operations.variants import VariantOperations
        return VariantOperations(self._db, self._acting)

    @cached_property
    def content(self) -> ContentOperations:
        """Description templates applied as changesets, and the SEO and content checks."""
        from backoffice.operations.content import ContentOperations
        return ContentOperations(self._db, self._acting)

    @cached_property
    def images(self) -> ImageOperations:
        from backoffice.operations.images import ImageOperations
        return ImageOperations(self._db, self._acting)

    @cached_property
    def orders(self) -> OrderOperations:
        from backoffice.operations.orders import OrderOperations
        return OrderOperations(self._db, self._acting)

    @cached_property
    def returns(self) -> ReturnOperations:
        from backoffice.operations.returns import ReturnOperations
        return ReturnOperations(self._db, self._acting)

    @cached_property
    def customers(self) -> CustomerOperations:
        from backoffice.operations.customers import CustomerOperations
        return CustomerOperations(self._db, self._acting)

    @cached_property
    def stock(self) -> StockOperations:
        from backoffice.operations.stock import StockOperations
        return StockOperations(self._db, self._acting)

    @cached_property
    def transfers(self) -> TransferOperations:
        from backoffice.operations.transfers import TransferOperations
        return TransferOperations(self._db, self._acting)

    @cached_property
    def adjustments(self) -> AdjustmentOperations:
        from backoffice.operations.adjustments import AdjustmentOperations
        return AdjustmentOperations(self._db, self._acting)

    @cached_property
    def alerts(self) -> AlertOperations:
        from backoffice.operations.alerts import AlertOperations
        return AlertOperations(self._db, self._acting)

    @cached_property
    def suppliers(self) -> SupplierOperations:
        from backoffice.operations.suppliers import SupplierOperations
        return SupplierOperations(self._db, self._acting)

    @cached_property
    def replenishment(self) -> ReplenishmentOperations:
        from backoffice.operations.replenishment import ReplenishmentOperations
        return ReplenishmentOperations(self._db, self._acting)

    @cached_property
    def purchase_orders(self) -> PurchaseOrderOperations:
        from backoffice.operations.purchase_orders import PurchaseOrderOperations
        return PurchaseOrderOperations(self._db, self._acting)

    @cached_property
    def reports(self) -> ReportOperations:
        from backoffice.operations.reports import ReportOperations
        return ReportOperations(self._db, self._acting)

    @cached_property
    def audit(self) -> AuditOperations:
        from backoffice.operations.audit import AuditOperations
        return AuditOperations(self._db, self._acting)

    @cached_property
    def users(self) -> UserOperations:
        from backoffice.operations.users import UserOperations
        return UserOperations(self._db, self._acting)

    @cached_property
    def auth(self) -> AuthOperations:
        """Proving who acts: login, refresh, logout, verifying a token (needs no acting user)."""
        from backoffice.operations.auth import AuthOperations
        return AuthOperations(self._db, None)  # type: ignore[arg-type]

    @cached_property
    def settings(self) -> SettingsOperations:
        from backoffice.operations.settings import SettingsOperations
        return SettingsOperations(self._db, self._acting)

    @cached_property
    def idempotency(self) -> IdempotencyOperations:
        """Idempotency keys of the store API (what a server remembers of keyed requests)."""
        from backoffice.operations.idempotency import IdempotencyOperations
        return IdempotencyOperations(self._db, self._acting)

    @cached_property
    def jobs(self) -> JobOperations:
        """Who may follow the store API's background jobs (their owner or an admin)."""
        from backoffice.operations.jobs import JobOperations
        return JobOperations(self._db, self._acting)

    @cached_property
    def admin(self) -> AdminOperations:
        """The schema (status, upgrade) and the demo store."""
        from backoffice.operations.admin import AdminOperations
        return AdminOperations(self._db, self._acting)

    @cached_property
    def feeds(self) -> FeedOperations:
        """Change feeds: what changed after a cursor (products, variants, stock levels, orders, audit)."""
        from backoffice.operations.feeds import FeedOperations
        return FeedOperations(self._db, self._acting)

    @cached_property
    def connectors(self) -> ConnectorOperations:
        """The stores the back-office syncs with: connecting, linking locations, syncing, reconciling."""
        from backoffice.operations.connectors import ConnectorOperations
        return ConnectorOperations(self._db, self._acting)

    @cached_property
    def events(self) -> EventOperations:
        """Price events and flash sales: planned, then started, limited and ended exactly once."""
        from backoffice.operations.events import EventOperations
        return EventOperations(self._db, self._acting)

    @cached_property
    def schedule(self) -> ScheduleOperations:
        """The periodic jobs run without the app: which this database wants, and how their runs went."""
        from backoffice.operations.schedule import ScheduleOperations
        return ScheduleOperations(self._db, self._acting)

    @cached_property
    def bundles(self) -> BundleOperations:
        """Fixed bundles (their components, pricing and derived availability) and mix-and-match rules."""
        from backoffice.operations.bundles import BundleOperations
        return BundleOperations(self._db, self._acting)

    @cached_property
    def product_templates(self) -> ProductTemplateOperations:
        """Templates new products start from, and reverting a product to how it was at a moment."""
        from backoffice.operations.product_templates import ProductTemplateOperations
        return ProductTemplateOperations(self._db, self._acting)

    @cached_property
    def store(self) -> StoreOperations:
        """Locations and categories: setting a store up."""
        from backoffice.operations.store import StoreOperations
        return StoreOperations(self._db, self._acting)


Operations = LocalOperations   # the contract's shape; an HTTP implementation provides the same attributes
