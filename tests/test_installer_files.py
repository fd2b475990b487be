"""The desktop bundle's recipes (installer/), checked without building anything.

The spec is executed with stand-ins for PyInstaller's build steps, so what it would hand to PyInstaller
(data files, hidden imports, exclusions, the entry script) is checked, not just its text. The Linux
install script is run against a fake unpacked tarball. The entry point is run to see that
multiprocessing's freeze_support comes before the command line is imported.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import struct
import subprocess
import sys
import types
from pathlib import Path

import pytest

import backoffice

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
SPEC = INSTALLER / "backoffice.spec"
DESKTOP = INSTALLER / "linux" / "backoffice.desktop"
ISS = INSTALLER / "windows" / "backoffice.iss"
SHELL_SCRIPTS = [INSTALLER / "build.sh", INSTALLER / "smoke.sh", INSTALLER / "ci.sh",
                 INSTALLER / "linux" / "install.sh", INSTALLER / "macos" / "build.sh"]


# -- the PyInstaller spec ------------------------------------------------------------------------------
# Libraries the stand-in Analysis "collects", and what each links against (what ldd would say).
_FAKE_LINKS = {
    "libqoffscreen.so": ["libQt6Gui.so.6", "libQt6Core.so.6"],
    "libqxcb.so": ["libQt6Gui.so.6", "libQt6Core.so.6", "libxcb-cursor.so.0"],
    "libqvnc.so": ["libQt6Network.so.6", "libQt6Gui.so.6", "libQt6Core.so.6"],
    "libqjpeg.so": ["libQt6Gui.so.6", "libQt6Core.so.6"],
    "libQt6Network.so.6": ["libQt6Core.so.6"],
    "libQt6Gui.so.6": ["libQt6Core.so.6"],
    "libQt6Core.so.6": [],
    "libxcb-cursor.so.0": [],
    "qvnc.dll": [],          # Windows names its plugins without "lib"
    "qwindows.dll": [],
}


class _Recorder:
    """Stands in for Analysis/PYZ/EXE/COLLECT/BUNDLE: keeps its arguments."""

    def __init__(self, kind: str, calls: list, libs: Path) -> None:
        self.kind, self.calls, self.libs = kind, calls, libs

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        self.calls.append((self.kind, args, kwargs))
        result = types.SimpleNamespace(args=args, kwargs=kwargs, kind=self.kind)
        if self.kind == "Analysis":
            # As PyInstaller keeps them: (destination file, source, type).
            result.datas = [(f"{dest}/{Path(src).name}", src, "DATA") for src, dest in kwargs["datas"]] + [
                ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
                ("matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf", "/x/DejaVuSans.ttf", "DATA"),
                ("matplotlib/mpl-data/fonts/ttf/STIXGeneral.ttf", "/x/STIXGeneral.ttf", "DATA"),
                ("libQt6Network.so.6", "PySide6/Qt/lib/libQt6Network.so.6", "SYMLINK"),
                ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
            ]
            result.binaries = [
                *((f"PySide6/Qt/plugins/platforms/{n}", str(self.libs / n), "BINARY")
                  for n in ("libqoffscreen.so", "libqxcb.so", "libqvnc.so")),
                ("PySide6/Qt/plugins/imageformats/libqjpeg.so", str(self.libs / "libqjpeg.so"), "BINARY"),
                *((f"PySide6/Qt/lib/{n}", str(self.libs / n), "BINARY")
                  for n in ("libQt6Network.so.6", "libQt6Gui.so.6", "libQt6Core.so.6")),
                ("libxcb-cursor.so.0", str(self.libs / "libxcb-cursor.so.0"), "BINARY"),
                *((f"PySide6/plugins/platforms/{n}", str(self.libs / n), "BINARY") for n in ("qvnc.dll", "qwindows.dll")),
            ]
            result.pure, result.scripts = [], []
        return result


def _closure(name: str) -> set[str]:
    out, todo = set(), list(_FAKE_LINKS[name])
    while todo:
        lib = todo.pop()
        if lib not in out:
            out.add(lib)
            todo.extend(_FAKE_LINKS[lib])
    return out


@pytest.fixture(scope="module")
def spec_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The spec executed with recording stand-ins; returns the calls by kind and the spec's namespace."""
    libs = tmp_path_factory.mktemp("libs")
    for name in _FAKE_LINKS:
        (libs / name).write_bytes(b"\x7fELF stand-in")
    calls: list[tuple[str, tuple, dict]] = []
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package, filter=None: [f"{package}.stand_in"]  # noqa: A002
    hooks.copy_metadata = lambda dist: [(f"/site/{dist}.dist-info", f"{dist}.dist-info")]
    bindepend = types.ModuleType("PyInstaller.depend.bindepend")
    bindepend.get_imports = lambda path: {(n, str(libs / n)) for n in _closure(Path(path).name)}  # transitive, as ldd
    depend = types.ModuleType("PyInstaller.depend")
    depend.bindepend = bindepend
    fakes = {"PyInstaller": types.ModuleType("PyInstaller"), "PyInstaller.utils": types.ModuleType("PyInstaller.utils"),
             "PyInstaller.utils.hooks": hooks, "PyInstaller.depend": depend, "PyInstaller.depend.bindepend": bindepend}
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    namespace = {"__name__": "__main__", "__file__": str(SPEC), "SPECPATH": str(INSTALLER),
                 **{kind: _Recorder(kind, calls, libs) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}}
    try:
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)  # noqa: S102
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    by_kind: dict[str, list] = {}
    for kind, args, kwargs in calls:
        by_kind.setdefault(kind, []).append((args, kwargs))
    return {"calls": by_kind, "ns": namespace}


def _analysis(spec_run: dict) -> dict:
    (args, kwargs), = spec_run["calls"]["Analysis"]
    return {"scripts": args[0], **kwargs}


def test_spec_entry_script_is_the_frozen_entry_point(spec_run: dict) -> None:
    analysis = _analysis(spec_run)
    assert [Path(s) for s in analysis["scripts"]] == [INSTALLER / "entry.py"]
    assert str(ROOT) in analysis["pathex"]


def test_spec_ships_every_migration_as_a_data_file(spec_run: dict) -> None:
    datas = {(Path(src).resolve(), Path(dest).as_posix()) for src, dest in _analysis(spec_run)["datas"]}
    migrations = ROOT / "backoffice" / "migrations"
    expected = {(f.resolve(), "backoffice/migrations/versions") for f in (migrations / "versions").glob("*.py")}
    expected |= {((migrations / "env.py").resolve(), "backoffice/migrations"),
                 ((migrations / "script.py.mako").resolve(), "backoffice/migrations")}
    assert len(expected) > 10
    assert expected <= datas


def test_spec_ships_the_resources_where_the_app_looks_for_them(spec_run: dict) -> None:
    datas = {(Path(src).resolve(), Path(dest).as_posix()) for src, dest in _analysis(spec_run)["datas"]}
    resources = ROOT / "resources"
    expected = {(resources / "backoffice.qss", "backoffice/resources"),
                (resources / "openapi.json", "backoffice/resources"),
                (resources / "__init__.py", "backoffice/resources")}
    expected |= {(f, "backoffice/resources/icons") for f in (resources / "icons").glob("*.svg")}
    expected |= {(f, "backoffice/resources/samples") for f in (resources / "samples").iterdir() if f.is_file()}
    assert {(p.resolve(), d) for p, d in expected} <= datas
    # The GUI reads them as the package backoffice.resources (ui/resources.py).
    assert 'importlib.resources.files("backoffice.resources")' in (ROOT / "backoffice/ui/resources.py").read_text()


def test_spec_hidden_imports_cover_what_is_loaded_by_name(spec_run: dict) -> None:
    hidden = set(_analysis(spec_run)["hiddenimports"])
    # What the migration files import (Alembic loads them from disk, PyInstaller never sees them).
    for f in (ROOT / "backoffice" / "migrations" / "versions").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
                assert node.module in hidden, f"{f.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert {a.name for a in node.names} <= hidden, f.name
    assert {"sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql.psycopg", "psycopg_binary.pq",
            "matplotlib.backends.backend_qtagg", "matplotlib.backends.backend_agg",
            "backoffice.stand_in", "uvicorn.stand_in",
            "keyring.backends.stand_in"} <= hidden
    assert not any(name.startswith("backoffice.migrations.versions") for name in hidden)


def test_spec_never_excludes_a_module_the_application_imports(spec_run: dict) -> None:
    excludes = set(_analysis(spec_run)["excludes"])
    imported = set()
    importers: dict[str, set[str]] = {}
    for f in (ROOT / "backoffice").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            imported.update(names)
            for name in names:
                importers.setdefault(name, set()).add(f.relative_to(ROOT).as_posix())
    clashes = {m for m in imported for x in excludes if m == x or m.startswith(x + ".")}
    # Left out on purpose (size): scikit-learn and SciPy, imported only by the classifier, which checks
    # that they are there before it imports them and otherwise refuses with a message saying why.
    optional = {m for m in clashes if m.split(".")[0] in {"sklearn", "scipy"}}
    assert {f for m in optional for f in importers[m]} <= {"backoffice/services/classifier.py"}
    classifier = (ROOT / "backoffice/services/classifier.py").read_text(encoding="utf-8")
    assert 'find_spec("sklearn")' in classifier and 'find_spec("scipy")' in classifier
    assert not clashes - optional
    qt_used = {m for m in imported if m.startswith("PySide6.")}
    assert {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg"} <= qt_used
    assert {"PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtNetwork", "PySide6.QtPdf", "tkinter"} <= excludes
    # The forecast is numpy only: SciPy, statsmodels (a test dependency) and patsy stay out of the bundle.
    assert {"scipy", "statsmodels", "patsy"} <= excludes
    assert not any(m.split(".")[0] in ("scipy", "statsmodels", "patsy") for m in imported - optional)


def test_spec_drops_translations_and_unused_qt_plugins(spec_run: dict) -> None:
    (args, _kwargs), = spec_run["calls"]["COLLECT"]
    collected = [e[0] for part in args if isinstance(part, list) for e in part]
    assert "PySide6/Qt/plugins/platforms/libqoffscreen.so" in collected   # `backoffice screenshot`
    assert "PySide6/Qt/plugins/platforms/libqxcb.so" in collected
    assert "PySide6/Qt/plugins/imageformats/libqjpeg.so" in collected    # thumbnails
    assert "PySide6/Qt/plugins/platforms/libqvnc.so" not in collected
    assert "PySide6/plugins/platforms/qvnc.dll" not in collected
    assert "PySide6/plugins/platforms/qwindows.dll" in collected
    assert not any(name.endswith(".qm") for name in collected)
    assert "matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf" in collected
    assert "matplotlib/mpl-data/fonts/ttf/STIXGeneral.ttf" not in collected
    # What only a dropped plugin linked goes too (with its link beside the executable); the rest stays.
    assert {"PySide6/Qt/lib/libQt6Gui.so.6", "libQt6Gui.so.6", "libxcb-cursor.so.0"} <= set(collected)
    if sys.platform == "linux":
        assert "PySide6/Qt/lib/libQt6Network.so.6" not in collected
        assert "libQt6Network.so.6" not in collected


def test_spec_builds_one_folder_named_backoffice(spec_run: dict) -> None:
    exes = [kwargs for _args, kwargs in spec_run["calls"]["EXE"]]
    names = {e["name"] for e in exes}
    assert "backoffice" in names
    assert all(e["exclude_binaries"] for e in exes)      # one folder, not one file
    (_args, collect), = spec_run["calls"]["COLLECT"]
    assert collect["name"] == "backoffice"
    assert spec_run["ns"]["VERSION"] == backoffice.__version__
    if sys.platform == "darwin":
        (_args, bundle), = spec_run["calls"]["BUNDLE"]
        assert bundle["info_plist"]["CFBundleShortVersionString"] == backoffice.__version__


# -- the frozen entry point ----------------------------------------------------------------------------
def _main_block(tree: ast.Module) -> list[ast.stmt]:
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            return node.body
    raise AssertionError("no `if __name__ == '__main__':` block")


def test_entry_script_calls_freeze_support_before_importing_anything_of_backoffice() -> None:
    tree = ast.parse((INSTALLER / "entry.py").read_text(encoding="utf-8"))
    top_level_imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all("backoffice" not in ast.unparse(n) for n in top_level_imports)
    body = _main_block(tree)
    assert ast.unparse(body[0]) == "multiprocessing.freeze_support()"
    assert any(isinstance(n, ast.ImportFrom) and n.module.startswith("backoffice") for n in body[1:])


def test_freeze_support_runs_before_the_command_line_is_imported(tmp_path: Path) -> None:
    """Run installer/entry.py (and ``python -m backoffice``) with freeze_support replaced by a probe that
    records whether the command line was already imported when it was called."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import multiprocessing, runpy, sys\n"
        "seen = []\n"
        "multiprocessing.freeze_support = lambda: seen.append('backoffice.cli' in sys.modules)\n"
        "sys.argv = ['backoffice', '--version']\n"
        "try:\n"
        "    if sys.argv_target.endswith('.py'):\n"
        "        runpy.run_path(sys.argv_target, run_name='__main__')\n"
        "    else:\n"
        "        runpy.run_module(sys.argv_target, run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('freeze_support calls, CLI imported at each:', seen)\n",
        encoding="utf-8",
    )
    for target in (str(INSTALLER / "entry.py"), "backoffice"):
        code = f"import sys; sys.argv_target = {target!r}; exec(open({str(probe)!r}).read())"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"version {backoffice.__version__}" in done.stdout
        calls = re.search(r"CLI imported at each: \[(.*)\]", done.stdout).group(1)
        assert calls and "True" not in calls, (target, done.stdout)


# -- Linux: .desktop file and install.sh ---------------------------------------------------------------
def test_desktop_file_has_the_required_keys() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str   # keys are case-sensitive
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Backoffice"
    assert entry["Exec"].split()[0] == "backoffice"      # the executable the spec builds
    assert entry["Icon"] == "backoffice"                   # the icon install.sh puts in the hicolor theme
    categories = entry["Categories"]
    assert categories.endswith(";")
    assert {"Office"} & set(categories.split(";"))         # a main category: the menu shows it
    assert entry.get("Terminal") == "false"
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
        assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell script")
def test_install_sh_installs_for_the_user_and_uninstalls_without_touching_data(tmp_path: Path) -> None:
    tarball = tmp_path / "backoffice-0-linux-x86_64"
    (tarball / "backoffice" / "_internal").mkdir(parents=True)
    exe = tarball / "backoffice" / "backoffice"
    exe.write_text("#!/bin/sh\necho 'backoffice, version 9.9'\n", encoding="utf-8")
    exe.chmod(0o755)
    for name in ("install.sh", "backoffice.desktop"):
        shutil.copy(INSTALLER / "linux" / name, tarball / name)
    (tarball / "backoffice.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    shutil.copy(ROOT / "resources" / "icons" / "backoffice.svg", tarball / "backoffice.svg")
    home = tmp_path / "home"
    data = home / ".local" / "share"
    (data / "backoffice").mkdir(parents=True)
    (data / "backoffice" / "backoffice.sqlite").write_text("the user's store", encoding="utf-8")
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    done = subprocess.run(["sh", str(tarball / "install.sh")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    app = data / "backoffice" / "app"
    assert (app / "backoffice").is_file() and os.access(app / "backoffice", os.X_OK)
    link = home / ".local" / "bin" / "backoffice"
    assert link.is_symlink() and Path(os.readlink(link)) == app / "backoffice"
    assert subprocess.run([str(link)], capture_output=True, text=True).stdout.strip() == "backoffice, version 9.9"
    desktop = data / "applications" / "backoffice.desktop"
    installed = configparser.ConfigParser(interpolation=None)
    installed.optionxform = str
    installed.read_string(desktop.read_text(encoding="utf-8"))
    assert installed["Desktop Entry"]["Exec"] == f'"{app}/backoffice"'   # absolute: ~/.local/bin may not be on PATH
    assert (data / "icons" / "hicolor" / "256x256" / "apps" / "backoffice.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "backoffice.svg").is_file()
    assert "9.9 installed" in done.stdout

    # Installing again (an update) replaces the program.
    exe.write_text("#!/bin/sh\necho 'backoffice, version 10.0'\n", encoding="utf-8")
    assert subprocess.run(["sh", str(tarball / "install.sh")], capture_output=True, env=env).returncode == 0
    assert subprocess.run([str(link)], capture_output=True, text=True).stdout.strip() == "backoffice, version 10.0"
    assert not list((data / "backoffice").glob("app.*"))   # no staging folders left behind

    done = subprocess.run(["sh", str(app / "install.sh"), "--uninstall"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert not app.exists() and not link.is_symlink() and not desktop.exists()
    assert (data / "backoffice" / "backoffice.sqlite").read_text(encoding="utf-8") == "the user's store"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(INSTALLER)))
def test_shell_scripts_parse(script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- Linux: slimming the built bundle ------------------------------------------------------------------
def _slim_module():  # noqa: ANN202
    sys.path.insert(0, str(INSTALLER / "linux"))
    try:
        import slim_bundle
    finally:
        sys.path.pop(0)
    return slim_bundle


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files")
def test_slim_bundle_refuses_a_library_whose_segments_strip_misaligned(tmp_path: Path) -> None:
    slim = _slim_module()
    lib = Path(os.path.realpath(sys.executable))
    assert slim.elf_loads_aligned(lib)
    data = bytearray(lib.read_bytes())
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        at = phoff + i * phentsize
        p_type, = struct.unpack_from("<I", data, at)
        p_offset, p_vaddr = struct.unpack_from("<QQ", data, at + 8)
        p_align, = struct.unpack_from("<Q", data, at + 48)
        if p_type == 1 and p_align > 1 and p_offset > 0:
            struct.pack_into("<Q", data, at + 8, p_offset + 8)   # what a misaligning strip does
            break
    else:
        pytest.skip("no PT_LOAD segment with a file offset to move")
    broken = tmp_path / "broken"
    broken.write_bytes(bytes(data))
    assert not slim.elf_loads_aligned(broken)
    (tmp_path / "text").write_text("not an ELF file", encoding="utf-8")
    assert not slim.elf_loads_aligned(tmp_path / "text")


def test_slim_bundle_keeps_the_icu_data_qt_uses() -> None:
    slim = _slim_module()

    def dropped(item: str) -> bool:
        return (item.startswith(slim.ICU_DROPPED_TREES) or item.endswith(".cnv")
                or (bool(slim.ICU_LOCALE_BUNDLE.match(item)) and item not in slim.ICU_KEPT_TOP_LEVEL))

    # Collation, normalisation, break rules, locale fallback and the package index stay.
    for kept in ("coll/de.res", "coll/root.res", "coll/ucadata.icu", "nfkc.nrm", "uts46.nrm", "brkitr/line.brk",
                 "brkitr/cjdict.dict", "root.res", "res_index.res", "pool.res", "likelySubtags.res",
                 "supplementalData.res", "cnvalias.icu"):
        assert not dropped(kept), kept
    for gone in ("lang/de.res", "region/fr.res", "curr/en.res", "unit/ja.res", "zone/de.res", "translit/el.res",
                 "rbnf/en.res", "ibm-1252_P100-2000.cnv", "de.res", "en_US_POSIX.res", "zh_Hant_TW.res"):
        assert dropped(gone), gone


# -- Windows: the Inno Setup script --------------------------------------------------------------------
def _iss() -> tuple[dict[str, str], dict[str, list[str]], str]:
    """(#define values, section -> lines, whole text) of the .iss file."""
    text = ISS.read_text(encoding="utf-8")
    defines = dict(re.findall(r'^\s*#define\s+(\w+)\s+"([^"]*)"', text, flags=re.M))
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";") or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            current = header.group(1)
            sections.setdefault(current, [])
        elif current:
            sections[current].append(line)
    return defines, sections, text


def _setup(sections: dict[str, list[str]]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in sections["Setup"] if "=" in line)


def _entries(lines: list[str]) -> list[dict[str, str]]:
    """Parameter lines such as ``Name: "x"; Filename: "y"`` as dicts."""
    return [{k.strip(): v.strip().strip('"') for k, v in (p.split(":", 1) for p in line.split("; "))}
            for line in lines]


def test_iss_version_define_is_the_application_version() -> None:
    defines, sections, _ = _iss()
    assert defines["AppVersion"] == backoffice.__version__
    setup = _setup(sections)
    assert setup["AppVersion"] == "{#AppVersion}"
    assert "{#AppVersion}" in setup["OutputBaseFilename"]


def test_iss_installs_per_user_without_admin_rights() -> None:
    _defines, sections, _ = _iss()
    setup = _setup(sections)
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["DefaultDirName"] == r"{localappdata}\Programs\Backoffice"
    assert "PrivilegesRequiredOverridesAllowed" not in setup
    # Nothing written where only an administrator may write.
    registry = _entries(sections.get("Registry", []))
    assert all(r["Root"] == "HKCU" for r in registry)


def test_iss_has_start_menu_entries_and_an_uninstaller() -> None:
    defines, sections, _ = _iss()
    setup = _setup(sections)
    assert setup["Uninstallable"] == "yes" and setup["CreateUninstallRegKey"] == "yes"
    assert setup["UninstallDisplayIcon"] == r"{app}\{#AppExeName}"
    icons = _entries(sections["Icons"])
    start_menu = [i for i in icons if i["Name"].startswith("{group}\\")]
    assert any(i["Filename"] == r"{app}\{#AppExeName}" and "Parameters" not in i for i in start_menu)
    assert any(i["Filename"] == "{uninstallexe}" for i in start_menu)
    # The Start-menu entry starts the windowed executable the spec builds on Windows.
    assert defines["AppExeName"] == "backoffice-gui.exe"
    assert 'executable("backoffice-gui", console=False)' in SPEC.read_text(encoding="utf-8")
    files = _entries(sections["Files"])
    assert files and all("recursesubdirs" in f["Flags"] for f in files)
