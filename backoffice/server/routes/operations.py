"""``/v1/operations/{area.method}``: any call of the contract, for the desktop and CLI on an API profile.

The resources of ``/v1`` are the store API for integrations; the desktop needs every operation a person
can run, with the same values it has in-process. So each call of the contract (``catalog.save_edits``,
``transfers.ship``, …; the list is :func:`backoffice.operations.wire.operations`) is also one POST here:
the body is the JSON object of its keyword arguments, the answer the JSON of its result, both read and
written from the method's own type hints (:mod:`backoffice.operations.wire`). What the call changed is in
the ``X-Changes`` header (kinds and ids; the ids are left out when there are too many to send, which
means "reload all of that kind").

- The permission table decides, as for every route (403); the contract checks it again.
- A write is sent with an ``Idempotency-Key``: its operation id derives from the key, and a replay gets
  the first answer, so the client's retries after a network error never write twice.
- A call that reports progress, reads an uploaded file or writes a file runs as a job (202 and the job;
  ``multipart/form-data`` with ``arguments`` and ``file`` for an upload); the job's result is
  ``{"value": …, "changes": …}`` and its file the one the call wrote.
- A call reading several files (``images.upload``) gets them as repeated ``files`` parts, in order; each
  value's ``path`` in the arguments is the position of its file among them, and becomes the path of the
  server's copy in the job's folder. The Idempotency-Key's fingerprint covers the files' bytes (their
  hashes), so a retry with the same key and the same files replays the first job, never ingests again.
- The values the server chooses itself (:data:`backoffice.operations.wire.SERVER_CHOOSES`) are set here,
  whatever the client sent, and image settings never exceed the server's limits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import mimetypes
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from backoffice.operations import Changes, collecting, merge, wire
from backoffice.operations.permissions import Role, allowed, describe, roles_for
from backoffice.server.http import IDEMPOTENCY_HEADER, IDEMPOTENT_RESPONSES, idempotent
from backoffice.server.jobs import Job
from backoffice.server.routes.jobs import ACCEPTED, accepted, runner
from backoffice.server.security import AUTH_RESPONSES, Caller, authenticate, bearer, nul_fields

TAG = "operations"
CHANGES_HEADER = "X-Changes"
MAX_CHANGES_HEADER = 6000          # bytes of X-Changes before the ids are left out
UPLOAD_CHUNK = 1 << 20
MAX_ARGUMENTS_PART = 64 << 20      # bytes of the ``arguments`` part of a multipart call (a long list of files)

Upload = tuple[str, Any, str | None]     # (file name, the uploaded file, the client's mtime)


def changes_header(changes: Changes) -> str:
    """``changes`` as the X-Changes header: JSON, without the ids when they would not fit in a header."""
    text = json.dumps(changes.to_json(), separators=(",", ":"))
    if len(text) > MAX_CHANGES_HEADER:
        text = json.dumps(Changes(changes.kinds, {}, changes.everything).to_json(), separators=(",", ":"))
    return text


def register(router: APIRouter) -> None:
    @router.post("/operations/{name}", tags=[TAG], operation_id="operations_call",
                 responses={**AUTH_RESPONSES, **ACCEPTED, **IDEMPOTENT_RESPONSES,
                            404: {"description": "No such call"},
                            422: {"description": "Invalid arguments: every problem in errors"}},
                 openapi_extra={"requestBody": {"content": {
                     "application/json": {"schema": {"type": "object", "description": "The call's keyword arguments"}},
                     "multipart/form-data": {"schema": {"type": "object", "properties": {
                         "arguments": {"type": "string"}, "file": {"type": "string", "format": "binary"},
                         "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                         "mtime": {"type": "string"}}}}}}})
    async def call(name: str, request: Request,
                   credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Response:
        """Run one call of the operations contract (``area.method``) as the caller, with the JSON of its
        keyword arguments; the answer is the JSON of its result."""
        spec = wire.call_of(name)
        if spec is None:
            raise HTTPException(404, detail=f"{name!r} is not a call of the operations contract.")
        actor = await run_in_threadpool(authenticate, request, credentials)
        if not allowed(name, actor.role):
            roles = roles_for(name) or frozenset()
            raise HTTPException(403, detail=f"{actor.username} ({actor.role.value}) may not run {name}; "
                                            f"it needs the role {describe(roles | {Role.ADMIN})}.")
        caller = Caller(actor, request.app.state.store.operations_as(actor), name)
        upload: Upload | None = None
        uploads: list[Upload] = []
        if "multipart/form-data" in request.headers.get("content-type", ""):
            form = await request.form(max_files=wire.MAX_FILES_IN + 1, max_part_size=MAX_ARGUMENTS_PART)
            body = str(form.get("arguments") or "{}").encode()
            file = form.get("file")
            if file is not None and not isinstance(file, str):
                upload = (Path(file.filename or "upload").name, file, str(form.get("mtime") or "") or None)
            uploads = [(Path(f.filename or "upload").name, f, None) for f in form.getlist("files")
                       if not isinstance(f, str)]
        else:
            body = await request.body()
        return await run_in_threadpool(_run, request, caller, spec, body, upload, uploads)


def _run(request: Request, caller: Caller, spec: wire.Call, body: bytes,
         upload: Upload | None, uploads: list[Upload] | None = None) -> Response:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise RequestValidationError([{"loc": ("body",), "msg": "not a JSON object", "type": "json_invalid"}]) from None
    if not isinstance(payload, dict):
        raise RequestValidationError([{"loc": ("body",), "msg": "must be a JSON object", "type": "dict_type"}])
    nul = nul_fields(payload)
    if nul:
        raise RequestValidationError([{"loc": ("body", *f.split(".")), "msg": "must not contain a NUL character",
                                       "type": "value_error"} for f in nul])
    try:
        arguments = spec.decode_arguments(body)
    except PydanticValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    arguments = spec.on_server(arguments)
    method = getattr(getattr(caller.ops, spec.name.split(".")[0]), spec.name.split(".")[1])
    key = request.headers.get(IDEMPOTENCY_HEADER.lower())
    if spec.is_job or spec.file_in or spec.file_out or spec.files_in:
        return _as_job(request, caller, spec, method, arguments, payload, upload, key, uploads or [])

    def run(op_id: str | None) -> Response:
        if spec.takes_op_id and op_id is not None:
            arguments["op_id"] = op_id
        with collecting() as noted:
            value = method(**arguments)
        headers = {}
        changes = merge(noted)
        if changes:
            headers[CHANGES_HEADER] = changes_header(changes)
        return Response(spec.encode_result(value), media_type="application/json", headers=headers)

    if key is None:
        return run(None)
    return idempotent(request, caller, {"call": spec.name, "arguments": payload}, run)


def _as_job(request: Request, caller: Caller, spec: wire.Call, method: Any, arguments: dict[str, Any],  # noqa: ANN401
            payload: dict[str, Any], upload: Upload | None, key: str | None, uploads: list[Upload]) -> Response:
    jobs = runner(request)
    job = jobs.create(caller.actor.user_id, spec.name)
    received: list[list[Any]] = []          # [name, size, sha256] of each uploaded file, for the fingerprint
    try:
        if spec.files_in:
            arguments[spec.files_in], received = _receive_files(job.directory, spec.files_in,
                                                                list(arguments.get(spec.files_in) or ()), uploads)
        if spec.file_in:
            if upload is None:
                raise RequestValidationError([{"loc": ("body", "file"), "msg": f"{spec.name} reads a file: send it "
                                               "as multipart/form-data field 'file'", "type": "missing"}])
            filename, file, mtime = upload
            path = job.directory / filename
            with path.open("wb") as out:
                while chunk := file.file.read(UPLOAD_CHUNK):
                    out.write(chunk)
            if mtime:   # the client's time stamp: a dry run and its apply see the same file
                os.utime(path, ns=(int(mtime), int(mtime)))
            arguments[spec.file_in] = path
        out_name = None
        if spec.file_out and (spec.file_out in arguments or spec.file_out == "path"):
            requested = arguments.get(spec.file_out)
            if requested:
                out_name = Path(str(requested)).name or "result"
                arguments[spec.file_out] = job.directory / out_name

        def work(job: Job) -> dict[str, Any]:
            call_args = dict(arguments)
            if spec.is_job:
                call_args.update(progress=job.report, cancel=job.cancelled)
            if spec.takes_op_id and "op_id" in job.kept:
                call_args["op_id"] = job.kept["op_id"]
            with collecting() as noted:
                value = method(**call_args)
            if out_name is not None:
                written = job.directory / out_name
                if written.exists():
                    media = mimetypes.guess_type(out_name)[0] or "application/octet-stream"
                    job.keep_file(written, out_name, media)
            return {"value": spec.plain_result(value), "changes": merge(noted).to_json()}

        def start(op_id: str | None) -> Response:
            if op_id is not None:
                job.kept["op_id"] = op_id
            return accepted(jobs.start(job, work))

        if key is None:
            return start(None)
        fingerprint = {"call": spec.name, "arguments": payload,
                       "file": None if upload is None else [upload[0], upload[2]]}
        if spec.files_in:
            fingerprint["files"] = received
        return idempotent(request, caller, fingerprint, start)
    finally:
        if not job.started:
            jobs.discard(job)


def _receive_files(folder: Path, parameter: str, items: list[Any], uploads: list[Upload]) -> tuple[list[Any], list[list[Any]]]:  # noqa: ANN401
    """Each uploaded file into a folder of its own under ``folder`` (two files may have the same name),
    and ``items`` with each ``path`` (the position of its file among the uploads) made that copy's path;
    with each file's [name, size, sha256]. Every item must name an uploaded file, and every file be named."""
    problems = []
    positions: list[int] = []
    for n, item in enumerate(items):
        text = str(getattr(item, "path", ""))
        if not text.isdecimal() or int(text) >= len(uploads):
            problems.append({"loc": ("body", parameter, n, "path"), "type": "value_error",
                             "msg": f"must be the position of its file among the {len(uploads)} uploaded as 'files'"})
        else:
            positions.append(int(text))
    if len(uploads) > wire.MAX_FILES_IN:
        problems.append({"loc": ("body", "files"), "type": "too_long",
                         "msg": f"{len(uploads)} files; send at most {wire.MAX_FILES_IN} in one call"})
    elif not problems and set(positions) != set(range(len(uploads))):
        problems.append({"loc": ("body", "files"), "type": "value_error",
                         "msg": "every uploaded file must be the path of at least one value"})
    if problems:
        raise RequestValidationError(problems)
    saved: list[Path] = []
    received: list[list[Any]] = []
    for n, (name, file, _mtime) in enumerate(uploads):
        (folder / str(n)).mkdir()
        path = folder / str(n) / (name if name not in ("", ".", "..") else "upload")
        digest, size = hashlib.sha256(), 0
        with path.open("wb") as out:
            while chunk := file.file.read(UPLOAD_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        saved.append(path)
        received.append([name, size, digest.hexdigest()])
    return [dataclasses.replace(item, path=str(saved[int(item.path)])) for item in items], received
