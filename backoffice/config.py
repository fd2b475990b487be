"""Connection profiles and user settings, in the user's config folder (never a password)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs
from sqlalchemy import make_url
from sqlalchemy.engine import URL

from backoffice.remote.urls import is_api_url, normalise_api_url, token_key
from backoffice.db import APP_NAME, DatabaseError, data_dir, default_url, normalise_url

ENV_DATABASE_URL = "BACKOFFICE_DATABASE_URL"
ENV_CONFIG_DIR = "BACKOFFICE_CONFIG_DIR"
KINDS = ("sqlite", "postgresql", "api")
API_KIND = "api"        # a store API server (backoffice serve): the URL is http(s)://…, the tokens in the keyring
DEMO_PROFILE = "demo"
DEMO_FILE = "demo.sqlite"


class ProfileError(Exception):
    pass


def config_dir() -> Path:
    override = os.environ.get(ENV_CONFIG_DIR)
    path = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    url: str  # without password
    username: str = ""  # the Backoffice user to act as; empty = the OS login name
    image_store: str = ""  # folder of the image store (local or shared); empty = in the user data folder

    def secret_key(self) -> str:
        if self.kind == API_KIND:
            return token_key(self.url, self.username)
        return secret_key_for(make_url(self.url))

    @property
    def is_api(self) -> bool:
        return self.kind == API_KIND


def secret_key_for(url: str | URL) -> str:
    """The keyring entry name for a server login: scheme, user, host, port and database, no password."""
    u = normalise_url(url)
    return f"{u.get_backend_name()}://{u.username or ''}@{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"


def split_password(url: str) -> tuple[str, str | None]:
    """(URL without password, the password it carried or None)."""
    u = normalise_url(url)
    password = u.password
    if password is not None:
        # URL.set(password=None) means "leave it"; build the URL again without one.
        u = URL.create(u.drivername, username=u.username, host=u.host, port=u.port, database=u.database,
                       query=u.query)
    return u.render_as_string(hide_password=False), (str(password) if password is not None else None)


class ProfileStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or (config_dir() / "profiles.json")

    def _load(self) -> dict:
        if not self.path.exists():
            return {"default": None, "profiles": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProfileError(f"{self.path} is not readable ({exc}); fix or delete it") from exc
        data.setdefault("profiles", {})
        data.setdefault("default", None)
        return data

    def _save(self, data: dict) -> None:
        # Write-then-rename: a full disk or a crash never leaves a half-written profiles file.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".profiles-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def list(self) -> list[Profile]:
        return [Profile(**p) for _, p in sorted(self._load()["profiles"].items())]

    def get(self, name: str) -> Profile:
        data = self._load()["profiles"].get(name)
        if data is None:
            known = ", ".join(sorted(self._load()["profiles"])) or "none"
            raise ProfileError(f"unknown profile {name!r} (known: {known})")
        return Profile(**data)

    def default(self) -> Profile | None:
        data = self._load()
        name = data.get("default")
        return Profile(**data["profiles"][name]) if name in data["profiles"] else None

    def save(self, name: str, url: str, *, username: str = "", make_default: bool = False,
             image_store: str | None = None) -> tuple[Profile, str | None]:
        """Save a profile. A password inside ``url`` is removed and returned for the keyring."""
        name = name.strip()
        if not name:
            raise ProfileError("a profile needs a name")

        if is_api_url(url):
            if not username.strip():
                raise ProfileError("a store API profile needs --username (the person who signs in)")
            try:
                clean = normalise_api_url(url)
            except ValueError as exc:
                raise ProfileError(str(exc)) from exc
            data = self._load()
            profile = Profile(name=name, kind=API_KIND, url=clean, username=username.strip())
            data["profiles"][name] = asdict(profile)
            if make_default or data.get("default") is None:
                data["default"] = name
            self._save(data)
            return profile, None
        try:
            clean, password = split_password(url)
        except DatabaseError as exc:
            raise ProfileError(str(exc)) from exc
        kind = normalise_url(clean).get_backend_name()
        data = self._load()
        if image_store is None:  # not given: keep the folder the profile had
            image_store = data["profiles"].get(name, {}).get("image_store", "")
        profile = Profile(name=name, kind=kind, url=clean, username=username.strip(), image_store=image_store.strip())
        data["profiles"][name] = asdict(profile)
        if make_default or data.get("default") is None:
            data["default"] = name
        self._save(data)
        return profile, password

    def delete(self, name: str) -> None:
        data = self._load()
        if name not in data["profiles"]:
            raise ProfileError(f"unknown profile {name!r}")
        del data["profiles"][name]
        if data.get("default") == name:
            data["default"] = next(iter(sorted(data["profiles"])), None)
        self._save(data)

    def set_default(self, name: str) -> None:
        data = self._load()
        if name not in data["profiles"]:
            raise ProfileError(f"unknown profile {name!r}")
        data["default"] = name
        self._save(data)


def resolve_target(db_url: str | None, profile_name: str | None, store: ProfileStore | None = None) -> tuple[str, Profile | None]:
    """Which database to open: --db, then --profile, then BACKOFFICE_DATABASE_URL, then the default
    profile, then the embedded SQLite file."""
    if db_url:
        return db_url, None
    store = store or ProfileStore()
    if profile_name:
        p = store.get(profile_name)
        return p.url, p
    env = os.environ.get(ENV_DATABASE_URL)
    if env:
        return env, None
    p = store.default()
    if p is not None:
        return p.url, p
    return default_url(), None


# -- the demo store ---------------------------------------------------------------------------------------
def demo_url() -> str:
    """The demo store's SQLite file, in the user's data folder."""
    return f"sqlite:///{data_dir() / DEMO_FILE}"


def ensure_demo_profile(store: ProfileStore | None = None) -> Profile:
    """The "demo" profile (kind sqlite, the demo file), saved if missing. It becomes the default only
    when no other default exists, so after ``backoffice --demo`` a plain ``backoffice stock levels``
    opens the demo store, and a store someone set up is never pushed aside."""
    store = store or ProfileStore()
    url = demo_url()
    try:
        existing = store.get(DEMO_PROFILE)
    except ProfileError:
        existing = None
    if existing is not None:
        if store.default() is None:
            store.set_default(DEMO_PROFILE)
        return existing
    profile, _ = store.save(DEMO_PROFILE, url)  # save() makes it the default when there is none
    return profile


def where_is_the_demo(store: ProfileStore | None = None) -> str:
    """One phrase saying where the demo store is (or how to make one), for messages."""
    store = store or ProfileStore()
    try:
        profile = store.get(DEMO_PROFILE)
    except ProfileError:
        profile = None
    if profile is not None:
        return f"the demo store is profile {DEMO_PROFILE!r} ({profile.url}): add --profile {DEMO_PROFILE}"
    if (data_dir() / DEMO_FILE).exists():
        return f"the demo store is at {demo_url()}: add --db {demo_url()}"
    return "no demo store yet: `backoffice --demo` creates one"
