"""The content-addressed image store: sharded paths, atomic writes, identical content once, and which
folder a profile uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backoffice.config import ProfileStore
from backoffice.services.image_store import ENV_IMAGE_STORE, ImageStore, StoreError, sha256_bytes, store_root_for


def test_files_are_stored_by_hash_in_shards_once(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    digest, new = store.put_bytes(b"pixels")
    assert new and digest == sha256_bytes(b"pixels")
    path = store.path_for(digest)
    assert path == tmp_path / "images" / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == b"pixels" and store.has(digest)
    before = path.stat().st_mtime_ns
    assert store.put_bytes(b"pixels") == (digest, False)          # same content: not written again
    assert path.stat().st_mtime_ns == before
    assert [p.name for p in (tmp_path / "images").rglob("*") if p.is_file()] == [digest]   # no temp files left


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(tmp_path / "images")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        store.put_bytes(b"half a photo")
    assert not [p for p in (tmp_path / "images").rglob("*") if p.is_file()]


def test_bad_hashes_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(StoreError, match="not a SHA-256"):
        store.path_for("../../etc/passwd")
    with pytest.raises(StoreError, match="missing from the store"):
        store.read_bytes("0" * 64)


def test_unwritable_store_is_reported_before_work_starts(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="not writable"):
        ImageStore(blocker / "images").check_writable()


def test_store_folder_per_profile_then_environment_then_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = ProfileStore()
    profiles.save("shop", "sqlite:///" + str(tmp_path / "shop.sqlite"), image_store=str(tmp_path / "nas" / "images"))
    profiles.save("other", "sqlite:///" + str(tmp_path / "other.sqlite"))
    assert profiles.get("shop").image_store == str(tmp_path / "nas" / "images")
    profiles.save("shop", "sqlite:///" + str(tmp_path / "shop.sqlite"), username="ana")   # edited: folder kept
    assert profiles.get("shop").image_store == str(tmp_path / "nas" / "images")
    assert store_root_for("shop") == tmp_path / "nas" / "images"
    assert store_root_for("shop", tmp_path / "explicit") == tmp_path / "explicit"
    default = store_root_for("other")
    assert default.name == "images" and str(tmp_path) not in str(default)        # the user data folder
    monkeypatch.setenv(ENV_IMAGE_STORE, str(tmp_path / "env-images"))
    assert store_root_for("other") == tmp_path / "env-images"
    assert store_root_for("no-such-profile") == tmp_path / "env-images"
