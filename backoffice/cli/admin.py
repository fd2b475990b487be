"""Administration: schema, connection profiles, users, the audit trail."""

from __future__ import annotations

import json

import click

from backoffice.cli.app import Context, db_options, main, terminal_prompt


# -- db -------------------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Create, migrate and inspect the database schema."""


@db.command("upgrade")
@db_options
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Create the schema, or migrate it to this version of Backoffice."""
    ops = obj.operations(require_schema=False, sign_in=False)
    done = ops.admin.upgrade()
    if not done.changed:
        click.echo(f"{ops.url} is up to date (revision {done.after}).")
    else:
        click.echo(f"{ops.url}: migrated from {done.before or 'empty'} to {done.after}.")


@db.command("current")
@db_options
@click.pass_obj
def db_current(obj: Context) -> None:
    """Show the schema revision of the database and the one this version expects."""
    schema = obj.operations(require_schema=False, sign_in=False).admin.schema()
    click.echo(f"database: {schema.current or 'empty'}; application: {schema.head}")


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
@click.option("--image-store", default=None, metavar="FOLDER",
              help="Folder of the image store for this profile (local or a shared network folder).")
def profiles_add(name: str, url: str, make_default: bool, username: str, ask_password: bool,
                 image_store: str | None) -> None:
    """Save a profile. A password in URL is moved to the keyring, never written to the profile.

    Without a usable keyring the profile is still saved (exit 0) and a warning says the password will
    be asked for each session: it is never written anywhere in clear.
    """
    from backoffice.config import ProfileStore
    from backoffice.secrets import KeyringUnavailable, SecretStore

    profile, password = ProfileStore().save(name, url, username=username, make_default=make_default,
                                            image_store=image_store)
    if ask_password and password is None:
        password = click.prompt(f"Password for {profile.secret_key()}", hide_input=True)
    if password:
        try:
            SecretStore().set(profile.secret_key(), password)
        except KeyringUnavailable as exc:
            click.echo(f"backoffice: warning: password not stored: {exc}", err=True)
        else:
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
    from backoffice.config import ProfileStore
    from backoffice.operations.session import check_connection

    profile = ProfileStore().get(name)
    checked = check_connection(profile.url, prompt=terminal_prompt())
    schema = checked.schema
    state = "up to date" if schema.up_to_date else f"needs `backoffice db upgrade` (at {schema.current or 'empty'})"
    click.echo(f"Connected to {checked.url}: schema {state}.")


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
@db_options
@click.pass_obj
def users_add(obj: Context, username: str, role: str, display_name: str) -> None:
    """Create a user (the first user of a database is always an admin)."""
    user = obj.operations(sign_in=False).users.add(username, role=role, display_name=display_name)
    click.echo(f"{user.username}: {user.role} (id {user.id})")


@users.command("list")
@db_options
@click.pass_obj
def users_list(obj: Context) -> None:
    """List users and roles."""
    for u in obj.operations(sign_in=False).users.list():
        click.echo(f"{u.username:<20} {u.role:<13} {'active' if u.active else 'inactive'}")


# -- audit ----------------------------------------------------------------------------------------------
@main.command("audit")
@click.option("--entity", default="", help="Only this entity (product, variant, stock_operation, …).")
@click.option("--by", "username", default="", help="Only this user's actions.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@db_options
@click.pass_obj
def audit_cmd(obj: Context, entity: str, username: str, limit: int, as_json: bool) -> None:
    """Show the newest audit entries, described with names (locations, SKUs, products), not ids."""
    from backoffice.operations.audit import AuditFilter

    rows = obj.operations(sign_in=False).audit.page(AuditFilter(entity=entity, username=username), limit=limit)
    for r in rows:
        view = r.view
        if as_json:
            click.echo(json.dumps(r.to_json(), sort_keys=True))
        else:
            when = r.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            text = f"{view.subject}: {view.summary}" if view is not None else f"{r.entity} {r.entity_id}: {r.summary()}"
            click.echo(f"{when}  {r.username:<12} {r.action:<8} {r.entity.replace('_', ' ')} {text}")
