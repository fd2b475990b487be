"""Before the GUI starts: the system libraries of Qt's xcb plugin, and the exact command that installs them."""

from __future__ import annotations

import ctypes

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.platform_check import (
    XCB_LIBRARIES,
    check_gui_platform,
    ctypes_probe,
    install_command,
    missing_libraries,
    os_family,
    xcb_check_applies,
)

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\n'
X11 = {"DISPLAY": ":0"}


def fake_probe(*absent: str):  # type: ignore[no-untyped-def]
    return lambda lib: lib.soname not in absent


def test_missing_libraries_name_the_exact_packages_per_system() -> None:
    probe = fake_probe("libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    assert [lib.soname for lib in missing_libraries(probe)] == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    message = check_gui_platform(X11, "linux", probe, DEBIAN)
    assert message is not None and message.endswith("install with: sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert "libxcb-cursor0" not in message  # Qt's own hint names that one; it is not what is missing
    assert check_gui_platform(X11, "linux", probe, UBUNTU).endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert check_gui_platform(X11, "linux", probe, FEDORA).endswith("sudo dnf install xcb-util-wm xcb-util-keysyms")
    other = check_gui_platform(X11, "linux", probe, "ID=arch\n")
    assert "libxcb-icccm.so.4" in other and "libxcb-icccm4" in other
    assert check_gui_platform(X11, "linux", fake_probe(), DEBIAN) is None  # nothing missing


def test_packages_are_listed_once_each() -> None:
    probe = fake_probe("libxcb-randr.so.0", "libxcb-shm.so.0", "libxcb.so.1")
    assert install_command(missing_libraries(probe), "fedora") == "sudo dnf install libxcb"
    assert install_command(missing_libraries(probe), "debian") == "sudo apt-get install libxcb1 libxcb-randr0 libxcb-shm0"


@pytest.mark.parametrize(("environ", "platform", "applies"), [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "linux", False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, "linux", False),
    ({}, "linux", False),                       # no display: Qt's own message is the right one
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"DISPLAY": ":0"}, "win32", False),
])
def test_the_check_applies_only_where_qt_will_load_xcb(environ, platform, applies) -> None:  # type: ignore[no-untyped-def]
    assert xcb_check_applies(environ, platform) is applies
    everything_missing = fake_probe(*(lib.soname for lib in XCB_LIBRARIES))
    assert (check_gui_platform(environ, platform, everything_missing, DEBIAN) is not None) is applies


def test_os_family_from_os_release() -> None:
    assert os_family(DEBIAN) == os_family(UBUNTU) == "debian"
    assert os_family(FEDORA) == os_family('ID="rhel"\nID_LIKE="fedora"\n') == "fedora"
    assert os_family("ID=alpine\n") == ""


def test_the_real_probe_agrees_with_ctypes_on_this_machine() -> None:
    missing = {lib.soname for lib in missing_libraries()}
    for lib in XCB_LIBRARIES:
        try:
            ctypes.CDLL(lib.soname)
            loads = True
        except OSError:
            loads = False
        assert ctypes_probe(lib) is loads
        assert (lib.soname in missing) is not loads
    message = check_gui_platform(X11, "linux")
    assert (message is None) == (not missing)
    if missing:
        assert all(soname in message for soname in missing)


def test_backoffice_exits_with_the_install_command_instead_of_qts_abort(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("backoffice.platform_check.ctypes_probe", fake_probe("libxcb-icccm.so.4"))
    monkeypatch.setattr("backoffice.platform_check.os_family", lambda os_release=None: "debian")
    monkeypatch.setattr("backoffice.platform_check.sys.platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    started: list[dict] = []
    monkeypatch.setattr("backoffice.ui.app.run_gui", lambda **kw: started.append(kw) or 0)
    for args in ([], ["--demo"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert not started  # the GUI (and Qt's platform plugin) never started
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].endswith("install with: sudo apt-get install libxcb-icccm4")
    from backoffice.config import ProfileStore

    assert ProfileStore().list() == []  # no demo profile pointing at a demo store that was never made


def test_the_list_covers_what_the_xcb_plugin_links_against() -> None:
    """Every X11/XCB/xkb library that ``ldd`` reports for PySide6's xcb plugin and libQt6XcbQpa is probed."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    binaries = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]]
    if shutil.which("ldd") is None or not all(b.exists() for b in binaries):
        pytest.skip("no ldd or no xcb plugin in this PySide6 (not Linux)")
    needed = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
        needed |= {m.group(1) for m in re.finditer(r"^\s*(\S+\.so\.\d+)\s+=>", out, re.M)}
    x_related = {n for n in needed if re.match(r"lib(xcb|X11|xkbcommon|EGL|GL\.)", n)}
    assert x_related and x_related <= {lib.soname for lib in XCB_LIBRARIES}, x_related - {lib.soname for lib in XCB_LIBRARIES}
