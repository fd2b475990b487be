"""Bulk upload, step one: which files, and which product or variant each one belongs to.

Files come as a list of paths and/or folders. Each file name is matched to a variant by SKU or to a
product by handle, through a pattern:

* ``auto`` (the default): the name without extension is a SKU or a handle, optionally followed by
  ``_2`` / ``-2`` / `` 2`` giving its place in the gallery;
* placeholders: ``{sku}_{n}.jpg``, ``{handle}-{n}``, ``{sku}`` (``{n}`` is a number, ``*`` anything;
  with no extension in the pattern any image extension is accepted);
* a regular expression with named groups ``sku``, ``handle`` and optionally ``n``: ``re:^(?P<sku>[A-Z0-9-]+)``.

:func:`plan_upload` writes nothing: it returns the review — matched, ambiguous (several products or
variants fit; the user picks one), unmatched, and rejected files (bad names, links, huge files) with
the reason for each.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import String, func, select

from backoffice.db import Database
from backoffice.models import Product, Variant
from backoffice.services.base import NotFound, ValidationError, chunked_in
from backoffice.services.image_processing import IMAGE_SUFFIXES, RenditionSettings, describe_size

_AUTO_SUFFIX = re.compile(r"^(?P<key>.+?)[ _\-.](?P<n>\d{1,3})$")
_PLACEHOLDER = re.compile(r"\{(sku|handle|n|any)\}|\*")


@dataclass(frozen=True)
class Target:
    product_id: int
    handle: str
    title: str
    variant_id: int | None = None
    sku: str | None = None

    def label(self) -> str:
        return f"{self.handle} · {self.sku}" if self.sku else self.handle


@dataclass(frozen=True)
class PlannedFile:
    """A file the ingest will add: to ``target``, at gallery place ``n`` (None: after the others)."""

    path: str
    name: str
    target: Target
    n: int | None = None
    matched_by: str = ""     # "sku", "handle" or "product"


@dataclass(frozen=True)
class AmbiguousFile:
    path: str
    name: str
    candidates: tuple[Target, ...]
    n: int | None = None


@dataclass(frozen=True)
class SkippedFile:
    path: str
    name: str
    reason: str


@dataclass
class UploadPlan:
    matched: list[PlannedFile] = field(default_factory=list)
    ambiguous: list[AmbiguousFile] = field(default_factory=list)
    unmatched: list[SkippedFile] = field(default_factory=list)
    rejected: list[SkippedFile] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"matched": len(self.matched), "ambiguous": len(self.ambiguous), "unmatched": len(self.unmatched),
                "rejected": len(self.rejected)}

    def resolve(self, path: str, target: Target) -> None:
        """The user chose ``target`` for an ambiguous or unmatched file: it moves to ``matched``."""
        for item in list(self.ambiguous):
            if item.path == path:
                self.ambiguous.remove(item)
                self.matched.append(PlannedFile(item.path, item.name, target, item.n, "choice"))
                return
        for item in list(self.unmatched):
            if item.path == path:
                self.unmatched.remove(item)
                self.matched.append(PlannedFile(item.path, item.name, target, None, "choice"))
                return
        raise NotFound(f"{path} is not waiting for a choice")


# -- files ---------------------------------------------------------------------------------------------
def check_source(path: str, settings: RenditionSettings) -> str | None:
    """Why this path cannot be uploaded, or None. The content is checked later, by the worker."""
    if ".." in Path(path).parts or ".." in re.split(r"[\\/]", path):
        return "the name contains “..”; give the file's own path"
    if os.path.islink(path):
        return "is a symbolic link; links are not followed"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if not os.path.isfile(path):
        return "is not a regular file"
    if st.st_size == 0:
        return "is empty"
    if st.st_size > settings.max_bytes:
        return f"is {describe_size(st.st_size)}, over the limit of {describe_size(settings.max_bytes)}"
    return None


def collect_files(paths: list[str | Path], settings: RenditionSettings) -> tuple[list[str], list[SkippedFile]]:
    """The files named or inside the folders named (not following links), and those refused, with why.
    Inside folders only image file names are taken; hidden files (a name starting with a dot, such as
    macOS's ``.DS_Store`` and ``._photo.jpg``) and hidden folders are skipped, each listed with its reason."""
    files: list[str] = []
    rejected: list[SkippedFile] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        if path in seen:
            return
        seen.add(path)
        reason = check_source(path, settings)
        if reason:
            rejected.append(SkippedFile(path, os.path.basename(path) or path, reason))
        else:
            files.append(path)

    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path) and not os.path.islink(path) and ".." not in Path(path).parts:
            for folder, dirs, names in os.walk(path, followlinks=False):
                for d in sorted(d for d in dirs if d.startswith(".")):
                    rejected.append(SkippedFile(os.path.join(folder, d), d, _hidden_folder_reason(os.path.join(folder, d))))
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    full = os.path.join(folder, name)
                    if name.startswith("."):
                        rejected.append(SkippedFile(full, name, _hidden_file_reason(name)))
                        continue
                    if os.path.islink(full) or os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                        add(full)
                    else:
                        rejected.append(SkippedFile(full, name, "is not an image file name; skipped"))
                for d in list(dirs):
                    if os.path.islink(os.path.join(folder, d)):
                        rejected.append(SkippedFile(os.path.join(folder, d), d, "is a link to a folder; not followed"))
        else:
            add(path)
    return files, rejected


def _hidden_file_reason(name: str) -> str:
    if name.startswith("._"):
        return "is a macOS metadata file (“._” name), not a photo; skipped"
    return "is a hidden file (its name starts with a dot); skipped"


def _hidden_folder_reason(path: str) -> str:
    count = 0
    for _folder, _dirs, names in os.walk(path, followlinks=False):
        count += len(names)
        if count > 9999:
            break
    what = ("nothing" if count == 0 else "1 file" if count == 1 else
            "more than 9,999 files" if count > 9999 else f"{count:,} files")
    return f"is a hidden folder (its name starts with a dot); skipped with what it holds ({what})"


# -- patterns ------------------------------------------------------------------------------------------
class FilenamePattern:
    """Turns a file name into candidate keys: [(kind, key, n)], most specific first."""

    def __init__(self, pattern: str | None = None) -> None:
        self.source = (pattern or "auto").strip() or "auto"
        self.regex: re.Pattern[str] | None = None
        self.with_extension = False
        if self.source == "auto":
            return
        if self.source.startswith("re:"):
            text = self.source[3:]
        else:
            self.with_extension = "." in self.source
            text, pos = "", 0
            for m in _PLACEHOLDER.finditer(self.source):
                text += re.escape(self.source[pos:m.start()])
                token = m.group(1)
                text += {"sku": r"(?P<sku>.+?)", "handle": r"(?P<handle>.+?)", "n": r"(?P<n>\d+)",
                         "any": r".*?", None: r".*?"}[token]
                pos = m.end()
            text = "^" + text + re.escape(self.source[pos:]) + "$"
        try:
            self.regex = re.compile(text, re.IGNORECASE if self.with_extension else 0)
        except re.error as exc:
            raise ValidationError([("pattern", "", f"{self.source!r} is not a valid pattern: {exc}")]) from exc
        if not {"sku", "handle"} & set(self.regex.groupindex):
            raise ValidationError([("pattern", "", f"{self.source!r} needs a {{sku}} or {{handle}} part")])

    def keys(self, name: str) -> list[tuple[str, str, int | None]]:
        stem = os.path.splitext(name)[0]
        if self.regex is None:
            out: list[tuple[str, str, int | None]] = [("sku", stem, None), ("handle", stem, None)]
            m = _AUTO_SUFFIX.match(stem)
            if m:
                n = int(m.group("n"))
                out += [("sku", m.group("key"), n), ("handle", m.group("key"), n)]
            return out
        m = (self.regex.match(name) if self.with_extension else None) or self.regex.search(stem)
        if m is None:
            return []
        groups = m.groupdict()
        n = int(groups["n"]) if groups.get("n") else None
        return [(kind, groups[kind], n) for kind in ("sku", "handle") if groups.get(kind)]


# -- matching ------------------------------------------------------------------------------------------
def plan_upload(db: Database, paths: list[str | Path], *, pattern: str | None = None,
                product_handle: str | None = None, settings: RenditionSettings | None = None,
                names_only: bool = False) -> UploadPlan:
    """The review of a bulk upload. With ``product_handle`` every file goes to that product (and to one
    of its variants when the name carries its SKU). Nothing is written.

    With ``names_only`` the paths are files already collected and checked where they are (by
    :func:`collect_files` on the caller's own disk): only their names are matched, and nothing on this
    machine's disk is looked at (a server planning for a client must never walk its own folders)."""
    settings = settings or RenditionSettings()
    matcher = FilenamePattern(pattern)
    if names_only:
        files, rejected = [os.fspath(p) for p in paths], []
    else:
        files, rejected = collect_files(paths, settings)
    plan = UploadPlan(rejected=rejected)
    keyed = [(path, os.path.basename(path), matcher.keys(os.path.basename(path))) for path in files]
    skus = sorted({k for _, _, ks in keyed for kind, k, _ in ks if kind == "sku"})
    handles = sorted({k.lower() for _, _, ks in keyed for kind, k, _ in ks if kind == "handle"})
    with db.read() as session:
        fixed: Product | None = None
        if product_handle:
            fixed = session.scalar(select(Product).where(Product.handle == product_handle.strip()))
            if fixed is None:
                raise NotFound(f"no product has the handle {product_handle!r}")
        by_sku: dict[str, list[Target]] = defaultdict(list)
        rows = []
        lowered = sorted({s.lower() for s in skus})
        cols = (Variant.id, Variant.sku, Product.id, Product.handle, Product.title)
        for clause in chunked_in(session, func.lower(Variant.sku, type_=String()), lowered):
            stmt = select(*cols).join(Product, Product.id == Variant.product_id).where(clause)
            if fixed is not None:
                stmt = stmt.where(Variant.product_id == fixed.id)
            rows += session.execute(stmt).all()
        for vid, sku, pid, handle, title in rows:
            by_sku[sku.lower()].append(Target(pid, handle, title, vid, sku))
        by_handle: dict[str, Target] = {}
        if fixed is None:
            for clause in chunked_in(session, Product.handle, handles):
                for pid, handle, title in session.execute(select(Product.id, Product.handle, Product.title).where(clause)):
                    by_handle[handle] = Target(pid, handle, title)
        fixed_target = Target(fixed.id, fixed.handle, fixed.title) if fixed is not None else None

    for path, name, keys in keyed:
        found: list[Target] = []
        n_found: int | None = None
        matched_by = ""
        for kind, key, n in keys:
            if kind == "sku":
                exact = [t for t in by_sku.get(key.lower(), []) if t.sku == key]
                hits = exact or by_sku.get(key.lower(), [])
            else:
                hit = by_handle.get(key.lower())
                hits = [hit] if hit else []
            if hits:
                found, n_found, matched_by = hits, n, kind
                break
        if len(found) == 1:
            plan.matched.append(PlannedFile(path, name, found[0], n_found, matched_by))
        elif len(found) > 1:
            plan.ambiguous.append(AmbiguousFile(path, name, tuple(sorted(found, key=lambda t: (t.handle, t.sku or ""))),
                                                n_found))
        elif fixed_target is not None:
            n = next((k[2] for k in keys if k[2] is not None), None)
            plan.matched.append(PlannedFile(path, name, fixed_target, n, "product"))
        else:
            plan.unmatched.append(SkippedFile(path, name, "no SKU or handle in the catalog matches this name"
                                              if keys else f"the name does not fit the pattern {matcher.source!r}"))
    return plan

