"""Administration: schema, connection profiles, users, the audit trail."""

from __future__ import annotations

import json

import sys

import click

from backoffice.cli.app import Context, db_options, main, terminal_prompt


# -- db -------------------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Create, migrate and inspect the database schema."""


@db.command("upgrade")
@click.option("--admin", "admin_name", metavar="NAME",
              help="On a database without accounts: make NAME its first admin (password typed twice at a "
                   "terminal, or two lines on standard input; required on PostgreSQL).")
@click.option("--sql", "as_sql", is_flag=True,
              help="Print the SQL of the migration instead of running it (for a DBA to review); changes nothing.")
@db_options
@click.pass_obj
def db_upgrade(obj: Context, admin_name: str | None, as_sql: bool) -> None:
    """Create the schema, or migrate it to this version of Backoffice.

    A database without accounts gets its first admin here: NAME with --admin; on an SQLite file without
    --admin, your login name (the file's owner); on PostgreSQL without --admin, none (`backoffice users
    bootstrap-admin NAME` makes one later). A database with accounts keeps them as they are.

    With --sql, nothing is changed: the statements that would take the database from its revision to
    this version's are printed (PostgreSQL: one transaction, to apply with psql, then run `backoffice
    db upgrade` once for the roles and grants; SQLite: recorded by upgrading a temporary copy of the file).
    """
    from backoffice.operations.session import current_os_username, is_sqlite

    ops = obj.operations(require_schema=False, sign_in=False)
    if as_sql:
        if admin_name:
            raise click.UsageError("--sql only prints the migration: --admin makes no account with it")
        click.echo(ops.admin.upgrade_sql(), nl=False)
        return
    done = ops.admin.upgrade()
    if not done.changed:
        click.echo(f"{ops.url} is up to date (revision {done.after}).")
    else:
        click.echo(f"{ops.url}: migrated from {done.before or 'empty'} to {done.after}.")
    sqlite = is_sqlite(ops.url)
    if ops.has_accounts():
        if admin_name:
            click.echo(f"The database has accounts already: --admin {admin_name} changes nothing (an admin "
                       "adds accounts with `backoffice users add`).", err=True)
        return
    if admin_name:
        made = ops.create_first_admin(admin_name, password=_read_password(required=not sqlite))
    elif sqlite:
        made = ops.create_first_admin(current_os_username())
    else:
        click.echo("The database has no accounts yet: make the first admin with "
                   "`backoffice users bootstrap-admin NAME --password-stdin`, or `backoffice db upgrade "
                   "--admin NAME`.", err=True)
        return
    if made is not None:
        owner = ", the owner of this file" if sqlite else ""
        click.echo(f"{made.username}: admin (id {made.user_id}){owner}: the first account.")


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
@click.option("--api", "api", is_flag=True,
              help="URL is a store API server (backoffice serve), https://…: work through it, no database login.")
@click.option("--username", default="", help="Backoffice user to act as with this profile (needed with --api).")
@click.option("--ask-password", is_flag=True,
              help="Ask for the password now (read from standard input when it is not a terminal). A database "
                   "password goes to the OS keyring; with --api it is traded for a session at once and not kept.")
@click.option("--image-store", default=None, metavar="FOLDER",
              help="Folder of the image store for this profile (local or a shared network folder).")
def profiles_add(name: str, url: str, make_default: bool, api: bool, username: str, ask_password: bool,
                 image_store: str | None) -> None:
    """Save a profile. A password in URL is moved to the keyring, never written to the profile.

    Without a usable keyring the profile is still saved (exit 0) and a warning says the password will
    be asked for each session: it is never written anywhere in clear.
    """
    from backoffice.config import ProfileStore
    from backoffice.remote.urls import is_api_url
    from backoffice.secrets import KeyringUnavailable, SecretStore

    if api and not is_api_url(url):
        raise click.UsageError(f"--api needs the server's http(s):// URL, not {url!r}")
    if is_api_url(url):
        _add_api_profile(name, url, username, make_default, ask_password)
        return
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


def _read_sign_in_password(prompt: str) -> str:
    """A password from a hidden prompt at a terminal, or one line of standard input otherwise."""
    if sys.stdin is not None and sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, err=True)
    line = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
    if not line:
        raise click.UsageError("--ask-password: no password on standard input")
    return line


def _add_api_profile(name: str, url: str, username: str, make_default: bool, ask_password: bool) -> None:
    from backoffice.config import ProfileStore
    from backoffice.remote.session import sign_in

    store = ProfileStore()
    profile, _ = store.save(name, url, username=username, make_default=False)
    if ask_password:
        password = _read_sign_in_password(f"Password of {profile.username} on {profile.url}")
        try:
            ops = sign_in(profile.url, profile.username, password, profile=profile.name,
                          warn=lambda text: click.echo(f"backoffice: warning: {text}", err=True))
        except BaseException:
            store.delete(profile.name)     # a profile that cannot sign in is not saved half-way
            raise
        actor = ops.actor
        ops.close()
        click.echo(f"Signed in as {actor.username} ({actor.role.value}); the session is kept in the keyring.")
    if make_default:
        store.set_default(profile.name)
    click.echo(f"Saved profile {profile.name!r}: store API at {profile.url} as {profile.username}")


@profiles.command("login")
@click.argument("name")
def profiles_login(name: str) -> None:
    """Sign in again on an API profile (the password from a prompt, or standard input)."""
    from backoffice.config import ProfileStore
    from backoffice.remote.session import sign_in

    profile = ProfileStore().get(name)
    if not profile.is_api:
        raise click.UsageError(f"{name} is a database profile: its password is asked when it is used")
    password = _read_sign_in_password(f"Password of {profile.username} on {profile.url}")
    ops = sign_in(profile.url, profile.username, password, profile=profile.name,
                  warn=lambda text: click.echo(f"backoffice: warning: {text}", err=True))
    actor = ops.actor
    ops.close()
    click.echo(f"Signed in as {actor.username} ({actor.role.value}) on {profile.url}.")


@profiles.command("sync")
@click.argument("name")
def profiles_sync(name: str) -> None:
    """Bring an API profile's local copy up to date and send its waiting changes (what the desktop does
    every few seconds while it is open), e.g. from the OS scheduler before people start work."""
    from backoffice.config import ProfileStore
    from backoffice.remote.session import open_api
    from backoffice.sync.controller import ApiSync

    profile = ProfileStore().get(name)
    if not profile.is_api:
        raise click.UsageError(f"{name} is a database profile: it has no local copy to sync")
    ops = open_api(profile.url, profile.username, prompt=terminal_prompt(), profile=profile.name)
    sync = ApiSync(ops, profile.name)
    shown = [-1]

    def progress(fraction: float | None, text: str | None) -> None:
        percent = -1 if fraction is None else int(fraction * 100)
        if percent // 10 != shown[0] // 10 and sys.stderr.isatty():
            shown[0] = percent
            click.echo(f"  {text or 'Syncing'}{'' if percent < 0 else f' ({percent} %)'}", err=True)

    try:
        outcome = sync.run(progress=progress)
    finally:
        sync.close()
        ops.close()
    if outcome.unreachable:
        raise click.ClickException(f"the store API did not answer: {outcome.error}; {outcome.pending} change(s) "
                                   "still waiting")
    if outcome.signed_out:
        raise click.ClickException(outcome.error)
    click.echo(f"{'First sync' if outcome.initial else 'Synced'}: {outcome.rows:,} rows brought; "
               f"{outcome.sent} change(s) sent, {outcome.pending} waiting, {outcome.attention} need attention.")


@profiles.command("logout")
@click.argument("name")
def profiles_logout(name: str) -> None:
    """End an API profile's session on the server and forget its tokens."""
    from backoffice.config import ProfileStore
    from backoffice.remote.session import sign_out

    profile = ProfileStore().get(name)
    if not profile.is_api:
        raise click.UsageError(f"{name} is a database profile: it has no session")
    ended = sign_out(profile.url, profile.username)
    click.echo(f"Signed out of {profile.url}." if ended else f"{name} was not signed in.")


@profiles.command("remove")
@click.argument("name")
def profiles_remove(name: str) -> None:
    """Delete a profile and its stored password (an API profile: its session too)."""
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore

    store = ProfileStore()
    profile = store.get(name)
    if profile.is_api:
        from backoffice.remote.session import sign_out

        sign_out(profile.url, profile.username)
    store.delete(name)
    if profile.kind != "sqlite":
        SecretStore().delete(profile.secret_key())
    click.echo(f"Removed profile {name!r}.")


@profiles.command("test")
@click.argument("name")
def profiles_test(name: str) -> None:
    """Connect with a profile and report the schema state (an API profile: the server's version, who
    is signed in, and the round-trip time)."""
    from backoffice.config import ProfileStore
    from backoffice.operations.session import check_connection

    profile = ProfileStore().get(name)
    if profile.is_api:
        from backoffice.remote.session import check_api, open_api

        ops = open_api(profile.url, profile.username, prompt=terminal_prompt(), profile=profile.name)
        try:
            checked = check_api(ops)
        finally:
            ops.close()
        click.echo(f"Connected to {checked.url}: server {checked.server_version}, database {checked.database}"
                   f" (schema {checked.schema or 'none'}); signed in as {checked.username} ({checked.role}); "
                   f"round trip {checked.round_trip_ms:.1f} ms.")
        return
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


ROLE_CHOICE = click.Choice(["merchandiser", "warehouse", "purchaser", "manager", "admin"])


def _read_password(*, required: bool) -> str | None:
    """A new password: typed twice at a terminal; otherwise read as two lines from standard input (for
    scripts). None when nothing is given and ``required`` is False."""
    import sys

    if sys.stdin is not None and sys.stdin.isatty():
        password = click.prompt("New password" + ("" if required else " (empty for none)"), hide_input=True,
                                confirmation_prompt="Repeat the password", default="", show_default=False)
    else:
        lines = (sys.stdin.read() if sys.stdin is not None else "").splitlines()
        if not lines or (len(lines) == 1 and not lines[0]):
            password = ""
        elif len(lines) < 2:
            raise click.UsageError("give the password twice, as two lines on standard input")
        elif lines[0] != lines[1]:
            raise click.UsageError("the two passwords differ")
        else:
            password = lines[0]
    if not password:
        if required:
            raise click.UsageError("no password given")
        return None
    return password


@users.command("add")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, default="merchandiser", show_default=True)
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True,
              help="Require a password: typed twice at a terminal, or two lines on standard input.")
@click.option("--reset-token", is_flag=True,
              help="Set no password; print a one-time token with which the user sets one.")
@db_options
@click.pass_obj
def users_add(obj: Context, username: str, role: str, display_name: str, password_stdin: bool,
              reset_token: bool) -> None:
    """Create a user (admin only; a database's first admin is made by `backoffice db upgrade` or
    `backoffice users bootstrap-admin`). Signing in never creates an account.

    The password is typed twice at a terminal, or read as two lines from standard input. With no
    password (empty input) the account has none and cannot log in to the store API until
    `users passwd` or a reset token sets one. An existing account is shown as it is.
    """
    if password_stdin and reset_token:
        raise click.UsageError("--password-stdin and --reset-token exclude each other")
    password = None if reset_token else _read_password(required=password_stdin)
    ops = obj.operations()
    user = ops.users.add(username, role=role, display_name=display_name, password=password)
    click.echo(f"{user.username}: {user.role} (id {user.id})")
    if reset_token:
        token = ops.users.issue_reset_token(user.username)
        click.echo(f"One-time password reset token for {user.username} (shown once): {token}")


@users.command("whoami")
@db_options
@click.pass_obj
def users_whoami(obj: Context) -> None:
    """Who acts: the signed-in user and role; on an SQLite file without --user, its owner."""
    ops = obj.operations()
    me = ops.users.whoami()
    if ops.owner_mode:
        click.echo(f"{me.username} · owner of this file ({me.role})")
    else:
        click.echo(f"{me.username} ({me.role})")


@users.command("list")
@db_options
@click.pass_obj
def users_list(obj: Context) -> None:
    """List users and roles (admin only)."""
    for u in obj.operations().users.list():
        click.echo(f"{u.username:<20} {u.role:<13} {'active' if u.active else 'inactive'}")


@users.command("passwd")
@click.argument("username")
@click.option("--reset-token", is_flag=True, help="Print a one-time reset token instead of setting a password.")
@db_options
@click.pass_obj
def users_passwd(obj: Context, username: str, reset_token: bool) -> None:
    """Set a user's password (one's own, or anyone's as an admin); their sessions end. Typed twice at
    a terminal, or two lines on standard input."""
    ops = obj.operations()
    if reset_token:
        token = ops.users.issue_reset_token(username)
        click.echo(f"One-time password reset token for {username} (shown once): {token}")
        return
    ops.users.set_password(username, _read_password(required=True) or "")
    click.echo(f"Password of {username} set.")


@users.command("deactivate")
@click.argument("username")
@db_options
@click.pass_obj
def users_deactivate(obj: Context, username: str) -> None:
    """Deactivate a user (admin only; never the last active admin); their sessions and API keys end."""
    user = obj.operations().users.deactivate(username)
    click.echo(f"{user.username}: deactivated")


@users.command("role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@db_options
@click.pass_obj
def users_role(obj: Context, username: str, role: str) -> None:
    """Give a user another role (admin only; the last active admin stays one)."""
    user = obj.operations().users.set_role(username, role)
    click.echo(f"{user.username}: {user.role} (id {user.id})")


@users.command("bootstrap-admin")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Require a password: typed twice at a terminal, or two lines on standard input.")
@db_options
@click.pass_obj
def users_bootstrap_admin(obj: Context, username: str, password_stdin: bool) -> None:
    """Make USERNAME an admin (creating the account) while the database has no active admin."""
    password = _read_password(required=password_stdin)
    user = obj.operations(sign_in=False).users.bootstrap_admin(username, password=password)
    click.echo(f"{user.username}: {user.role} (id {user.id})")


@users.command("api-key")
@click.argument("username")
@click.argument("name")
@db_options
@click.pass_obj
def users_api_key(obj: Context, username: str, name: str) -> None:
    """Create an API key named NAME acting as USERNAME (admin only). The key is shown once."""
    secret = obj.operations().users.create_api_key(username, name)
    click.echo(f"API key {name!r} for {username} (shown once, store it now): {secret}")


# -- sessions -------------------------------------------------------------------------------------------
@main.group()
def sessions() -> None:
    """Sign-in sessions and API keys of the store API."""


@sessions.command("list")
@click.option("--of", "of_user", default=None, metavar="NAME", help="Only this user's (admins see everyone's).")
@db_options
@click.pass_obj
def sessions_list(obj: Context, of_user: str | None) -> None:
    """List live sessions and API keys (an admin sees everyone's, others their own)."""
    rows = obj.operations().users.sessions(of_user)
    if not rows:
        click.echo("No live sessions or API keys.")
    for s in rows:
        used = s.last_used_at.strftime("%Y-%m-%d %H:%M") if s.last_used_at else "never used"
        expires = s.expires_at.strftime("%Y-%m-%d %H:%M") if s.expires_at else "no expiry"
        label = f"{s.kind} {s.name}".strip()
        click.echo(f"{s.id:>6}  {s.username:<16} {label:<24} expires {expires:<16}  {used}")


@sessions.command("revoke")
@click.argument("session_id", type=int)
@db_options
@click.pass_obj
def sessions_revoke(obj: Context, session_id: int) -> None:
    """End a session or API key by its id (its owner or an admin)."""
    obj.operations().users.revoke_session(session_id)
    click.echo(f"Session {session_id} revoked.")


@sessions.command("connected")
@db_options
@click.pass_obj
def sessions_connected(obj: Context) -> None:
    """Who is connected to the shared PostgreSQL as themselves or through the store API's server (admin)."""
    rows = obj.operations().users.database_sessions()
    if not rows:
        click.echo("Nobody is connected with a staff login.")
    for s in rows:
        since = s.started_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{s.pid:>7}  {s.login:<24} {s.username or '—':<16} {s.client:<15} {s.application:<12} "
                   f"since {since}  {s.state or ''}")


@sessions.command("end")
@click.argument("pid", type=int)
@db_options
@click.pass_obj
def sessions_end(obj: Context, pid: int) -> None:
    """End one connection of a staff login or of the API server, by its process id (admin)."""
    if not obj.operations().users.end_database_session(pid):
        raise click.ClickException(f"no staff connection with process id {pid}")
    click.echo(f"Connection {pid} ended.")


@users.command("locations")
@click.argument("username")
@click.argument("codes", nargs=-1)
@click.option("--clear", is_flag=True, help="Let the user post stock at every location again.")
@db_options
@click.pass_obj
def users_locations(obj: Context, username: str, codes: tuple[str, ...], clear: bool) -> None:
    """Show, or set (admin), the locations USERNAME may post stock at: `users locations alice WH1 SHOP`."""
    ops = obj.operations()
    if codes and clear:
        raise click.UsageError("give location codes or --clear, not both")
    now = ops.users.set_locations(username, [] if clear else list(codes)) if (codes or clear) \
        else ops.users.locations(username)
    click.echo(f"{username}: " + (", ".join(now) if now else "every location"))


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

    rows = obj.operations().audit.page(AuditFilter(entity=entity, username=username), limit=limit)
    for r in rows:
        view = r.view
        if as_json:
            click.echo(json.dumps(r.to_json(), sort_keys=True))
        else:
            when = r.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            text = f"{view.subject}: {view.summary}" if view is not None else f"{r.entity} {r.entity_id}: {r.summary()}"
            click.echo(f"{when}  {r.username:<12} {r.action:<8} {r.entity.replace('_', ' ')} {text}")
