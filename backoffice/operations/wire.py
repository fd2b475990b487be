"""The contract's calls as JSON, for its implementation over HTTP.

Every public method of an area is one call, named ``area.method``. Its keyword arguments travel as one
JSON object and its answer as one JSON value, both made and read by pydantic from the method's own type
hints (dataclasses, Decimal as exact text, zoned datetimes, tuples, enums, unions), so the server and the
client agree on every value without a second description of the contract that could drift from it.

What does not travel as JSON is declared here, per call:
- ``progress`` and ``cancel`` (callbacks): such a call runs on the server as a job, which the client
  follows (progress) and cancels;
- files the call reads (:data:`FILE_IN`, uploaded with the call) and writes (:data:`FILE_OUT`, written
  on the server into the job's folder and downloaded to the path the caller named);
- a list of values each naming a file the call reads in its ``path`` (:data:`FILES_IN`: the images of a
  bulk upload): the files are uploaded with the call, in one request, and each value's ``path`` travels
  as the position of its file among them (the server puts its own copy's path there);
- parameters the server chooses itself (:data:`SERVER_CHOOSES`): what the server's own disk and
  processes are used for is never the caller's to say;
- ``op_id``: the client sends an Idempotency-Key instead, from which the server derives the operation id,
  so a retry of the same call writes once.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

__all__ = ["CALLBACKS", "EXPOSED_AREAS", "FILES_IN", "FILE_IN", "FILE_OUT", "MAX_FILES_IN", "NOT_EXPOSED",
           "SERVER_CHOOSES", "Call", "call_of", "operations"]

CALLBACKS = ("progress", "cancel")
# The areas a client reaches through this generic call; the others have routes of their own (signing
# in, idempotency keys and jobs are the server's machinery, not things a person does).
EXPOSED_AREAS = ("catalog", "bulk", "changesets", "importexport", "variants", "images", "stock", "transfers",
                 "adjustments", "alerts", "suppliers", "replenishment", "purchase_orders", "reports", "audit",
                 "users", "settings", "admin", "feeds", "store", "orders", "returns", "customers", "connectors",
                 "schedule", "bundles", "product_templates", "events", "content", "classifier")
# Calls that only make sense next to the database or on the caller's own disk.
NOT_EXPOSED = frozenset({
    "admin.generate_demo", "admin.upgrade",       # the schema owner's work, on the database's machine
    "admin.upgrade_sql", "admin.backup", "admin.verify_backup", "admin.restore",
    "images.use_store",     # which folder holds the image files: the server keeps its own, a client has none
    "catalog.close",
})
FILE_IN: dict[str, str] = {            # call -> the parameter naming a file the call reads
    "importexport.preview_file": "path", "importexport.check": "path", "importexport.apply": "path",
    "importexport.write_error_report": "path",
}
FILES_IN: dict[str, str] = {           # call -> the parameter listing values whose ``path`` names a file it reads
    "images.upload": "files",
}
MAX_FILES_IN = 10_000                  # files of one such call (one request, one transaction)
# Parameters a client does not send: the server runs the call with these values (``...``: the method's
# default). A plan for a client matches names only (the server never walks its own folders for someone
# else); how many processes optimise images is the server's to size.
SERVER_CHOOSES: dict[str, dict[str, Any]] = {
    "images.plan_upload": {"names_only": True},
    "images.upload": {"workers": ...},
}
# Lists an answer holds one value per item of: at most this many items per call (the client splits).
MAX_ITEMS: dict[str, tuple[str, int]] = {
    "images.read_files": ("content_hashes", 64),     # files travel in the JSON answer, base64
}
FILE_OUT: dict[str, str] = {           # call -> the parameter naming the file the call writes
    "importexport.export": "path", "reports.export": "path", "importexport.write_error_report": "out_path",
    "transfers.write_document": "path", "purchase_orders.write_document": "path",
    "importexport.apply": "error_report", "customers.export": "path", "content.export_report": "path",
}

_CONFIG = ConfigDict(arbitrary_types_allowed=True, ser_json_bytes="base64", val_json_bytes="base64")
_ARGUMENTS = ConfigDict(_CONFIG, extra="forbid")     # a misspelt argument is an error, never ignored


@dataclass(frozen=True)
class Call:
    """How one call of the contract travels."""

    name: str                              # "area.method"
    parameters: tuple[str, ...]            # the JSON ones, in order
    arguments: type[BaseModel]             # their model (validated on the server)
    result: TypeAdapter[Any]               # the answer's adapter
    takes_op_id: bool
    is_job: bool                           # takes progress/cancel: runs as a job on the server
    file_in: str | None
    file_out: str | None
    returns_array: bool                    # array('q') of ints, sent as a list
    files_in: str | None = None            # a list parameter whose values' ``path`` name uploaded files
    fixed: tuple[tuple[str, Any], ...] = ()   # the values the server chooses (SERVER_CHOOSES)
    max_items: tuple[str, int] | None = None  # (parameter, limit): the most items one call may send

    def on_server(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments a server runs the call with: the client's, with the values the server
        chooses, and with no limit above the server's own (image settings: file size and pixels; a
        caller may ask for less, never for more)."""
        out = dict(arguments)
        out.update(self.fixed)
        for name, value in out.items():
            limited = _within_server_limits(value)
            if limited is not value:
                out[name] = limited
        return out

    def encode_arguments(self, values: dict[str, Any]) -> bytes:
        """The JSON object of the arguments a caller gave (those not given are left to the defaults)."""
        model = self.arguments.model_construct(**{k: v for k, v in values.items() if k in self.parameters})
        return model.model_dump_json(exclude_unset=True).encode()

    def decode_arguments(self, body: bytes | str) -> dict[str, Any]:
        """The keyword arguments of a call from its JSON object (ValidationError-like pydantic errors)."""
        model = self.arguments.model_validate_json(body or b"{}")
        return {name: getattr(model, name) for name in model.model_fields_set}

    def encode_result(self, value: Any) -> bytes:  # noqa: ANN401
        if self.returns_array:
            value = list(value)
        return self.result.dump_json(value)

    def decode_result(self, body: bytes | str) -> Any:  # noqa: ANN401
        value = self.result.validate_json(body)
        if self.returns_array:
            return array("q", value)
        return value

    def plain_result(self, value: Any) -> Any:  # noqa: ANN401
        """The answer as plain JSON values (a job's result)."""
        if self.returns_array:
            value = list(value)
        return self.result.dump_python(value, mode="json")

    def result_from_plain(self, value: Any) -> Any:  # noqa: ANN401
        value = self.result.validate_python(value)
        return array("q", value) if self.returns_array else value


def _travels_by_its_json(cls: type, dump: str = "to_json", load: str = "from_json") -> None:
    """Teach pydantic a class of the services whose values it cannot write or read by itself but that
    has its own JSON form (``to_json``/``from_json``): an import's baseline (packed variant versions),
    a changeset's result (its versions keyed by (entity, id))."""
    from pydantic_core import core_schema

    def validate(value: Any) -> Any:  # noqa: ANN401
        if isinstance(value, cls):
            return value
        try:
            return getattr(cls, load)(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:   # another member of a union, maybe
            raise ValueError(f"not a {cls.__name__}: {exc}") from None

    def schema(_cls: type, _source: Any, _handler: Any) -> Any:  # noqa: ANN401
        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: getattr(v, dump)()))

    cls.__get_pydantic_core_schema__ = classmethod(schema)  # type: ignore[attr-defined]


def _area_classes() -> dict[str, type]:
    import importlib

    from backoffice.operations.local import LocalOperations

    classes: dict[str, type] = {}
    for name in EXPOSED_AREAS:
        returns = vars(LocalOperations)[name].func.__annotations__["return"]   # "CatalogOperations"
        classes[name] = getattr(importlib.import_module(f"backoffice.operations.{name}"), returns)
    return classes


@functools.cache
def _classes() -> dict[str, type]:
    from backoffice.services.changesets.rows import ApplyResult
    from backoffice.services.importexport.model import Baseline

    _travels_by_its_json(Baseline)
    _travels_by_its_json(ApplyResult, "to_dict", "from_dict")
    return _area_classes()


def operations() -> list[str]:
    """Every call a client may send, ``area.method``."""
    names = []
    for area, cls in _classes().items():
        for name, member in vars(cls).items():
            if name.startswith("_") or not inspect.isfunction(member):
                continue
            if f"{area}.{name}" not in NOT_EXPOSED:
                names.append(f"{area}.{name}")
    return sorted(names)


def method_of(name: str) -> Callable[..., Any] | None:
    area, _, method = name.partition(".")
    cls = _classes().get(area)
    member = vars(cls).get(method) if cls is not None else None
    if member is None or method.startswith("_") or not inspect.isfunction(member) or name in NOT_EXPOSED:
        return None
    return member


@functools.cache
def call_of(name: str) -> Call | None:
    """How ``area.method`` travels; None when it is not a call clients may send."""
    method = method_of(name)
    if method is None:
        return None
    target = inspect.unwrap(method)
    module = inspect.getmodule(target)
    namespace = dict(vars(module)) if module is not None else {}
    namespace.setdefault("array", array)
    annotations = dict(getattr(target, "__annotations__", {}))
    returns_array = str(annotations.get("return", "")).startswith("array")
    if returns_array:
        annotations["return"] = "list[int]"
    hints: dict[str, Any] = {}
    for key, hint in annotations.items():
        hints[key] = eval(hint, namespace) if isinstance(hint, str) else hint  # noqa: S307  (our own annotations)
    signature = inspect.signature(target)
    chosen = SERVER_CHOOSES.get(name, {})
    limit = MAX_ITEMS.get(name)
    fields: dict[str, Any] = {}
    for param in list(signature.parameters.values())[1:]:
        if param.name in CALLBACKS or param.name == "op_id" or param.name in chosen:
            continue
        hint = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        if name in FILE_IN and param.name == FILE_IN[name] or name in FILE_OUT and param.name == FILE_OUT[name]:
            hint, default = (str | None), None     # the server's copy of the file: the client sends its name
        if limit is not None and param.name == limit[0]:
            hint = Annotated[hint, Field(max_length=limit[1])]
        if name in FILES_IN and param.name == FILES_IN[name]:
            hint = Annotated[hint, Field(max_length=MAX_FILES_IN)]
        fields[param.name] = (hint, default)
    model = create_model(f"{name.replace('.', '_')}_arguments", __config__=_ARGUMENTS, **fields)  # type: ignore[call-overload]
    result = TypeAdapter(hints.get("return", Any), config=_CONFIG) if not _is_dataclass_hint(hints.get("return")) \
        else TypeAdapter(hints["return"])
    return Call(name, tuple(fields), model, result, "op_id" in signature.parameters,
                any(p in signature.parameters for p in CALLBACKS), FILE_IN.get(name), FILE_OUT.get(name),
                returns_array, FILES_IN.get(name), tuple((k, v) for k, v in chosen.items() if v is not ...), limit)


def _within_server_limits(value: Any) -> Any:  # noqa: ANN401
    """Image settings no more permissive than the server's defaults (the largest file and the most
    pixels it opens: a client must not make the server decode a decompression bomb); anything else as is."""
    from backoffice.operations.images import RenditionSettings

    if not isinstance(value, RenditionSettings):
        return value
    default = RenditionSettings()
    if value.max_bytes <= default.max_bytes and value.max_pixels <= default.max_pixels:
        return value
    return dataclasses.replace(value, max_bytes=min(value.max_bytes, default.max_bytes),
                               max_pixels=min(value.max_pixels, default.max_pixels))


def _is_dataclass_hint(hint: Any) -> bool:  # noqa: ANN401
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)
