"""The auth area of the contract: proving who acts. A password or a refresh token buys a short-lived
access token; an access token or an API key names the acting user. What a server calls for
``/v1/auth/…`` and for every request's bearer token; nothing here takes a user name as proof."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from backoffice.operations.base import Actor, Area
from backoffice.services import auth
from backoffice.services.auth import AccountLocked, AuthenticationFailed

__all__ = ["AccountLocked", "AuthOperations", "AuthenticationFailed", "TokenPair"]


@dataclass(frozen=True)
class TokenPair:
    """The secrets of a new session, shown once: send ``access_token`` as ``Authorization: Bearer``
    until it expires, then trade ``refresh_token`` for a new pair."""

    access_token: str
    refresh_token: str
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime
    session_id: int
    token_type: str = "bearer"

    @classmethod
    def of(cls, issued: auth.IssuedTokens) -> TokenPair:
        return cls(issued.access, issued.refresh, issued.access_expires_at, issued.refresh_expires_at,
                   issued.session_id)

    def to_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "token_type": self.token_type, "access_expires_at": self.access_expires_at.isoformat(),
                "refresh_expires_at": self.refresh_expires_at.isoformat(), "session_id": self.session_id}


class AuthOperations(Area):
    """Opened without an acting user: these calls are how one is proven."""

    def login(self, username: str, password: str) -> TokenPair:
        """A new session for ``username`` when ``password`` is theirs (AuthenticationFailed otherwise:
        the same text for an unknown name; AccountLocked after repeated failures)."""
        actor = auth.login(self._db, username, password)
        return TokenPair.of(auth.issue_tokens(self._db, actor))

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for a live refresh token, which is used up."""
        return TokenPair.of(auth.refresh(self._db, refresh_token))

    def logout(self, token: str) -> None:
        """End the session of an access or refresh token (or revoke an API key presented as a bearer)."""
        auth.revoke(self._db, token)

    def verify(self, token: str) -> Actor:
        """The acting user of an access token or API key (AuthenticationFailed when it is not live)."""
        return auth.verify_access_token(self._db, token)

    def reset_password(self, reset_token: str, password: str) -> Actor:
        """Set a password with a one-time reset token."""
        return auth.reset_password(self._db, reset_token, password)
