"""The command line: the same services as the GUI, no Qt import unless a command draws something.

Every command takes ``--db URL`` (or ``--profile NAME``, or BACKOFFICE_DATABASE_URL); errors are one
clear line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from backoffice import __version__

EXIT_ERROR = 1
EXIT_USAGE = 2


class Context:
    """What the top-level options chose; opens the database lazily, once."""

    def __init__(self, db_url: str | None, profile: str | None, user: str | None) -> None:
        self.db_url_option, self.profile_option, self.user_option = db_url, profile, user
        self._db = None
        self._profile = None

    def target(self) -> tuple[str, Any]:
        from backoffice.config import resolve_target

        return resolve_target(self.db_url_option, self.profile_option)

    def database(self, *, require_schema: bool = True):  # type: ignore[no-untyped-def]
        if self._db is None:
            from backoffice.connection import open_database

            url, self._profile = self.target()
            self._db = open_database(url, prompt=_terminal_prompt(), require_schema=require_schema)
        return self._db

    def actor(self):  # type: ignore[no-untyped-def]
        from backoffice.services.users import current_os_username, ensure_user

        username = (self.user_option or os.environ.get("BACKOFFICE_USER")
                    or (self._profile.username if self._profile else "") or current_os_username())
        return ensure_user(self.database(), username)

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def _terminal_prompt() -> Callable[[str], str | None] | None:
    if not sys.stdin.isatty():
        return None  # scripts and schedulers: no prompt, a clear error instead
    return lambda key: click.prompt(f"Password for {key}", hide_input=True, default="", show_default=False) or None


def _friendly_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    from backoffice.config import ProfileError
    from backoffice.db import DatabaseError
    from backoffice.secrets import KeyringUnavailable, PasswordRequired
    from backoffice.services.base import ServiceError

    return (DatabaseError, ServiceError, ProfileError, PasswordRequired, KeyringUnavailable, SQLAlchemyError, OSError)


class BackofficeGroup(click.Group):
    """Turns expected failures into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except _friendly_errors() as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            click.echo(f"backoffice: error: {message}", err=True)
            ctx.exit(EXIT_ERROR)
        finally:
            obj = ctx.obj
            if isinstance(obj, Context):
                obj.close()


def _db_options(f: Callable) -> Callable:
    """--db/--profile/--user accepted after a subcommand too (``backoffice demo --db URL``)."""
    def remember(name: str) -> Callable:
        def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
            if value is not None:
                root = ctx.find_root().obj
                setattr(root, f"{name}_option", value)
            return value
        return callback

    f = click.option("--user", "user_", metavar="NAME", expose_value=False, callback=remember("user"),
                     help="Act as this Backoffice user.")(f)
    f = click.option("--profile", metavar="NAME", expose_value=False, callback=remember("profile"),
                     help="Use a saved connection profile.")(f)
    f = click.option("--db", metavar="URL", expose_value=False, callback=remember("db_url"),
                     help="Database URL: sqlite:///path or postgresql+psycopg://user@host/db.")(f)
    return f


@click.group(cls=BackofficeGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", metavar="URL", envvar="BACKOFFICE_DATABASE_URL",
              help="Database URL (default: the embedded SQLite file, or the default profile).")
@click.option("--profile", metavar="NAME", help="Use a saved connection profile.")
@click.option("--user", metavar="NAME", help="Act as this Backoffice user (default: your login name).")
@click.option("--demo", is_flag=True, help="Open the GUI on a demo store (created on first use).")
@click.option("--demo-products", default=2000, show_default=True, metavar="N", help="Size of the --demo store.")
@click.version_option(__version__, prog_name="backoffice")
@click.pass_context
def main(ctx: click.Context, db_url: str | None, profile: str | None, user: str | None, demo: bool,
         demo_products: int) -> None:
    """Backoffice: bulk catalog editing, inventory, purchasing and reports for your store.

    Without a command, opens the desktop application.
    """
    ctx.obj = Context(db_url, profile, user)
    if ctx.invoked_subcommand is not None:
        return
    from backoffice.config import resolve_target
    from backoffice.db import data_dir

    if demo:
        url, prof = (db_url, None) if db_url else (f"sqlite:///{data_dir() / 'demo.sqlite'}", None)
    else:
        url, prof = resolve_target(db_url, profile)
    from backoffice.ui.app import run_gui

    ctx.exit(run_gui(db_url=url, profile=prof, username=user, demo_products=demo_products if demo else None))


# -- db -------------------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Create, migrate and inspect the database schema."""


@db.command("upgrade")
@_db_options
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Create the schema, or migrate it to this version of Backoffice."""
    from backoffice import migrations

    database = obj.database(require_schema=False)
    before, after = migrations.upgrade(database)
    if before == after:
        click.echo(f"{database.display_url()} is up to date (revision {after}).")
    else:
        click.echo(f"{database.display_url()}: migrated from {before or 'empty'} to {after}.")


@db.command("current")
@_db_options
@click.pass_obj
def db_current(obj: Context) -> None:
    """Show the schema revision of the database and the one this version expects."""
    from backoffice import migrations

    database = obj.database(require_schema=False)
    click.echo(f"database: {migrations.current_revision(database) or 'empty'}; application: {migrations.head_revision()}")


# -- demo -----------------------------------------------------------------------------------------------
@main.command()
@click.option("--products", type=click.IntRange(min=1), default=2000, show_default=True, help="Number of products.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same store.")
@click.option("--anchor", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day of the sales history (default: today).")
@_db_options
@click.pass_obj
def demo(obj: Context, products: int, seed: int, anchor: dt.datetime | None) -> None:
    """Fill an empty database with a realistic demo store (about 10 variants per product)."""
    from backoffice import migrations
    from backoffice.services.demo import generate_demo

    database = obj.database(require_schema=False)
    if migrations.current_revision(database) is None:
        migrations.upgrade(database)
    migrations.ensure_current(database)
    last = [-1]

    def progress(fraction: float, text: str) -> None:
        pct = int(fraction * 100)
        if pct != last[0] and sys.stderr.isatty():
            click.echo(f"\r{pct:3d}%  {text:<50}", err=True, nl=False)
        last[0] = pct

    summary = generate_demo(database, obj.actor(), products=products, seed=seed,
                            anchor=anchor.date() if anchor else None, progress=progress)
    if sys.stderr.isatty():
        click.echo("", err=True)
    counts = summary.to_dict()
    seconds = counts.pop("seconds")
    click.echo(f"Demo store written to {database.display_url()} in {seconds:.1f} s:")
    for name, value in counts.items():
        click.echo(f"  {name.replace('_', ' '):<14}{value:>12,}")


# -- screenshot -----------------------------------------------------------------------------------------
@main.command()
@click.option("--view", "view", required=True, metavar="NAME", help="Which view (shell, audit, products, …).")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--width", type=click.IntRange(320, 7680), default=1280, show_default=True)
@click.option("--height", type=click.IntRange(240, 4320), default=800, show_default=True)
@_db_options
@click.pass_obj
def screenshot(obj: Context, view: str, file: Path, width: int, height: int) -> None:
    """Render a view offscreen, after its data has loaded, to a PNG file."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from backoffice.ui.screenshot import VIEW_NAMES, render_view_to_file

    if view not in VIEW_NAMES:
        raise click.BadParameter(f"unknown view {view!r}; choose from {', '.join(VIEW_NAMES)}", param_hint="--view")
    database = obj.database()
    actor = obj.actor()
    render_view_to_file(database, actor, view, file, width=width, height=height,
                        profile_name=obj._profile.name if obj._profile else "")
    click.echo(f"{file} ({width}x{height})")


# -- profiles -------------------------------------------------------------------------------------------
@main.group()
def profiles() -> None:
    """Saved connections (name and URL; passwords go to the OS keyring)."""


@profiles.command("list")
def profiles_list() -> None:
    """List the saved profiles."""
    from backoffice.config import ProfileStore

    store = ProfileStore()
    default = store.default()
    rows = store.list()
    if not rows:
        click.echo("No profiles yet: `backoffice profiles add NAME URL`.")
    for p in rows:
        mark = "*" if default and default.name == p.name else " "
        click.echo(f"{mark} {p.name:<20} {p.kind:<11} {p.url}")


@profiles.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--default", "make_default", is_flag=True, help="Make it the default profile.")
@click.option("--username", default="", help="Backoffice user to act as with this profile.")
@click.option("--ask-password", is_flag=True, help="Ask for the database password and keep it in the OS keyring.")
def profiles_add(name: str, url: str, make_default: bool, username: str, ask_password: bool) -> None:
    """Save a profile. A password in URL is moved to the keyring, never written to the profile."""
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore

    profile, password = ProfileStore().save(name, url, username=username, make_default=make_default)
    if ask_password and password is None:
        password = click.prompt(f"Password for {profile.secret_key()}", hide_input=True)
    if password:
        SecretStore().set(profile.secret_key(), password)
        click.echo(f"Password for {profile.secret_key()} stored in the keyring.")
    click.echo(f"Saved profile {profile.name!r}: {profile.url}")


@profiles.command("remove")
@click.argument("name")
def profiles_remove(name: str) -> None:
    """Delete a profile and its stored password."""
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore

    store = ProfileStore()
    profile = store.get(name)
    store.delete(name)
    if profile.kind != "sqlite":
        SecretStore().delete(profile.secret_key())
    click.echo(f"Removed profile {name!r}.")


@profiles.command("test")
@click.argument("name")
def profiles_test(name: str) -> None:
    """Connect with a profile and report the schema state."""
    from backoffice import migrations
    from backoffice.config import ProfileStore
    from backoffice.connection import open_database

    profile = ProfileStore().get(name)
    database = open_database(profile.url, prompt=_terminal_prompt(), require_schema=False)
    try:
        rev = migrations.current_revision(database)
        state = "up to date" if rev == migrations.head_revision() else f"needs `backoffice db upgrade` (at {rev or 'empty'})"
        click.echo(f"Connected to {database.display_url()}: schema {state}.")
    finally:
        database.dispose()


@profiles.command("default")
@click.argument("name")
def profiles_default(name: str) -> None:
    """Make NAME the profile used when no --db or --profile is given."""
    from backoffice.config import ProfileStore

    ProfileStore().set_default(name)
    click.echo(f"Default profile: {name}")


# -- users ----------------------------------------------------------------------------------------------
@main.group()
def users() -> None:
    """Staff accounts and their roles."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["merchandiser", "warehouse", "purchaser", "manager", "admin"]),
              default="merchandiser", show_default=True)
@click.option("--name", "display_name", default="", help="Display name.")
@_db_options
@click.pass_obj
def users_add(obj: Context, username: str, role: str, display_name: str) -> None:
    """Create a user (the first user of a database is always an admin)."""
    from backoffice.models import Role
    from backoffice.services.users import ensure_user

    actor = ensure_user(obj.database(), username, Role(role), display_name)
    click.echo(f"{actor.username}: {actor.role.value} (id {actor.user_id})")


@users.command("list")
@_db_options
@click.pass_obj
def users_list(obj: Context) -> None:
    """List users and roles."""
    from backoffice.services.users import list_users

    for u in list_users(obj.database()):
        click.echo(f"{u['username']:<20} {u['role']:<13} {'active' if u['active'] else 'inactive'}")


# -- audit ----------------------------------------------------------------------------------------------
@main.command("audit")
@click.option("--entity", default="", help="Only this entity (product, variant, stock_operation, …).")
@click.option("--by", "username", default="", help="Only this user's actions.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_db_options
@click.pass_obj
def audit_cmd(obj: Context, entity: str, username: str, limit: int, as_json: bool) -> None:
    """Show the newest audit entries."""
    from backoffice.services.audit import AuditFilter, fetch_page
    from backoffice.services.base import jsonable

    rows = fetch_page(obj.database(), AuditFilter(entity=entity, username=username), limit=limit)
    for r in rows:
        if as_json:
            click.echo(json.dumps(jsonable(r.__dict__), sort_keys=True))
        else:
            when = r.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{when}  {r.username:<12} {r.action:<8} {r.entity} {r.entity_id}: {r.summary()}")


if __name__ == "__main__":  # pragma: no cover
    main()
