"""The operations contract over HTTP: :class:`RemoteOperations` has the areas and methods of
:class:`~backoffice.operations.LocalOperations`, each call sent to the store API server.

- Values in and out are the contract's own (dataclasses, Decimal, zoned datetimes): the server and this
  client read and write them from the same type hints (:mod:`backoffice.operations.wire`).
- A write gets an Idempotency-Key made once per call and kept for every retry of it; the server derives
  its operation id from the key, so a dropped connection and a retry never write twice. A caller that
  passes ``op_id`` (the GUI does, per click) has it used as the key.
- What a write changed comes back in ``X-Changes`` and is recorded, as in-process, so the views reload.
- A call with progress, an uploaded file or a file to write runs on the server as a job: progress is
  polled and reported, ``cancel`` cancels the job, a file the call wrote is downloaded to the path given.
- The grid's and stock views' page reads come from the profile's local replica when one is attached
  (:mod:`backoffice.sync.replica`): the same in-process code as direct mode, on a local SQLite copy.
- Images (:class:`RemoteImages`): the image files live in the server's store. A bulk upload's files are
  on this machine: they are found and checked here, their names matched on the server, and uploaded
  with the ingest, which runs on the server as a job.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backoffice.operations import Actor, Changes, ServiceError, wire
from backoffice.operations.changes import record
from backoffice.operations.permissions import Role
from backoffice.remote.errors import QueuedOffline, RemoteCancelled
from backoffice.remote.transport import Transport, problem_error

__all__ = ["REPLICA_READS", "RemoteArea", "RemoteImages", "RemoteOperations"]

OUTBOX_WAIT = 120.0       # seconds a queued write waits for a drain already running to send it
POLL_FIRST = 0.1          # seconds between job polls, growing to POLL_MAX
POLL_MAX = 1.0

# Reads a replica answers (the grid and the stock views page through them); everything else goes to
# the server.
REPLICA_READS = frozenset({
    "catalog.count", "catalog.ordered_ids", "catalog.first_page", "catalog.last_page", "catalog.page",
    "catalog.page_json", "catalog.rows_by_id", "catalog.facets",
    "stock.levels", "stock.count_levels",
    # what a scan looks up while a transfer draft is made: works offline from the replica
    "transfers.find_variant", "transfers.available_at",
})


# Writes that do not need the server's answer at once: recorded in the outbox first (when one is
# attached), then sent in order; while the server is unreachable they wait there.
QUEUED_WRITES = frozenset({
    "catalog.save_edits", "transfers.create", "transfers.update_draft",
    "adjustments.start_count", "adjustments.record_counts",
})


def has_conflicts(name: str, answer: Any) -> bool:  # noqa: ANN401
    """Whether a queued write's answer (plain JSON) reports rows someone else changed meanwhile (they
    were not applied: the person merges them)."""
    return name == "catalog.save_edits" and isinstance(answer, dict) and bool(answer.get("conflicts"))


class RemoteArea:
    """One area of the contract on the server: ``area.method(...)`` sends the call."""

    def __init__(self, ops: RemoteOperations, name: str) -> None:
        self._ops, self._name = ops, name

    @property
    def actor(self) -> Actor:
        return self._ops.actor

    def close(self) -> None:
        """Nothing is held per area (the connection pool is the operations')."""

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        name = f"{self._name}.{method}"
        spec = wire.call_of(name)
        if spec is None:
            if wire.method_of(name) is None and name not in wire.NOT_EXPOSED:
                raise AttributeError(f"{name} is not an operation of the contract")

            def unavailable(*_args: Any, **_kwargs: Any) -> Any:  # noqa: ANN401
                raise ServiceError(f"{name} is not available through the store API: it works on the "
                                   "database's own machine (use a direct-database profile there)")

            return unavailable

        def call(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            return self._ops.call(name, *args, **kwargs)

        call.__name__ = method
        call.operation = name  # type: ignore[attr-defined]
        self.__dict__[method] = call
        return call


class RemoteImages(RemoteArea):
    """The images area on the server, where the image store is. Everything but what follows is sent as
    is; these calls involve the files on this machine or the store's place."""

    def use_store(self, *, profile: str = "", folder: str | None = None) -> None:
        """Nothing to choose: through the store API the image files are in the server's own store (the
        server's configuration says where), never in a folder of this machine."""

    def read_files(self, content_hashes: list[str]) -> dict[str, bytes | None]:
        """The bytes of stored files by content hash, from the server's store (base64 in the JSON
        answer), a bounded number of files per request; None for a file the store does not have."""
        wanted = list(dict.fromkeys(content_hashes))
        step = (wire.MAX_ITEMS.get("images.read_files") or ("", 64))[1]
        out: dict[str, bytes | None] = {}
        for start in range(0, len(wanted), step):
            out.update(self._ops.call("images.read_files", wanted[start:start + step]))
        return {h: out.get(h) for h in content_hashes}

    def plan_upload(self, paths: list[str], *, pattern: str | None = None, product_handle: str | None = None,
                    settings: Any = None) -> Any:  # noqa: ANN401
        """The review of a bulk upload of files on this machine. Planning opens no file (it looks at
        names, and at sizes and kinds of entries), so it is split where each part can run: the paths are
        collected and checked here (folders walked, links, empty and oversized files refused: this
        machine's disk), and only the files' names go to the server, which matches them with the
        catalog (the client holds no catalog to match against). The server sees each file as
        ``position/name``, never this machine's folders; the plan comes back with the paths given here."""
        from backoffice.operations.images import RenditionSettings, UploadPlan
        from backoffice.services.image_matching import collect_files

        files, rejected = collect_files(list(paths), settings or RenditionSettings())
        labels = [f"{n}/{os.path.basename(path) or 'file'}" for n, path in enumerate(files)]
        plan: UploadPlan = self._ops.call("images.plan_upload", labels, pattern=pattern,
                                          product_handle=product_handle, settings=settings)
        local = dict(zip(labels, files))

        def here(item: Any) -> Any:  # noqa: ANN401
            return dataclasses.replace(item, path=local.get(item.path, item.path))

        return UploadPlan([here(f) for f in plan.matched], [here(f) for f in plan.ambiguous],
                          [here(f) for f in plan.unmatched], rejected + [here(f) for f in plan.rejected])

    def upload(self, files: list[Any], *, settings: Any = None, progress: Any = None, cancel: Any = None,  # noqa: ANN401
               workers: int | None = None, op_id: str | None = None) -> Any:  # noqa: ANN401
        """Upload the reviewed files (each once, however many values name it) with the ingest, which
        runs on the server as a job: progress followed, ``cancel`` cancels it (nothing is added, as
        in-process: ``cancelled`` is set). One Idempotency-Key for the call and its retries (``op_id``
        when given), so a retry never ingests twice. The server sizes its own worker processes
        (``workers`` stays here). Each outcome names the file's path on this machine."""
        from backoffice.operations.images import IngestResult

        files = list(files)
        try:
            result: IngestResult = self._ops.call("images.upload", files, settings=settings, progress=progress,
                                                  cancel=cancel, op_id=op_id)
        except RemoteCancelled:          # cancelled before it started on the server: nothing was added
            return IngestResult(cancelled=True)
        if len(result.outcomes) == len(files):     # one outcome per file, in the files' order
            result.outcomes = [dataclasses.replace(o, path=f.path) for o, f in zip(result.outcomes, files)]
        return result


_AREA_CLASSES: dict[str, type[RemoteArea]] = {"images": RemoteImages}


class RemoteOperations:
    """The contract on a store API server, acting as the user the transport is signed in as."""

    remote = True
    owner_mode = False

    def __init__(self, transport: Transport, *, actor: Actor | None = None, profile: str = "") -> None:
        self.transport = transport
        self.profile = profile
        self._actor = actor
        self.replica_reads: Any = None          # LocalOperations over the replica, once it holds data
        self.outbox: Any = None                 # the profile's Outbox (backoffice.sync.outbox), when attached
        self._areas: dict[str, RemoteArea] = {}

    # -- who and where -------------------------------------------------------------------------------
    @property
    def actor(self) -> Actor:
        if self._actor is None:
            me = self.transport.request("GET", "/v1/auth/me").json()
            self._actor = Actor(int(me["id"]), str(me["username"]), Role(me["role"]))
        return self._actor

    def preset_actor(self, actor: Actor) -> None:
        """Who the session is, known from before (the server is out of reach: the app opens offline)."""
        self._actor = actor

    @property
    def signs_in(self) -> bool:
        return True

    @property
    def target(self) -> str:
        return f"Store API · {self.transport.base_url}"

    @property
    def url(self) -> str:
        return self.transport.base_url

    def database_login(self) -> None:
        return None

    def temporary_password_until(self) -> None:
        return None

    def has_accounts(self) -> bool:
        return True

    def verify_password(self, password: str) -> bool:
        """True when ``password`` is the signed-in user's (unlocking a locked window): the server
        trades it for a session, ended again at once."""
        from backoffice.operations.auth import AuthenticationFailed

        probe = Transport(self.transport.base_url, retries=1)
        try:
            probe.login(self.actor.username, password)
            probe.logout()
            return True
        except AuthenticationFailed:
            return False
        finally:
            probe.close()

    def server_health(self) -> dict[str, Any]:
        """``GET /health``: the server's version and its database's state."""
        return self.transport.client.get("/health").json()

    def close(self) -> None:
        if self.replica_reads is not None:
            self.replica_reads.close()
        self.transport.close()

    def __getattr__(self, name: str) -> RemoteArea:
        if name.startswith("_") or name not in wire.EXPOSED_AREAS:
            raise AttributeError(name)
        area = self._areas.get(name)
        if area is None:
            area = self._areas.setdefault(name, _AREA_CLASSES.get(name, RemoteArea)(self, name))
        return area

    # -- one call ------------------------------------------------------------------------------------
    def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        """Send ``area.method(*args, **kwargs)`` to the server (or read it from the replica)."""
        if name in REPLICA_READS and self.replica_reads is not None and not _needs_content(args, kwargs):
            area, method = name.split(".")
            return getattr(getattr(self.replica_reads, area), method)(*args, **kwargs)
        spec = wire.call_of(name)
        assert spec is not None
        values = _bind(name, args, kwargs)
        progress = values.pop("progress", None)
        cancel = values.pop("cancel", None)
        op_id = values.pop("op_id", None)
        key = op_id or (uuid.uuid4().hex if _writes(name, spec) else None)
        if name in QUEUED_WRITES and self.outbox is not None:
            return self._through_outbox(spec, values)
        if spec.is_job or spec.file_in or spec.file_out or spec.files_in:
            return self._run_job(spec, values, key, progress, cancel)
        body = spec.encode_arguments(values)
        response = self.transport.request("POST", f"/v1/operations/{name}", content=body,
                                          headers={"Content-Type": "application/json"}, idempotency_key=key)
        _record(response.headers.get("x-changes"))
        return spec.decode_result(response.content)

    def send(self, name: str, payload: dict[str, Any], idempotency_key: str) -> Any:  # noqa: ANN401
        """Send a call whose arguments are already JSON (an outbox entry) under ``idempotency_key``;
        the answer as plain JSON."""
        response = self.transport.request("POST", f"/v1/operations/{name}",
                                          content=json.dumps(payload).encode(),
                                          headers={"Content-Type": "application/json"},
                                          idempotency_key=idempotency_key)
        _record(response.headers.get("x-changes"))
        return response.json()

    def _through_outbox(self, spec: wire.Call, values: dict[str, Any]) -> Any:  # noqa: ANN401
        """Record the write in the outbox, then send what waits there, in order. The answer of this
        write when it went through; :class:`QueuedOffline` when the server is unreachable (the write
        waits, safely, and goes when the server is back); the contract's error when the server refused
        it (it is marked failed in the outbox, with the server's message)."""
        payload = json.loads(spec.encode_arguments(values))
        version = _version_read(values)
        entry = self.outbox.enqueue(spec.name, payload, version_read=version, label=_label(spec.name, values))
        deadline = time.monotonic() + OUTBOX_WAIT
        while True:
            report = self.drain()
            mine = next((e for e in self.outbox.entries(("done", "failed", "conflict")) if e.id == entry.id), None)
            if mine is not None:
                break
            if report.unreachable or report.error or time.monotonic() > deadline:
                raise QueuedOffline(f"the store API is not reachable: your change is kept and will be sent when "
                                    f"it is back ({self.outbox.pending_count()} waiting)")
            time.sleep(0.05)     # another drain (the app's periodic sync) is sending: it sends this one too
        if mine.status == "failed":
            raise ServiceError(mine.last_error or "the server refused the change")
        return spec.result_from_plain(mine.result)

    def drain(self, stop: Callable[[], bool] | None = None) -> Any:  # noqa: ANN401
        """Send what waits in the outbox, in order (the DrainReport); nothing without an outbox."""
        if self.outbox is None:
            return None
        return self.outbox.drain(self._send_entry,
                                 is_conflict=lambda answer: has_conflicts("catalog.save_edits", answer), stop=stop)

    def _send_entry(self, name: str, payload: dict[str, Any], idempotency_key: str) -> Any:  # noqa: ANN401
        """An outbox entry to the server. Edits of a row made one after another while offline each
        carry the version the person read; where an earlier entry of this outbox wrote the row since
        (and nobody else did), the later one is sent against the version that entry produced, so one's
        own queued edits never conflict with each other."""
        if name == "catalog.save_edits":
            payload = rebased(payload, self.outbox.entries(("done",)))
        return self.send(name, payload, idempotency_key)

    def _run_job(self, spec: wire.Call, values: dict[str, Any], key: str | None,
                 progress: Callable[[float | None, str | None], None] | None,
                 cancel: Callable[[], bool] | None) -> Any:  # noqa: ANN401
        local_out = values.get(spec.file_out) if spec.file_out else None
        if spec.file_out and local_out:
            values[spec.file_out] = Path(str(local_out)).name
        local_in = values.pop(spec.file_in, None) if spec.file_in else None
        uploads: list[Path] = []
        if spec.files_in:
            values[spec.files_in], uploads = _files_to_upload(list(values.get(spec.files_in) or ()))
        body = spec.encode_arguments(values)
        path = f"/v1/operations/{spec.name}"
        if uploads:
            response = self.transport.request(
                "POST", path, idempotency_key=key, data={"arguments": body.decode()},
                files=[("files", (source.name, _FileWhileSent(source))) for source in uploads])
        elif local_in is not None:
            source = Path(str(local_in))
            try:
                handle = source.open("rb")
                mtime = str(source.stat().st_mtime_ns)
            except OSError as exc:
                raise ServiceError(f"cannot read {source}: {exc.strerror or exc}") from None
            with handle:
                response = self.transport.request(
                    "POST", path, idempotency_key=key,
                    data={"arguments": body.decode(), "mtime": mtime}, files={"file": (source.name, handle)})
        else:
            response = self.transport.request("POST", path, content=body, idempotency_key=key,
                                              headers={"Content-Type": "application/json"})
        job = response.json()
        job = self._follow(job, progress, cancel)
        result = job.get("result") or {}
        if result.get("changes"):
            record(Changes.from_json(result["changes"]))
        value = spec.result_from_plain(result.get("value"))
        if spec.file_out and local_out and job.get("has_file"):
            self._download(job["id"], Path(str(local_out)))
            value = _with_local_path(value, Path(str(local_out)))
        return value

    def _follow(self, job: dict[str, Any], progress: Callable[[float | None, str | None], None] | None,
                cancel: Callable[[], bool] | None) -> dict[str, Any]:
        delay = POLL_FIRST
        cancelled = False
        while job.get("state") not in ("succeeded", "failed", "cancelled"):
            if progress is not None:
                progress(job.get("progress"), job.get("status"))
            if cancel is not None and not cancelled and cancel():
                self.transport.request("DELETE", f"/v1/jobs/{job['id']}")
                cancelled = True
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)
            job = self.transport.request("GET", f"/v1/jobs/{job['id']}").json()
        if job["state"] == "failed":
            error = job.get("error") or {}
            raise problem_error(int(error.get("status") or 500), error)
        if job["state"] == "cancelled":
            raise RemoteCancelled("cancelled")
        if progress is not None:
            progress(1.0, job.get("status"))
        return job

    def _download(self, job_id: str, target: Path) -> None:
        """The job's file to ``target``, written beside it first and renamed (never half a file)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, self.transport.client.stream(
                    "GET", f"/v1/jobs/{job_id}/result",
                    headers={"Authorization": f"Bearer {self.transport._access()}"}) as response:  # noqa: SLF001
                if response.status_code != 200:
                    response.read()
                    raise problem_error(response.status_code, _json_or_empty(response))
                for chunk in response.iter_bytes():
                    out.write(chunk)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(temp, 0o666 & ~mask)      # as a file the app writes itself (mkstemp's are private)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _files_to_upload(items: list[Any]) -> tuple[list[Any], list[Path]]:  # noqa: ANN401
    """``items`` with each ``path`` replaced by the position of its file among the files to upload (each
    file once), and those files. Each must be a readable regular file (checked before anything is sent)."""
    if len(items) > wire.MAX_FILES_IN:
        raise ServiceError(f"{len(items):,} files in one upload; upload at most {wire.MAX_FILES_IN:,} at once")
    position: dict[str, int] = {}
    for item in items:
        position.setdefault(str(item.path), len(position))
    sources = [Path(p) for p in position]
    for source in sources:
        try:
            if not source.is_file():
                raise ServiceError(f"cannot upload {source}: it is not a file (any more)")
            with source.open("rb"):
                pass
        except OSError as exc:
            raise ServiceError(f"cannot read {source}: {exc.strerror or exc}") from None
    return [dataclasses.replace(item, path=str(position[str(item.path)])) for item in items], sources


class _FileWhileSent:
    """A file opened only while its bytes are sent, then closed: a bulk upload may hold more files than
    a process may keep open at once. Seekable to its start (a retry sends it again) and to its end (the
    request's length is known up front)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        if self._handle is None:
            self._handle = self.path.open("rb")
            self._handle.seek(self._position)
        data = self._handle.read(size)
        if not data:
            self.close()
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END:
            self.close()
            self._position = self.path.stat().st_size + offset
        elif self._handle is not None:
            self._position = self._handle.seek(offset, whence)
        else:
            self._position = offset if whence == os.SEEK_SET else self._position + offset
        return self._position

    def tell(self) -> int:
        return self._handle.tell() if self._handle is not None else self._position

    def close(self) -> None:
        if self._handle is not None:
            self._position = self._handle.tell()
            self._handle.close()
            self._handle = None


def rebased(payload: dict[str, Any], done: list[Any]) -> dict[str, Any]:  # noqa: ANN401
    """``payload`` of a queued ``catalog.save_edits`` with each row's expected version moved past the
    versions that the outbox's own earlier, applied edits produced (``done``: its done entries, oldest
    first). Deterministic from the done entries, so every retry sends the same request."""
    produced: dict[tuple[str, int, int], int] = {}     # (entity, id, version it expected) -> version after
    for entry in done:
        if entry.operation != "catalog.save_edits" or not isinstance(entry.result, dict):
            continue
        after = {(v["entity"], int(v["id"])): int(v["version"]) for v in entry.result.get("versions", ())}
        for row in (entry.payload or {}).get("rows", ()):
            key = (row["entity"], int(row["entity_id"]))
            if key in after:
                produced[(key[0], key[1], _chained(produced, key, int(row["expected_version"])))] = after[key]
    if not produced:
        return payload
    rows = []
    for row in payload.get("rows", ()):
        version = _chained(produced, (row["entity"], int(row["entity_id"])), int(row["expected_version"]))
        rows.append({**row, "expected_version": version})
    return {**payload, "rows": rows}


def _chained(produced: dict[tuple[str, int, int], int], key: tuple[str, int], version: int) -> int:
    seen = 0
    while (key[0], key[1], version) in produced and seen < 10_000:
        version = produced[(key[0], key[1], version)]
        seen += 1
    return version


def _version_read(values: dict[str, Any]) -> int | None:
    version = values.get("expected_version")
    if isinstance(version, int):
        return version
    rows = values.get("rows")
    if isinstance(rows, list) and len(rows) == 1 and hasattr(rows[0], "expected_version"):
        return int(rows[0].expected_version)
    return None


def _label(name: str, values: dict[str, Any]) -> str:
    """A short line for the pending list."""
    if name == "catalog.save_edits":
        rows = values.get("rows") or []
        return str(values.get("description") or f"Edits of {len(rows)} row{'s' if len(rows) != 1 else ''}")
    if name == "transfers.create":
        return f"New transfer ({len(values.get('lines') or ())} lines)"
    if name == "transfers.update_draft":
        return f"Transfer #{values.get('transfer_id')}: draft changed"
    if name == "adjustments.start_count":
        return f"Count started at location #{values.get('location_id')}"
    if name == "adjustments.record_counts":
        return f"Count #{values.get('count_id')}: {len(values.get('counted') or {})} counted"
    return name


def _json_or_empty(response: Any) -> dict[str, Any]:  # noqa: ANN401
    try:
        value = response.json()
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def _with_local_path(value: Any, local: Path) -> Any:  # noqa: ANN401
    """The answer of a call that wrote a file, naming the caller's copy instead of the server's."""
    if isinstance(value, Path):
        return local
    if isinstance(value, str):
        return str(local)
    if dataclasses.is_dataclass(value) and any(f.name == "path" for f in dataclasses.fields(value)):
        return dataclasses.replace(value, path=local)
    return value


def _record(header: str | None) -> None:
    if header:
        record(Changes.from_json(json.loads(header)))


def _needs_content(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """A grid read filtered on "Needs attention": the content checks need the descriptions, SEO texts and
    images the replica does not hold, so the server answers it."""
    return any(getattr(v, "needs_attention", False) is True for v in (*args, *kwargs.values()))


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    import inspect

    method = wire.method_of(name)
    signature = inspect.signature(inspect.unwrap(method))   # type: ignore[arg-type]
    bound = signature.bind(None, *args, **kwargs)
    values = dict(bound.arguments)
    values.pop(next(iter(signature.parameters)))
    return values


_READ_PREFIXES = ("get", "list", "find", "count", "page", "first_page", "last_page", "ordered_ids", "rows_by_id",
                  "facets", "preview", "choices", "history", "all_history", "levels", "availability", "schema",
                  "ping", "status", "search", "document", "describe", "changes", "cursor", "open_", "product",
                  "variant", "locations", "location_by_code", "category_choices", "needs_confirmation")


def _writes(name: str, spec: wire.Call) -> bool:
    """Whether a call may write (it gets an Idempotency-Key): every call that takes an operation id,
    and every call whose name does not say it reads."""
    if spec.takes_op_id:
        return True
    method = name.split(".", 1)[1]
    return not method.startswith(_READ_PREFIXES)
