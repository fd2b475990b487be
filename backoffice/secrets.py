"""The one small wrapper over the OS keyring. Passwords live there and nowhere else.

If no usable keyring exists (a headless Linux without a Secret Service, a locked-down machine), the
password is asked for once per session and kept in memory only. Insecure backends (keyring's "fail" and
"null" ones, keyrings.alt's plain-text and unencrypted files) count as no keyring: a password is never
written to disk in clear.
"""

from __future__ import annotations

from collections.abc import Callable

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

SERVICE = "backoffice"

_INSECURE_MODULES = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt.file")


class KeyringUnavailable(Exception):
    pass


class PasswordRequired(Exception):
    """No stored password and nobody to ask (a non-interactive command)."""


def _usable(backend: KeyringBackend) -> bool:
    module = type(backend).__module__
    if any(module.startswith(m) for m in _INSECURE_MODULES):
        return False
    try:
        return backend.priority > 0  # type: ignore[operator]
    except Exception:
        return False


class SecretStore:
    """Passwords by key (e.g. ``postgresql://staff@db.shop.lan:5432/shop``) in the keyring, with an
    in-memory fallback for this process only."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._backend = backend
        self._session_cache: dict[str, str] = {}

    @property
    def backend(self) -> KeyringBackend:
        return self._backend or keyring.get_keyring()

    def keyring_available(self) -> bool:
        return _usable(self.backend)

    def describe(self) -> str:
        b = self.backend
        return f"{type(b).__module__}.{type(b).__name__}" if self.keyring_available() else "no usable keyring"

    def get(self, key: str) -> str | None:
        if key in self._session_cache:
            return self._session_cache[key]
        if not self.keyring_available():
            return None
        try:
            return self.backend.get_password(SERVICE, key)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(f"the keyring could not be read: {exc}") from exc

    def set(self, key: str, password: str) -> None:
        """Store in the keyring; raises KeyringUnavailable rather than ever writing plain text."""
        if not self.keyring_available():
            raise KeyringUnavailable(
                "no secure keyring is available on this system; the password will be asked for each session"
            )
        try:
            self.backend.set_password(SERVICE, key, password)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(f"the keyring refused the password: {exc}") from exc

    def remember_for_session(self, key: str, password: str) -> None:
        self._session_cache[key] = password

    def delete(self, key: str) -> None:
        self._session_cache.pop(key, None)
        if not self.keyring_available():
            return
        try:
            self.backend.delete_password(SERVICE, key)
        except keyring.errors.PasswordDeleteError:
            pass

    def resolve(self, key: str, prompt: Callable[[str], str | None] | None) -> str | None:
        """The password for ``key``: from this session, the keyring, or by asking. Returns None when no
        password is stored and nobody can be asked (servers with trust or peer authentication need none)."""
        found = self.get(key)
        if found is not None:
            return found
        if prompt is None:
            return None
        answer = prompt(key)
        if answer is None:
            raise PasswordRequired(f"a password is needed for {key}")
        self.remember_for_session(key, answer)
        return answer
