"""The connectors area of the contract: the stores the back-office syncs with (Medusa first).

Connecting a store stores its API key in the keyring of the machine that runs the operations (the
desktop's, or the API server's for an API profile), never in the database. ``sync`` and ``reconcile``
run the store-agnostic engine (backoffice/connectors/engine.py); through the store API they run as
server jobs with progress. Orders a sync places note ORDERS and STOCK; the rest notes nothing the views
show.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from backoffice.connectors import key_env, key_name, open_adapter, read_key
from backoffice.connectors.base import Health, StoreError, StoreLocation
from backoffice.connectors.engine import DIRECTIONS, ReconcileReport, StockConflict, StockDifference, SyncEngine, SyncReport
from backoffice.operations.base import Area, CancelCallback, ProgressCallback
from backoffice.operations.changes import ORDERS, STOCK, Changes
from backoffice.services import job_runs, store_links
from backoffice.services.base import ServiceError, ValidationError
from backoffice.services.store_links import (
    DEFAULT_SETTINGS,
    ApiStat,
    ConnectionInfo,
    LocationLinkInfo,
    OutboxEntryInfo,
    RunInfo,
)

__all__ = ["DEFAULT_SETTINGS", "DIRECTIONS", "ApiStat", "ConnectionInfo", "ConnectorOperations", "Health",
           "LocationLinkInfo", "OutboxEntryInfo", "ReconcileReport", "RunInfo", "StockConflict", "StockDifference",
           "StoreLocation", "SyncReport", "secret_store"]


def _sync_summary(r: SyncReport) -> str:
    """One line of a sync for the run history."""
    sent = r.products_created + r.products_updated + r.products_matched
    text = (f"{r.state} ({r.direction}): orders +{r.orders_new:,}, products {sent:,}, prices {r.prices_pushed:,}, "
            f"shipments {r.fulfilments_pushed:,}, stock {r.stock_set:,}")
    if r.error_count:
        text += f"; {r.error_count:,} errors" + (f", first: {r.errors[0]}" if r.errors else "")
    return text


def secret_store() -> Any:  # noqa: ANN401 - a SecretStore
    from backoffice.secrets import SecretStore
    return SecretStore()


def _no_key(name: str) -> str:
    return (f"no API key for the store {name} in this computer's keyring (nor in {key_env(name)}): "
            f"run `backoffice store set-key {name}`")


def _keep_key(name: str, api_key: str) -> None:
    """Into the keyring; without one, only when the environment holds that very key (never plain text)."""
    store = secret_store()
    if store.keyring_available():
        store.set(key_name(name), api_key)
    elif os.environ.get(key_env(name)) != api_key:
        raise ServiceError(f"no secure keyring is available on this computer to keep the API key of {name}: "
                           f"install one, or give the key to the commands that sync in {key_env(name)}")


class ConnectorOperations(Area):
    # -- reads ---------------------------------------------------------------------------------------------
    def list(self) -> list[ConnectionInfo]:
        """Every connected store with its location links, last run, and outbox counts."""
        return store_links.list_connections(self._db)

    def get(self, name: str) -> ConnectionInfo:
        return store_links.get_connection(self._db, name)

    def runs(self, name: str, *, limit: int = 50) -> list[RunInfo]:
        """The sync log, newest first."""
        return store_links.list_runs(self._db, store_links.get_connection(self._db, name).id, limit=limit)

    def api_stats(self, name: str, *, hours: int = 24 * 7) -> list[ApiStat]:
        """The store API's response times and error rates per endpoint over the last ``hours``."""
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
        return store_links.api_stats(self._db, store_links.get_connection(self._db, name).id, since=since)

    def response_times(self, name: str, *, hours: int = 24 * 7) -> list[tuple[dt.datetime, float, int]]:
        """(when, milliseconds, HTTP status) of each call over the last ``hours`` (the panel's chart)."""
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
        return store_links.response_times(self._db, store_links.get_connection(self._db, name).id, since=since)

    def outbox(self, name: str, *, states: list[str] | None = None, limit: int = 200) -> list[OutboxEntryInfo]:
        """Pushes planned, sent, failed or in conflict, newest first."""
        return store_links.outbox_entries(self._db, store_links.get_connection(self._db, name).id,
                                          states=states, limit=limit)

    def health(self, name: str) -> Health:
        """Whether the store answers and accepts the key (never raises for the store's sake)."""
        conn = store_links.connection_row(self._db, name)
        key = read_key(name, secret_store())
        if not key:
            return Health(ok=False, message=_no_key(name))
        adapter = open_adapter(conn["kind"], conn["url"], key, conn["settings"])
        try:
            return adapter.health()
        finally:
            adapter.close()

    def key_source(self, name: str) -> str:
        """Where the machine running the operations finds the store's API key: "keyring",
        "environment" (``BACKOFFICE_STORE_API_KEY_<NAME>``) or "" (nowhere: syncing will fail)."""
        store_links.get_connection(self._db, name)
        store = secret_store()
        if store.keyring_available() and store.get(key_name(name)):
            return "keyring"
        return "environment" if os.environ.get(key_env(name)) else ""

    def store_locations(self, name: str) -> list[StoreLocation]:
        """The store's stock locations, to link ours to."""
        conn = store_links.connection_row(self._db, name)
        key = read_key(name, secret_store())
        if not key:
            raise ValidationError([("store", "api_key", _no_key(name))])
        adapter = open_adapter(conn["kind"], conn["url"], key, conn["settings"])
        try:
            return adapter.locations()
        except StoreError as exc:
            raise ServiceError(f"{name}: {exc}") from exc
        finally:
            adapter.close()

    # -- setting up ------------------------------------------------------------------------------------------
    def add(self, kind: str, name: str, url: str, api_key: str, *, settings: dict[str, Any] | None = None,
            op_id: str | None = None) -> ConnectionInfo:
        """Connect a store: its API key goes to this machine's keyring, the rest to the database."""
        if not api_key or not api_key.strip():
            raise ValidationError([("store", "api_key", "the store's API key is required")])
        store_links.create_connection(self._db, self._actor, name=name, kind=kind, url=url, settings=settings,
                                      operation_id=op_id)
        try:
            _keep_key(name, api_key.strip())
        except Exception:
            store_links.delete_connection(self._db, self._actor, name)   # nothing half-made
            raise
        return store_links.get_connection(self._db, name)

    def set_key(self, name: str, api_key: str) -> None:
        """Replace the store's API key in this machine's keyring."""
        store_links.get_connection(self._db, name)
        if not api_key or not api_key.strip():
            raise ValidationError([("store", "api_key", "the store's API key is required")])
        _keep_key(name, api_key.strip())

    def update(self, name: str, *, url: str | None = None, settings: dict[str, Any] | None = None,
               active: bool | None = None, expected_version: int | None = None,
               op_id: str | None = None) -> ConnectionInfo:
        """Change the URL, the direction rules and tuning (``settings``: the keys to change), or pause."""
        store_links.update_connection(self._db, self._actor, name, url=url, settings=settings, active=active,
                                      expected_version=expected_version, operation_id=op_id)
        return store_links.get_connection(self._db, name)

    def remove(self, name: str, *, op_id: str | None = None) -> None:
        """Forget the store and its key (the catalog, stock and orders here are untouched)."""
        store_links.delete_connection(self._db, self._actor, name, operation_id=op_id)
        secret_store().delete(key_name(name))

    def link_location(self, name: str, location_code: str, store_location_id: str, *, owned: bool = True,
                      op_id: str | None = None) -> ConnectionInfo:
        """Map our location to the store's stock location; ``owned``: our ledger is the truth there (stock
        is pushed); otherwise it is only compared."""
        store_links.link_location(self._db, self._actor, name, location_code=location_code,
                                  store_location_id=store_location_id, owned=owned, operation_id=op_id)
        return store_links.get_connection(self._db, name)

    def unlink_location(self, name: str, location_code: str, *, op_id: str | None = None) -> ConnectionInfo:
        store_links.unlink_location(self._db, self._actor, name, location_code=location_code, operation_id=op_id)
        return store_links.get_connection(self._db, name)

    def retry_outbox(self, name: str, *, ids: list[int] | None = None, op_id: str | None = None) -> int:
        """Send failed pushes again at the next sync (None: all of them); the number."""
        cid = store_links.get_connection(self._db, name).id
        return store_links.retry_entries(self._db, self._actor, cid, ids, operation_id=op_id)

    def discard_outbox(self, name: str, *, ids: list[int] | None = None, op_id: str | None = None) -> int:
        """Give up failed pushes (None: all of them); the number."""
        cid = store_links.get_connection(self._db, name).id
        return store_links.retry_entries(self._db, self._actor, cid, ids, discard=True, operation_id=op_id)

    # -- syncing ------------------------------------------------------------------------------------------------
    def sync(self, name: str, *, direction: str = "both", dry_run: bool = False,
             progress: ProgressCallback | None = None, cancel: CancelCallback | None = None) -> SyncReport:
        """One run: pull orders (and the store's catalog links), push catalog, prices, fulfilments and
        stock, as the connection's direction rules allow (``direction``: both, pull or push). A dry run
        reads the store and plans, and writes nothing anywhere. One sync of a store at a time (a dry run
        aside): while another is under way this one does nothing and raises JobBusy (recorded as skipped)."""
        if dry_run:
            with SyncEngine(self._db, self._actor, name, secrets=secret_store(), progress=progress,
                            cancel=cancel) as engine:
                return engine.sync(direction=direction, dry_run=True)
        with job_runs.exclusive(self._db, "store-sync", self._actor, scope=name) as job:
            with SyncEngine(self._db, self._actor, name, secrets=secret_store(), progress=progress,
                            cancel=cancel) as engine:
                report = engine.sync(direction=direction, dry_run=dry_run)
            job.done(_sync_summary(report), failed=report.state == "failed")
        if report.orders_new or report.orders_updated:
            self.changed(Changes.of(ORDERS, STOCK))
        return report

    def reconcile(self, name: str, *, fix: bool = False, progress: ProgressCallback | None = None,
                  cancel: CancelCallback | None = None) -> ReconcileReport:
        """The store's stock snapshot against ours, row by row, at owned linked locations; ``fix`` sets
        the store to ours where they differ."""
        with SyncEngine(self._db, self._actor, name, secrets=secret_store(), progress=progress,
                        cancel=cancel) as engine:
            return engine.reconcile(fix=fix)
