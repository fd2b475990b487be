"""Images through the store API, on a real loopback server over both engines: a bulk upload of files on
the client's disk is planned (names matched on the server, the files found and checked on the client)
and ingested on the server as a job, with the same plan, gallery and file bytes as in-process; a retry
with the same operation id ingests once; a cancelled upload adds nothing; the server never looks at its
own disk for a client's plan."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from api_support import PASSWORD, RunningServer
from backoffice.db import Database
from backoffice.operations import LocalOperations, collecting, merge, wire
from backoffice.operations.images import IngestResult, UploadPlan
from backoffice.remote.operations import RemoteOperations
from backoffice.remote.session import sign_in
from backoffice.server.jobs import JobRunner
from backoffice.services import images as image_service
from backoffice.services import users
from backoffice.services.users import ensure_user
from conftest import SmallStore
from image_samples import halves_jpeg, noisy_jpeg


@pytest.fixture
def shop(api: RunningServer, db: Database) -> SmallStore:
    """merino-crew (SKUs MC-S, MC-M, MC-L) on the server's database."""
    return SmallStore(db, ensure_user(db, "admin"))


@pytest.fixture
def remote(api: RunningServer) -> Iterator[RemoteOperations]:
    ops = sign_in(api.base_url, "merchandiser", PASSWORD)
    yield ops
    ops.close()


@pytest.fixture
def local(db: Database) -> Iterator[LocalOperations]:
    """The same user in-process, on the same database and the same image store as the server."""
    ops = LocalOperations(db, users.sign_in(db, "merchandiser"), owns_database=False)
    yield ops
    ops.close()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder on the client's disk: a product shot, a variant's second image, a name that fits
    nothing, and a file that is not an image."""
    folder = tmp_path / "photos"
    folder.mkdir()
    halves_jpeg(folder / "merino-crew.jpg")
    noisy_jpeg(folder / "MC-S_2.jpg", (640, 480), seed=3)
    noisy_jpeg(folder / "no-such-sku.jpg", (64, 48), seed=4)
    (folder / "notes.txt").write_text("shoot on Tuesday\n")
    return folder


def count(db: Database, sql: str, **params: object) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar() or 0)


def test_upload_through_the_api_is_what_in_process_gives(shop: SmallStore, remote: RemoteOperations,
                                                         local: LocalOperations, photos: Path) -> None:
    pid = shop.product.entity_id
    remote.images.use_store(profile="elsewhere", folder=str(photos / "not-a-store"))   # the server's store: a no-op
    plan = remote.images.plan_upload([str(photos)])
    assert plan == local.images.plan_upload([str(photos)])      # the same review, with the client's own paths
    assert sorted((f.name, f.target.sku, f.n) for f in plan.matched) == [("MC-S_2.jpg", "MC-S", 2),
                                                                       ("merino-crew.jpg", None, None)]
    assert {f.path for f in plan.matched} == {str(photos / "MC-S_2.jpg"), str(photos / "merino-crew.jpg")}
    assert [(f.name, f.path) for f in plan.unmatched] == [("no-such-sku.jpg", str(photos / "no-such-sku.jpg"))]
    assert [(f.name, f.path) for f in plan.rejected] == [("notes.txt", str(photos / "notes.txt"))]

    reported: list[float | None] = []
    with collecting() as noted:
        result = remote.images.upload(plan.matched, progress=lambda f, _s: reported.append(f))
    assert not result.cancelled and len(result.added) == 2 and not result.failed
    assert {o.path for o in result.outcomes} == {f.path for f in plan.matched}   # the client's paths again
    assert reported and reported[-1] == 1.0
    changes = merge(noted)
    assert set(changes.ids_of("image") or ()) == {o.image_id for o in result.added}

    gallery = remote.images.gallery(pid)
    assert gallery == local.images.gallery(pid)
    assert [g.filename for g in gallery] == ["merino-crew.jpg", "MC-S_2.jpg"]     # the product shot first
    hashes = [h for g in gallery for h in (g.web_hash, g.thumb_hash)]
    missing = [uuid.uuid4().hex * 2 for _ in range(70)]       # more than one request's worth of hashes
    wanted = hashes + missing + ["not-a-hash"]
    through_api = remote.images.read_files(wanted)
    in_process = local.images.read_files(wanted)
    assert through_api == in_process
    assert all(through_api[h] for h in hashes) and through_api[hashes[0]][:2] == b"\xff\xd8"   # a JPEG's bytes
    assert all(through_api[h] is None for h in missing + ["not-a-hash"])


def test_read_files_travel_as_base64_and_round_trip() -> None:
    call = wire.call_of("images.read_files")
    assert call is not None and call.max_items == ("content_hashes", 64)
    value = {"a" * 64: bytes(range(256)), "b" * 64: None}
    body = call.encode_result(value)
    assert b"\x00" not in body and call.decode_result(body) == value
    assert call.result_from_plain(call.plain_result(value)) == value


def test_an_upload_retried_with_the_same_op_id_ingests_once(shop: SmallStore, remote: RemoteOperations,
                                                           db: Database, photos: Path) -> None:
    pid = shop.product.entity_id
    plan = remote.images.plan_upload([str(photos / "merino-crew.jpg"), str(photos / "MC-S_2.jpg")])
    first = remote.images.upload(plan.matched, op_id="upload-1")
    again = remote.images.upload(plan.matched, op_id="upload-1")
    assert [(o.status, o.image_id) for o in again.outcomes] == [(o.status, o.image_id) for o in first.outcomes]
    assert [o.status for o in first.outcomes] == ["added", "added"]
    assert count(db, "SELECT count(*) FROM product_images WHERE product_id = :p", p=pid) == 2
    assert count(db, "SELECT count(*) FROM audit_log WHERE entity = 'product_image'") == 2
    other = remote.images.upload(plan.matched, op_id="upload-2")       # another upload of the same files
    assert [o.status for o in other.outcomes] == ["duplicate", "duplicate"]
    assert count(db, "SELECT count(*) FROM product_images WHERE product_id = :p", p=pid) == 2


def test_a_cancelled_upload_adds_nothing(shop: SmallStore, remote: RemoteOperations, db: Database, photos: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pid = shop.product.entity_id
    plan = remote.images.plan_upload([str(photos / "merino-crew.jpg"), str(photos / "MC-S_2.jpg")])
    started, cancel_arrived = threading.Event(), threading.Event()
    real_cancel, real_process = JobRunner.cancel, image_service.process_one

    def cancel_job(self: JobRunner, job):  # type: ignore[no-untyped-def]
        real_cancel(self, job)
        cancel_arrived.set()

    def process_one(*args):  # type: ignore[no-untyped-def]
        started.set()                       # the ingest runs on the server: the client cancels now
        assert cancel_arrived.wait(20)      # and the first file finishes only once the server knows
        return real_process(*args)

    monkeypatch.setattr(JobRunner, "cancel", cancel_job)
    monkeypatch.setattr(image_service, "process_one", process_one)
    result = remote.images.upload(plan.matched, cancel=started.is_set, op_id="upload-cancelled")
    assert isinstance(result, IngestResult) and result.cancelled and result.outcomes == []
    assert count(db, "SELECT count(*) FROM product_images") == 0
    assert count(db, "SELECT count(*) FROM image_versions") == 0
    assert remote.images.gallery(pid) == []

    monkeypatch.setattr(image_service, "process_one", real_process)
    done = remote.images.upload(plan.matched)          # nothing half-done stands in the way
    assert [o.status for o in done.outcomes] == ["added", "added"]


def test_the_server_never_looks_at_its_own_disk_for_a_clients_plan(shop: SmallStore, api: RunningServer,
                                                                  photos: Path) -> None:
    """A plan sent straight to the server with a folder's path (the server's own disk, here the same
    machine): only the name is matched, the folder is not walked."""
    with api.as_user("merchandiser") as client:
        answer = client.post("/v1/operations/images.plan_upload", json={"paths": [str(photos)]})
        assert answer.status_code == 200, answer.text
        plan = wire.call_of("images.plan_upload").decode_result(answer.content)   # type: ignore[union-attr]
        assert isinstance(plan, UploadPlan)
        assert plan.matched == [] and plan.rejected == [] and [f.path for f in plan.unmatched] == [str(photos)]
        forced = client.post("/v1/operations/images.plan_upload", json={"paths": [str(photos)], "names_only": False})
        assert forced.status_code == 422                                 # not the client's to choose


def test_upload_refuses_files_that_do_not_match_the_arguments(shop: SmallStore, api: RunningServer,
                                                              remote: RemoteOperations, photos: Path) -> None:
    plan = remote.images.plan_upload([str(photos / "merino-crew.jpg")])
    item = wire.call_of("images.upload").encode_arguments({"files": plan.matched})   # type: ignore[union-attr]
    with api.as_user("merchandiser") as client:
        data = (photos / "merino-crew.jpg").read_bytes()
        no_file = client.post("/v1/operations/images.upload", headers={"Idempotency-Key": uuid.uuid4().hex},
                              data={"arguments": item.decode()}, files=[])
        assert no_file.status_code == 422
        unnamed = client.post("/v1/operations/images.upload", headers={"Idempotency-Key": uuid.uuid4().hex},
                              data={"arguments": item.decode().replace(str(photos / "merino-crew.jpg"), "0")},
                              files=[("files", ("a.jpg", data)), ("files", ("b.jpg", data))])
        assert unnamed.status_code == 422 and "every uploaded file" in unnamed.text
