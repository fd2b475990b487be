#!/usr/bin/env bash
# Build the Linux desktop bundle of Backoffice and package it.
#
#   PYTHON=/path/to/venv/bin/python OUTDIR=dist bash installer/build.sh
#
# PYTHON (default: python3) must have Backoffice installed (`pip install .` or `pip install -e .`);
# PyInstaller is installed into it if missing. Results, in OUTDIR (default: dist):
#
#   backoffice/                                  the one-folder bundle; backoffice/backoffice is the program
#   backoffice-VERSION-linux-x86_64.tar.gz       the bundle + backoffice.desktop + icon + install.sh
#   Backoffice-VERSION-x86_64.AppImage           only when `appimagetool` is on PATH (see installer/README.md)
#
# WORKDIR (default: build/pyinstaller) holds PyInstaller's intermediate files; PyInstaller keeps its
# cache of processed libraries in ~/.cache/pyinstaller, which makes a second build faster.
# BACKOFFICE_SLIM_ICU=0 keeps Qt's full ICU data (see installer/linux/slim_bundle.py).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PYTHON=${PYTHON:-python3}
OUTDIR=${OUTDIR:-dist}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORKDIR=${WORKDIR:-$root/build/pyinstaller}
started=$(date +%s)

say() { printf '\n== %s\n' "$*"; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || [ -x "$PYTHON" ] || die "no Python at PYTHON=$PYTHON"
"$PYTHON" -c "import backoffice" 2>/dev/null \
    || die "$PYTHON cannot import backoffice: install the project into it first (pip install .)"
version=$("$PYTHON" -c "import backoffice; print(backoffice.__version__)")
arch=$(uname -m)

if ! "$PYTHON" -c "import PyInstaller, _pyinstaller_hooks_contrib" 2>/dev/null; then
    say "installing PyInstaller into $PYTHON"
    "$PYTHON" -m pip install --quiet "pyinstaller>=6.6" pyinstaller-hooks-contrib
fi

say "PyInstaller: one-folder bundle of Backoffice $version ($("$PYTHON" -m PyInstaller --version))"
rm -rf "$OUTDIR/backoffice"
t0=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$OUTDIR" --workpath "$WORKDIR" "$here/backoffice.spec"
echo "PyInstaller took $(($(date +%s) - t0)) s"
bundle="$OUTDIR/backoffice"
[ -x "$bundle/backoffice" ] || die "PyInstaller did not produce $bundle/backoffice"
unslimmed=$(du -sm "$bundle" | cut -f1)

say "slimming the bundle (strip, ICU data)"
"$PYTHON" "$here/linux/slim_bundle.py" "$bundle"
echo "bundle: ${unslimmed} MB -> $(du -sm "$bundle" | cut -f1) MB"

say "icon: backoffice.png (256 px) from resources/icons/backoffice.svg"
stage=$(mktemp -d "${TMPDIR:-/tmp}/backoffice-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
QT_QPA_PLATFORM=offscreen "$PYTHON" - "$root/resources/icons/backoffice.svg" "$stage/backoffice.png" <<'EOF'
import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

app = QGuiApplication(sys.argv[:1])
renderer = QSvgRenderer(sys.argv[1])
if not renderer.isValid():
    sys.exit(f"cannot read {sys.argv[1]}")
image = QImage(256, 256, QImage.Format.Format_ARGB32_Premultiplied)
image.fill(Qt.GlobalColor.transparent)
painter = QPainter(image)
painter.setRenderHint(QPainter.RenderHint.Antialiasing)
renderer.render(painter)
painter.end()
if not image.save(sys.argv[2], "PNG"):
    sys.exit(f"cannot write {sys.argv[2]}")
EOF
cp "$root/resources/icons/backoffice.svg" "$stage/backoffice.svg"

package="backoffice-$version-linux-$arch"
say "tarball: $package.tar.gz"
mkdir "$stage/$package"
cp -a "$bundle" "$stage/$package/backoffice"
cp "$here/linux/backoffice.desktop" "$here/linux/install.sh" "$stage/backoffice.png" "$stage/backoffice.svg" \
    "$stage/$package/"
chmod 755 "$stage/$package/install.sh"
if command -v pigz >/dev/null 2>&1; then gz="pigz"; else gz="gzip"; fi
tar -C "$stage" -cf - "$package" | $gz -6 > "$OUTDIR/$package.tar.gz"
echo "$OUTDIR/$package.tar.gz: $(du -m "$OUTDIR/$package.tar.gz" | cut -f1) MB"

if command -v appimagetool >/dev/null 2>&1; then
    say "AppImage"
    appdir="$stage/Backoffice.AppDir"
    mkdir -p "$appdir/usr/lib"
    cp -a "$bundle" "$appdir/usr/lib/backoffice"
    cp "$here/linux/backoffice.desktop" "$stage/backoffice.png" "$appdir/"
    cat > "$appdir/AppRun" <<'EOF'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec "$here/usr/lib/backoffice/backoffice" "$@"
EOF
    chmod 755 "$appdir/AppRun"
    runtime_args=()
    [ -n "${APPIMAGE_RUNTIME:-}" ] && runtime_args=(--runtime-file "$APPIMAGE_RUNTIME")
    if ARCH="$arch" appimagetool "${runtime_args[@]}" "$appdir" "$OUTDIR/Backoffice-$version-$arch.AppImage"; then
        echo "$OUTDIR/Backoffice-$version-$arch.AppImage: $(du -m "$OUTDIR/Backoffice-$version-$arch.AppImage" | cut -f1) MB"
    else
        echo "note: appimagetool failed (it downloads its runtime unless APPIMAGE_RUNTIME names one): no AppImage"
    fi
else
    echo
    echo "note: no AppImage: appimagetool is not on PATH (the tarball and install.sh cover Linux)"
fi

size=$(du -sm "$bundle" | cut -f1)
took=$(($(date +%s) - started))
say "done"
echo "Bundle size: $size MB unpacked ($bundle)"
echo "Build time: $took s"
