"""Opening an API profile: the person's session on the store API server, kept as tokens in the OS
keyring (never in a file), refreshed silently, and a clear "sign in again" when it has ended.

- :func:`sign_in` trades a user name and password for tokens once (the password is not kept) and stores
  them under :func:`token_key` (the server's URL and the user name).
- :func:`open_api` opens a profile with the stored tokens: a stale access token is refreshed (and the new
  pair stored again); a refresh token that expired or was revoked raises :class:`SignInRequired`, unless
  a password (or a prompt) was given, with which it signs in again.
- :func:`sign_out` ends the session on the server and forgets the tokens.

Without a usable keyring the tokens are kept for this process only and a warning says so: they are
never written in clear.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from backoffice.operations.session import SignInRequired
from backoffice.operations import Actor
from backoffice.operations.permissions import Role
from backoffice.remote.errors import ServerUnreachable, SignInExpired
from backoffice.remote.operations import RemoteOperations
from backoffice.remote.transport import Tokens, Transport
from backoffice.remote.urls import is_api_url, normalise_api_url, token_key
from backoffice.secrets import KeyringUnavailable, SecretStore

__all__ = ["ApiCheck", "check_api", "is_api_url", "normalise_api_url", "open_api", "sign_in", "sign_out",
           "token_key"]

def _store_tokens(secrets: SecretStore, key: str, tokens: Tokens | None, warn: Callable[[str], None]) -> None:
    if tokens is None:
        secrets.delete(key)
        return
    text = json.dumps(tokens.to_json())
    try:
        secrets.set(key, text)
    except KeyringUnavailable as exc:
        secrets.remember_for_session(key, text)
        warn(f"the session is kept for this run only: {exc}")


def _transport(url: str, key: str, secrets: SecretStore, tokens: Tokens | None,
               warn: Callable[[str], None]) -> Transport:
    return Transport(normalise_api_url(url), tokens=tokens,
                     on_tokens=lambda fresh: _store_tokens(secrets, key, fresh, warn))


def _who_key(key: str) -> str:
    return key + "#who"


def _remember_who(secrets: SecretStore, key: str, actor: Actor) -> None:
    """Who the session is (id, name, role: not a secret), so the app can open offline next time."""
    try:
        secrets.set(_who_key(key), json.dumps(actor.to_dict()))
    except KeyringUnavailable:
        secrets.remember_for_session(_who_key(key), json.dumps(actor.to_dict()))


def _who(secrets: SecretStore, key: str) -> Actor | None:
    try:
        data = json.loads(secrets.get(_who_key(key)) or "null")
        return None if not data else Actor(int(data["user_id"]), str(data["username"]), Role(data["role"]))
    except (ValueError, KeyError, TypeError):
        return None


def sign_in(url: str, username: str, password: str, *, secrets: SecretStore | None = None,
            profile: str = "", warn: Callable[[str], None] | None = None) -> RemoteOperations:
    """Sign ``username`` in on the server at ``url`` with their password: the session's tokens go to
    the keyring, the password nowhere. AuthenticationFailed for a wrong name or password."""
    secrets = secrets or SecretStore()
    warn = warn or (lambda text: None)
    key = token_key(url, username)
    transport = _transport(url, key, secrets, None, warn)
    try:
        transport.login(username, password)
        ops = RemoteOperations(transport, profile=profile)
        _remember_who(secrets, key, ops.actor)
    except BaseException:
        transport.close()
        raise
    return ops


def open_api(url: str, username: str, *, secrets: SecretStore | None = None, password: str | None = None,
             prompt: Callable[[str], str | None] | None = None, profile: str = "",
             warn: Callable[[str], None] | None = None) -> RemoteOperations:
    """The operations of ``username`` on the server at ``url`` from the stored session (refreshed when
    its access token expired); signs in again with ``password`` or by asking ``prompt`` when the session
    ended. SignInRequired when it ended and neither was given."""
    secrets = secrets or SecretStore()
    warn = warn or (lambda text: None)
    key = token_key(url, username)
    stored = secrets.get(key)
    tokens = None
    if stored:
        try:
            tokens = Tokens.from_json(json.loads(stored))
        except (ValueError, KeyError, TypeError):
            tokens = None
    if tokens is not None:
        transport = _transport(url, key, secrets, tokens, warn)
        ops = RemoteOperations(transport, profile=profile)
        try:
            _remember_who(secrets, key, ops.actor)
            return ops
        except SignInExpired:
            transport.close()
        except ServerUnreachable:
            known = _who(secrets, key)
            if known is None:
                transport.close()
                raise
            ops.preset_actor(known)       # offline: work from the replica and the outbox until it is back
            return ops
        except BaseException:
            transport.close()
            raise
    if password is None and prompt is not None:
        password = prompt(f"{username} on {normalise_api_url(url)}")
    if not password:
        name = f" {profile}" if profile else ""
        raise SignInRequired(f"not signed in to the store API at {normalise_api_url(url)} as {username}: "
                             f"sign in with `backoffice profiles login{name or ' NAME'}`")
    return sign_in(url, username, password, secrets=secrets, profile=profile, warn=warn)


def sign_out(url: str, username: str, *, secrets: SecretStore | None = None) -> bool:
    """End the session on the server (when it answers) and forget its tokens; False when there was none."""
    secrets = secrets or SecretStore()
    key = token_key(url, username)
    stored = secrets.get(key)
    if not stored:
        return False
    try:
        tokens = Tokens.from_json(json.loads(stored))
    except (ValueError, KeyError, TypeError):
        secrets.delete(key)
        return True
    transport = Transport(normalise_api_url(url), tokens=tokens, retries=1)
    try:
        transport.logout()
    except Exception:  # noqa: BLE001  (the server may be gone or the session over: forget it anyway)
        pass
    finally:
        transport.close()
        secrets.delete(key)
        secrets.delete(_who_key(key))
    return True


@dataclass(frozen=True)
class ApiCheck:
    """What ``profiles test`` shows of an API profile."""

    url: str
    server_version: str
    database: str
    schema: str | None
    username: str
    role: str
    round_trip_ms: float          # median of a few authenticated requests


def check_api(ops: RemoteOperations, samples: int = 5) -> ApiCheck:
    """The server's version and state, who the session is, and the round-trip time."""
    health = ops.server_health()
    times = []
    for _ in range(max(1, samples)):
        started = time.perf_counter()
        ops.transport.request("GET", "/v1/auth/me")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    actor = ops.actor
    return ApiCheck(ops.url, str(health.get("version", "?")), str(health.get("database", "?")),
                    health.get("schema"), actor.username, actor.role.value, times[len(times) // 2])
