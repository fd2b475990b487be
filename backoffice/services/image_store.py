"""The content-addressed image store: files named by the SHA-256 of their bytes, in a folder.

``<root>/ab/cd/abcd…`` (two levels of shards keep folders small on any file system, shared network
folders included). A file is written to a temporary name inside the store and renamed into place, so
a reader never sees half a file and two writers of the same content both end with the same complete
file. Identical content is stored once: database rows refer to files by hash.

The folder is per connection profile (``Profile.image_store``); without one it is
``BACKOFFICE_IMAGE_STORE`` or ``images`` in the user's data folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

ENV_IMAGE_STORE = "BACKOFFICE_IMAGE_STORE"
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


class StoreError(OSError):
    """The image store folder cannot be used (missing, not writable, a file not found)."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_store_root() -> Path:
    from backoffice.db import data_dir

    env = os.environ.get(ENV_IMAGE_STORE)
    return Path(env).expanduser() if env else data_dir() / "images"


def store_root_for(profile_name: str = "", explicit: str | Path | None = None) -> Path:
    """The store folder: ``explicit`` (a command-line option), then the profile's, then the default."""
    if explicit:
        return Path(explicit).expanduser()
    if profile_name:
        from backoffice.config import ProfileError, ProfileStore

        try:
            folder = ProfileStore().get(profile_name).image_store
        except ProfileError:
            folder = ""
        if folder:
            return Path(folder).expanduser()
    return default_store_root()


class ImageStore:
    """Files by SHA-256 under ``root``. Cheap to create and picklable (worker processes get one)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ImageStore({str(self.root)!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (ImageStore, (str(self.root),))

    def path_for(self, content_hash: str) -> Path:
        if not _HASH_RE.match(content_hash or ""):
            raise StoreError(f"{content_hash!r} is not a SHA-256 content hash")
        return self.root / content_hash[:2] / content_hash[2:4] / content_hash

    def has(self, content_hash: str) -> bool:
        return self.path_for(content_hash).is_file()

    def read_bytes(self, content_hash: str) -> bytes:
        try:
            return self.path_for(content_hash).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"image file {content_hash[:12]}… is missing from the store at {self.root}") from exc

    def open(self, content_hash: str) -> BinaryIO:
        try:
            return self.path_for(content_hash).open("rb")
        except FileNotFoundError as exc:
            raise StoreError(f"image file {content_hash[:12]}… is missing from the store at {self.root}") from exc

    def put_bytes(self, data: bytes, content_hash: str | None = None) -> tuple[str, bool]:
        """Store ``data``; returns (its hash, True if it was new). Already stored content is not rewritten."""
        digest = content_hash or sha256_bytes(data)
        target = self.path_for(digest)
        if target.is_file():
            return digest, False
        self._write_atomically(target, data)
        return digest, True

    def _write_atomically(self, target: Path, data: bytes) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        except OSError as exc:
            raise StoreError(f"the image store at {self.root} is not writable: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)  # atomic; a concurrent writer of the same hash wrote the same bytes
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def check_writable(self) -> None:
        """Raise StoreError with a clear reason if files cannot be added (before a long ingest starts)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".probe-")
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise StoreError(f"the image store at {self.root} is not writable: {exc.strerror or exc}") from exc

