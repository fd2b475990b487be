"""The top-level command group, its shared options and error handling.

Every command takes ``--db URL`` (or ``--profile NAME``, or BACKOFFICE_DATABASE_URL); errors are one
clear line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from backoffice import __version__

if TYPE_CHECKING:
    from backoffice.operations import Operations

EXIT_ERROR = 1
EXIT_USAGE = 2


def json_text(value: Any) -> str:  # noqa: ANN401 - any JSON-able value of the contract
    """``--json`` output: indented, dates in ISO form, amounts as exact strings."""
    import datetime as dt
    import json
    from decimal import Decimal

    def default(v: Any) -> Any:  # noqa: ANN401
        if isinstance(v, (dt.datetime, dt.date)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return str(v)
        raise TypeError(type(v).__name__)

    return json.dumps(value, indent=2, default=default, ensure_ascii=False)


class Context:
    """What the top-level options chose; opens the operations lazily, once.

    Who acts: on an SQLite file, the account named by --user, BACKOFFICE_USER or the profile (having the
    file is the proof), or else the file's owner (its oldest active admin); on a shared PostgreSQL
    database, that name (or the login name) proven by a password: --password-stdin, BACKOFFICE_PASSWORD
    or a hidden prompt at a terminal. An unknown name is an error: no account is created by signing in.
    """

    def __init__(self, db_url: str | None, profile: str | None, user: str | None,
                 password_stdin: bool = False) -> None:
        self.db_url_option, self.profile_option, self.user_option = db_url, profile, user
        self.password_stdin = password_stdin
        self._ops: Operations | None = None
        self._profile = None

    def target(self) -> tuple[str, Any]:
        from backoffice.config import resolve_target

        return resolve_target(self.db_url_option, self.profile_option)

    @property
    def profile_name(self) -> str:
        """The connection profile in use ("" for --db, the environment or the embedded file)."""
        if self._profile is None and self._ops is None:
            _url, self._profile = self.target()
        return self._profile.name if self._profile is not None else ""

    def named_user(self) -> str | None:
        """The user named for this run: --user, then BACKOFFICE_USER, then the profile's user (None)."""
        return (self.user_option or os.environ.get("BACKOFFICE_USER")
                or (self._profile.username if self._profile else "") or None)

    def username(self) -> str:
        """Who signs in to a shared database: the named user, or else the login name."""
        from backoffice.operations.session import current_os_username

        return self.named_user() or current_os_username()

    def operations(self, *, require_schema: bool = True, create_schema: bool = False,
                   sign_in: bool = True) -> Operations:
        """The operations contract over the chosen database, acting as the chosen user (opened once).

        ``require_schema=False`` opens a database whose schema is missing or old (``db upgrade``),
        ``create_schema`` creates the schema of an empty one first (``demo``); ``sign_in=False`` acts as
        nobody (``db …``, ``users bootstrap-admin``): no password is asked for.
        """
        if self._ops is not None and sign_in and not self._ops.signs_in:
            self._ops.close()   # opened without signing in by an earlier call: open it again, signed in
            self._ops = None
        if self._ops is None:
            from backoffice.operations.session import connect, is_sqlite

            url, self._profile = self.target()
            options = {"prompt": terminal_prompt(), "require_schema": require_schema, "create_schema": create_schema}
            from backoffice.remote.urls import is_api_url

            if is_api_url(url):
                self._ops = self._open_api(url)
            elif not sign_in:
                self._ops = connect(url, None, **options)
            elif is_sqlite(url):
                name = self.named_user()
                self._ops = connect(url, name, as_owner=name is None, **options)
            else:
                name = self.username()
                self._ops = connect(url, name, password=self._password(url, name), **options)
            if (require_schema or create_schema) and self._chosen_implicitly() and _command_reads_the_catalog():
                note_if_empty(self._ops)  # the database was chosen implicitly: say which one it is
        return self._ops

    def _open_api(self, url: str) -> Operations:
        """An API profile (or ``--db https://…``): the stored session of the profile's user; when it has
        ended, signed in again with the password (--password-stdin, BACKOFFICE_PASSWORD or a prompt)."""
        from backoffice.remote.session import open_api

        username = self.named_user() or self.username()
        password = None
        if self.password_stdin or os.environ.get("BACKOFFICE_PASSWORD"):
            password = self._password(url, username)
        return open_api(url, username, password=password, prompt=None if password else terminal_prompt(),  # type: ignore[return-value]
                        profile=self._profile.name if self._profile is not None else "",
                        warn=lambda text: click.echo(f"backoffice: warning: {text}", err=True))

    def _password(self, url: str, username: str) -> str:
        """``username``'s password for a shared database: one line of standard input with
        --password-stdin, BACKOFFICE_PASSWORD, or a hidden prompt at a terminal; else a clear error."""
        from backoffice.operations.session import SignInRequired, shared_database_refusal

        if self.password_stdin:
            line = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
            if line:
                return line
        else:
            from_env = os.environ.get("BACKOFFICE_PASSWORD")
            if from_env:
                return from_env
            if sys.stdin is not None and sys.stdin.isatty():
                typed = click.prompt(f"Password of {username}", hide_input=True, default="", show_default=False,
                                     err=True)
                if typed:
                    return typed
            else:   # no one to ask (the OS scheduler runs the command): the profile's password in the keyring
                stored = self._profile_password()
                if stored:
                    return stored
        raise SignInRequired(f"{shared_database_refusal(url)} (--password-stdin, BACKOFFICE_PASSWORD, "
                             "or run at a terminal)")

    def _profile_password(self) -> str | None:
        """The password kept in the keyring for the profile in use (``profiles add --ask-password``): what
        a scheduled run signs in with on PostgreSQL, since nothing else may hold it."""
        if self._profile is None or self._profile.is_api:
            return None
        from backoffice.secrets import SecretStore

        return SecretStore().get(self._profile.secret_key())

    def _chosen_implicitly(self) -> bool:
        return self.db_url_option is None and self.profile_option is None

    def close(self) -> None:
        if self._ops is not None:
            self._ops.close()


# Commands for which an empty catalog is normal (setting up, administering, filling it): no note.
_NO_EMPTY_NOTE = frozenset({"db", "demo", "profiles", "users", "sessions", "audit", "import", "serve", "screenshot"})


def _command_reads_the_catalog() -> bool:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    root = ctx.find_root()
    return root.invoked_subcommand not in _NO_EMPTY_NOTE


def note_if_empty(ops: Operations) -> None:
    """One line on stderr when the database a command opened by default (no --db, --profile or
    BACKOFFICE_DATABASE_URL) has an empty catalog: which database it is and where the demo store is, so
    "nothing found" is never a mystery."""
    from backoffice.config import where_is_the_demo

    if ops.admin.demo_state() == "empty":
        click.echo(f"backoffice: note: {ops.url} has no products; {where_is_the_demo()}", err=True)


def terminal_prompt() -> Callable[[str], str | None] | None:
    if not sys.stdin.isatty():
        return None  # scripts and schedulers: no prompt, a clear error instead
    return lambda key: click.prompt(f"Password for {key}", hide_input=True, default="", show_default=False) or None


def _friendly_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    from backoffice.config import ProfileError
    from backoffice.operations import ServiceError
    from backoffice.operations.session import DatabaseError
    from backoffice.secrets import KeyringUnavailable, PasswordRequired

    return (DatabaseError, ServiceError, ProfileError, PasswordRequired, KeyringUnavailable, SQLAlchemyError, OSError)


class BackofficeGroup(click.Group):
    """Turns expected failures into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except _friendly_errors() as exc:
            text = str(getattr(exc, "orig", None) or exc).strip()    # a database error: the server's own words
            message = text.splitlines()[0] if text else type(exc).__name__
            click.echo(f"backoffice: error: {message}", err=True)
            ctx.exit(EXIT_ERROR)
        finally:
            obj = ctx.obj
            if isinstance(obj, Context):
                obj.close()


def db_options(f: Callable) -> Callable:
    """--db/--profile/--user accepted after a subcommand too (``backoffice demo --db URL``)."""
    def remember(name: str) -> Callable:
        def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
            if value is not None:
                root = ctx.find_root().obj
                setattr(root, f"{name}_option", value)
            return value
        return callback

    f = click.option("--user", "user_", metavar="NAME", expose_value=False, callback=remember("user"),
                     help="Act as this existing Backoffice user.")(f)
    f = click.option("--profile", metavar="NAME", expose_value=False, callback=remember("profile"),
                     help="Use a saved connection profile.")(f)
    f = click.option("--db", metavar="URL", expose_value=False, callback=remember("db_url"),
                     help="Database URL: sqlite:///path or postgresql+psycopg://user@host/db.")(f)
    return f


@click.group(cls=BackofficeGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", metavar="URL", envvar="BACKOFFICE_DATABASE_URL",
              help="Database URL (default: the embedded SQLite file, or the default profile).")
@click.option("--profile", metavar="NAME", help="Use a saved connection profile.")
@click.option("--user", metavar="NAME",
              help="Act as this existing Backoffice user (default: on an SQLite file its owner, on "
                   "PostgreSQL your login name).")
@click.option("--password-stdin", is_flag=True,
              help="Read your Backoffice password (PostgreSQL sign-in) as one line of standard input.")
@click.option("--demo", is_flag=True, help="Open the GUI on a demo store (created on first use).")
@click.option("--demo-products", default=2000, show_default=True, metavar="N", help="Size of the --demo store.")
@click.version_option(__version__, prog_name="backoffice")
@click.pass_context
def main(ctx: click.Context, db_url: str | None, profile: str | None, user: str | None, password_stdin: bool,
         demo: bool, demo_products: int) -> None:
    """Backoffice: bulk catalog editing, inventory, purchasing and reports for your store.

    Without a command, opens the desktop application.
    """
    ctx.obj = Context(db_url, profile, user, password_stdin)
    if ctx.invoked_subcommand is not None:
        return
    from backoffice.platform_check import check_gui_platform

    problem = check_gui_platform()  # before Qt loads its platform plugin (and aborts without a word of use)
    if problem:
        click.echo(f"backoffice: error: {problem}", err=True)
        ctx.exit(EXIT_ERROR)
    from backoffice.config import ensure_demo_profile, resolve_target

    if demo:
        if db_url:
            url, prof = db_url, None
        else:
            prof = ensure_demo_profile()  # only once the GUI can start: it is what creates the demo file
            url = prof.url
    else:
        url, prof = resolve_target(db_url, profile)
    from backoffice.ui.app import run_gui

    ctx.exit(run_gui(db_url=url, profile=prof, username=user, demo_products=demo_products if demo else None))
