"""Before the GUI starts on Linux/X11: are the system libraries Qt's xcb platform plugin needs there?

Without them Qt aborts with "Could not load the Qt platform plugin "xcb"" and a hint that often names
the wrong package. ``backoffice`` checks first (no Qt import here) and, when something is missing,
prints the exact install command for this system and exits non-zero instead.

The list below is what ``ldd`` reports for PySide6's ``Qt/plugins/platforms/libqxcb.so`` and
``Qt/lib/libQt6XcbQpa.so.6`` outside the Qt libraries PySide6 bundles and the C runtime, each with the
Debian/Ubuntu and Fedora package that provides it.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SystemLibrary:
    soname: str     # what the plugin asks the dynamic loader for
    debian: str     # the Debian/Ubuntu package that provides it
    fedora: str     # the Fedora package that provides it

    @property
    def name(self) -> str:
        """The name ``ctypes.util.find_library`` takes: ``libxcb-icccm.so.4`` -> ``xcb-icccm``."""
        return self.soname.removeprefix("lib").split(".so")[0]


XCB_LIBRARIES: tuple[SystemLibrary, ...] = (
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    SystemLibrary("libX11.so.6", "libx11-6", "libX11"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    SystemLibrary("libEGL.so.1", "libegl1", "libglvnd-egl"),
    SystemLibrary("libGL.so.1", "libgl1", "libglvnd-glx"),
    SystemLibrary("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    SystemLibrary("libfreetype.so.6", "libfreetype6", "freetype"),
    SystemLibrary("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)

Probe = Callable[[SystemLibrary], bool]


def ctypes_probe(lib: SystemLibrary) -> bool:
    """True if the dynamic loader can load the library (by its exact soname, as the plugin will)."""
    try:
        ctypes.CDLL(lib.soname)
    except OSError:
        return False
    return True


def missing_libraries(probe: Probe | None = None,
                      libraries: Iterable[SystemLibrary] = XCB_LIBRARIES) -> list[SystemLibrary]:
    probe = probe or ctypes_probe
    return [lib for lib in libraries if not probe(lib)]


def xcb_check_applies(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """On Linux, when Qt will use its xcb plugin: QT_QPA_PLATFORM unset or xcb, and a display to open
    (DISPLAY, or WAYLAND_DISPLAY outside a Wayland session, where Qt would pick its wayland plugin)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested and requested.split(":")[0].split(";")[0] != "xcb":
        return False
    if not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return False
    if not requested and environ.get("XDG_SESSION_TYPE") == "wayland" and environ.get("WAYLAND_DISPLAY"):
        return False  # Qt chooses wayland there
    return True


def os_family(os_release: str | None = None) -> str:
    """"debian", "fedora" or "" from /etc/os-release (ID and ID_LIKE)."""
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text(encoding="utf-8")
        except OSError:
            return ""
    ids: set[str] = set()
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids.update(value.strip().strip('"').lower().split())
    if ids & {"debian", "ubuntu"}:
        return "debian"
    if ids & {"fedora", "rhel", "centos"}:
        return "fedora"
    return ""


def install_command(missing: Iterable[SystemLibrary], family: str) -> str:
    missing = list(missing)
    if family == "debian":
        return "sudo apt-get install " + " ".join(dict.fromkeys(lib.debian for lib in missing))
    if family == "fedora":
        return "sudo dnf install " + " ".join(dict.fromkeys(lib.fedora for lib in missing))
    return ("install the packages that provide " + ", ".join(lib.soname for lib in missing)
            + " (Debian/Ubuntu: " + " ".join(dict.fromkeys(lib.debian for lib in missing)) + ")")


def check_gui_platform(environ: Mapping[str, str] | None = None, platform: str | None = None,
                       probe: Probe | None = None, os_release: str | None = None) -> str | None:
    """None when the GUI can start; else the one-line error to print (missing libraries and the exact
    command that installs them here)."""
    if not xcb_check_applies(environ, platform):
        return None
    missing = missing_libraries(probe)
    if not missing:
        return None
    command = install_command(missing, os_family(os_release))
    names = ", ".join(lib.soname for lib in missing)
    return (f"the desktop application cannot start: Qt's xcb platform plugin needs {names}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install with: {command}")

