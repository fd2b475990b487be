"""The address of a store API server, as a profile keeps it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["is_api_url", "normalise_api_url", "token_key"]

_SCHEMES = ("http", "https")


def is_api_url(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in _SCHEMES


def normalise_api_url(url: str) -> str:
    """``https://host[:port][/prefix]`` without a trailing slash, a path to ``/v1`` or credentials; a
    ValueError naming what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError(f"{url!r} is not an http(s) URL of a store API server")
    if not parts.hostname:
        raise ValueError(f"{url!r} names no server")
    if parts.username or parts.password:
        raise ValueError("put the user name in --username and never a password in the URL")
    path = re.sub(r"/+$", "", parts.path)
    path = re.sub(r"/v1$", "", path)
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme.lower()}://{netloc}{path}"


def token_key(url: str, username: str) -> str:
    """The keyring entry of a person's session on a server."""
    return f"api:{username}@{normalise_api_url(url)}"
