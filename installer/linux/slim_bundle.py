"""Make a built Linux bundle smaller, after PyInstaller: ``python slim_bundle.py dist/backoffice``.

1. **Symbol tables.** Every shared library under ``_internal`` is stripped of its static symbol table
   and debug sections (``strip``; the dynamic symbols other libraries link against stay). Libraries that
   auditwheel repaired with patchelf (the ``*.libs`` folders of numpy, scipy, Pillow, psycopg) can come
   out of ``strip`` with load segments that are no longer page-aligned, which the dynamic loader refuses
   ("ELF load command address/offset not page-aligned"). So each stripped copy is checked — it must
   still be an ELF file whose PT_LOAD segments keep ``offset ≡ vaddr (mod align)`` — and replaces the
   original only then. (PyInstaller's own ``strip=True`` has no such check; the spec leaves it off.)

2. **ICU data.** Qt's ``libicudata.so.NN`` (about 30 MB) holds every locale's display names, currencies,
   units, time-zone names, transliterators and character-set converters. Qt uses ICU for collation,
   case mapping, normalisation and locale fallback, and formats numbers and dates from its own CLDR
   tables. The data package is rebuilt without the display-name trees (lang, region, curr, unit, zone),
   translit, rbnf, the legacy-codepage converters and the per-locale formatting bundles; collation,
   break rules and dictionaries, normalisation and the supplemental data stay. Tools: ``icupkg`` and
   ``genccode`` (Debian/Ubuntu: ``icu-devtools``; they read and write the data format of newer ICU
   releases too) and a C compiler. Without them this step is skipped with a note.

Prints what each step saved. Exits non-zero only on an unexpected error.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1

# ICU data items removed: trees and files Qt never reads (see the module docstring).
ICU_DROPPED_TREES = ("lang/", "region/", "curr/", "unit/", "zone/", "translit/", "rbnf/")
ICU_LOCALE_BUNDLE = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]+)*\.res$")
ICU_KEPT_TOP_LEVEL = {"root.res", "res_index.res", "pool.res"}


def mb(n: int) -> str:
    return f"{n / 1048576:.1f} MB"


# -- 1. strip ------------------------------------------------------------------------------------------
def elf_loads_aligned(path: Path) -> bool:
    """True for a 64-bit little-endian ELF file whose PT_LOAD segments the loader accepts."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if len(head) < 64 or head[:4] != ELF_MAGIC or head[4] != 2 or head[5] != 1:
            return False
        e_phoff, = struct.unpack_from("<Q", head, 0x20)
        e_phentsize, e_phnum = struct.unpack_from("<HH", head, 0x36)
        size = os.fstat(fh.fileno()).st_size
        if e_phnum == 0 or e_phoff + e_phentsize * e_phnum > size:
            return False
        fh.seek(e_phoff)
        table = fh.read(e_phentsize * e_phnum)
    for i in range(e_phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_align = struct.unpack_from(
            "<IIQQQQQQ", table, i * e_phentsize)
        if p_type != PT_LOAD:
            continue
        if p_offset + p_filesz > size:
            return False
        if p_align > 1 and (p_offset % p_align) != (p_vaddr % p_align):
            return False
    return True


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


def strip_one(path: Path, strip: str) -> tuple[int, str]:
    """Bytes saved (0: left as it was) and why."""
    before = path.stat().st_size
    fd, tmp_name = tempfile.mkstemp(prefix=".strip-", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        done = subprocess.run([strip, "-o", str(tmp), str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            return 0, f"strip failed: {done.stderr.strip()[:120]}"
        after = tmp.stat().st_size
        if after >= before:
            return 0, "already stripped"
        if not elf_loads_aligned(tmp):
            return 0, "kept unstripped: strip breaks its segment alignment (patchelf-repaired)"
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
        return before - after, "stripped"
    finally:
        tmp.unlink(missing_ok=True)


def strip_libraries(bundle: Path) -> int:
    strip = shutil.which("strip")
    if strip is None:
        print("  strip: not found (binutils): libraries left as they are")
        return 0
    files = [p for p in (bundle / "_internal").rglob("*")
             if p.is_file() and not p.is_symlink() and ".so" in p.name and is_elf(p)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda p: (p, *strip_one(p, strip)), files))
    saved = sum(n for _, n, _ in results)
    refused = [p for p, _, why in results if why.startswith("kept unstripped")]
    print(f"  strip: {sum(1 for _, n, _ in results if n)} of {len(files)} libraries stripped, {mb(saved)} saved")
    for p in refused:
        print(f"    kept unstripped (strip would misalign its segments): {p.relative_to(bundle)}")
    return saved


# -- 2. ICU data ---------------------------------------------------------------------------------------
def icu_data_symbol(lib: Path) -> tuple[str, int, int] | None:
    """(entry point such as ``icudt73``, file offset, size) of the data array the library exports."""
    nm = shutil.which("nm")
    readelf = shutil.which("readelf")
    if nm is None or readelf is None:
        return None
    out = subprocess.run([nm, "-D", "-S", "--defined-only", str(lib)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and re.fullmatch(r"icudt\d+_dat", parts[3]):
            vaddr, size = int(parts[0], 16), int(parts[1], 16)
            break
    else:
        return None
    # The file offset of that address, from the segment that maps it.
    segments = subprocess.run([readelf, "-W", "-l", str(lib)], capture_output=True, text=True).stdout
    for line in segments.splitlines():
        fields = line.split()
        if fields and fields[0] == "LOAD":
            offset, seg_vaddr, filesz = int(fields[1], 16), int(fields[2], 16), int(fields[4], 16)
            if seg_vaddr <= vaddr < seg_vaddr + filesz:
                return parts[3].removesuffix("_dat"), offset + (vaddr - seg_vaddr), size
    return None


def slim_icu(bundle: Path) -> int:
    libs = [p for p in (bundle / "_internal").rglob("libicudata.so.*") if p.is_file() and not p.is_symlink()]
    if not libs:
        print("  icu: no libicudata in the bundle")
        return 0
    tools = {t: shutil.which(t) for t in ("icupkg", "genccode", "cc")}
    if not all(tools.values()):
        missing = ", ".join(t for t, p in tools.items() if p is None)
        print(f"  icu: skipped ({missing} not found; Debian/Ubuntu: apt-get install icu-devtools gcc)")
        return 0
    saved = 0
    for lib in libs:
        found = icu_data_symbol(lib)
        if found is None:
            print(f"  icu: {lib.name}: no icudtNN_dat symbol found: left as it is")
            continue
        entry, offset, size = found
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            package = tmp / f"{entry}l.dat"     # the file name is the package name icupkg writes
            with open(lib, "rb") as src:
                src.seek(offset)
                package.write_bytes(src.read(size))
            items = subprocess.run([tools["icupkg"], "-l", str(package)], capture_output=True, text=True,
                                   check=True).stdout.split()
            dropped = [i for i in items
                       if i.startswith(ICU_DROPPED_TREES) or i.endswith(".cnv")
                       or (ICU_LOCALE_BUNDLE.match(i) and i not in ICU_KEPT_TOP_LEVEL)]
            (tmp / "dropped.txt").write_text("\n".join(dropped) + "\n", encoding="utf-8")
            (tmp / "out").mkdir()
            slim = tmp / "out" / package.name
            subprocess.run([tools["icupkg"], "-r", str(tmp / "dropped.txt"), str(package), str(slim)],
                           check=True, capture_output=True)
            subprocess.run([tools["genccode"], "-q", "-e", entry, "-a", "gcc", "-d", str(tmp), str(slim)],
                           check=True, capture_output=True)
            assembly = tmp / f"{slim.stem}_dat.S"
            new_lib = tmp / lib.name
            subprocess.run([tools["cc"], "-shared", "-nostdlib", f"-Wl,-soname,{lib.name}", "-Wl,-z,noexecstack",
                            "-o", str(new_lib), str(assembly)], check=True, capture_output=True)
            if icu_data_symbol(new_lib) is None or not elf_loads_aligned(new_lib):
                print(f"  icu: the rebuilt {lib.name} does not export {entry}_dat: left as it was")
                continue
            before = lib.stat().st_size
            shutil.copymode(lib, new_lib)
            shutil.copyfile(new_lib, lib)
            saved += before - lib.stat().st_size
            print(f"  icu: {lib.name}: {len(dropped)} of {len(items)} data items dropped, "
                  f"{mb(before)} -> {mb(lib.stat().st_size)}")
    return saved


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not (Path(argv[1]) / "_internal").is_dir():
        print("usage: slim_bundle.py BUNDLE_DIR (the folder holding the executable and _internal/)", file=sys.stderr)
        return 2
    if not sys.platform.startswith("linux"):
        print("slim_bundle.py: Linux bundles only", file=sys.stderr)
        return 2
    bundle = Path(argv[1])
    print(f"Slimming {bundle}")
    saved = strip_libraries(bundle)
    if os.environ.get("BACKOFFICE_SLIM_ICU", "1") != "0":
        saved += slim_icu(bundle)
    else:
        print("  icu: skipped (BACKOFFICE_SLIM_ICU=0)")
    print(f"  saved {mb(saved)} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
