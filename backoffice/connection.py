"""Open the database a user asked for: resolve the password (keyring, then prompt), check that the server
answers and the schema is current, and turn every failure into one clear sentence."""

from __future__ import annotations

from collections.abc import Callable

from backoffice import migrations
from backoffice.config import secret_key_for, split_password
from backoffice.db import DESKTOP_POOL_SIZE, Database, DatabaseError, DatabaseUnreachable, normalise_url
from backoffice.secrets import KeyringUnavailable, SecretStore


class WrongPassword(DatabaseError):
    pass


_AUTH_MARKERS = ("password authentication failed", "no password supplied", "authentication failed")

PasswordPrompt = Callable[[str], str | None]


def _is_auth_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(m in text for m in _AUTH_MARKERS)


def open_database(url: str, *, secrets: SecretStore | None = None, prompt: PasswordPrompt | None = None,
                  require_schema: bool = True, pool_size: int = DESKTOP_POOL_SIZE) -> Database:
    """A connected ``Database`` for ``url``.

    A password written in the URL is used as given (and never stored). Otherwise the keyring entry for
    the login is used; if the server refuses it, ``prompt`` is asked once (the GUI shows a dialog, an
    interactive CLI reads the terminal). Raises DatabaseError subclasses with a one-line message.
    """
    secrets = secrets or SecretStore()
    target = normalise_url(url)
    if target.get_backend_name() == "sqlite":
        db = Database(target, pool_size=pool_size)
    else:
        clean, password = split_password(url)
        key = secret_key_for(target)
        if password is None:
            try:
                password = secrets.get(key)
            except KeyringUnavailable:
                password = None
        db = Database(clean, password=password, pool_size=pool_size)
        try:
            db.ping()
        except DatabaseUnreachable as exc:
            if not _is_auth_failure(exc):
                raise
            db.dispose()
            if prompt is None:
                what = "was refused" if password else "is needed and none is stored in the keyring"
                raise WrongPassword(f"the password for {key} {what}") from exc
            answer = prompt(key)
            if answer is None:
                raise WrongPassword(f"no password given for {key}") from exc
            db = Database(clean, password=answer, pool_size=pool_size)
            try:
                db.ping()
            except DatabaseUnreachable as exc2:
                db.dispose()
                if _is_auth_failure(exc2):
                    raise WrongPassword(f"the password for {key} was refused") from exc2
                raise
            secrets.remember_for_session(key, answer)
    if require_schema:
        try:
            migrations.ensure_current(db)
        except DatabaseError:
            db.dispose()
            raise
    return db
