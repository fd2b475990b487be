#!/usr/bin/env bash
# Build Backoffice.app and a notarised DMG (run on macOS 12+, with Xcode's command line tools):
#
#   PYTHON=.venv/bin/python OUTDIR=dist bash installer/macos/build.sh
#
# PYTHON must have Backoffice installed (pip install .); build on the architecture you ship (an Apple
# silicon Mac builds arm64, an Intel Mac x86_64; a universal2 build needs universal2 wheels of every
# dependency, which PySide6/numpy/scipy do not all publish).
#
# Signing and notarisation happen when these are set (otherwise the app is ad-hoc signed, which runs on
# the building Mac only):
#   CODESIGN_IDENTITY   "Developer ID Application: Your Company (TEAMID)" (in the login keychain)
#   NOTARY_PROFILE      a notarytool keychain profile, made once with
#                       xcrun notarytool store-credentials NAME --apple-id … --team-id … --password <app-specific>
#
# Produces in OUTDIR: Backoffice.app, backoffice/ (the plain one-folder bundle PyInstaller assembles the
# app from) and Backoffice-VERSION-macos-ARCH.dmg.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
installer=$(dirname "$here")
root=$(dirname "$installer")
PYTHON=${PYTHON:-python3}
OUTDIR=${OUTDIR:-dist}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORKDIR=${WORKDIR:-$root/build/pyinstaller}
started=$(date +%s)

[ "$(uname -s)" = Darwin ] || { echo "macos/build.sh: run this on macOS" >&2; exit 1; }
"$PYTHON" -c "import backoffice" || { echo "macos/build.sh: $PYTHON cannot import backoffice" >&2; exit 1; }
"$PYTHON" -c "import PyInstaller" 2>/dev/null || "$PYTHON" -m pip install --quiet "pyinstaller>=6.6" pyinstaller-hooks-contrib
version=$("$PYTHON" -c "import backoffice; print(backoffice.__version__)")
arch=$(uname -m)
mkdir -p "$WORKDIR"

echo "== icon: Backoffice.icns from resources/icons/backoffice.svg"
iconset="$WORKDIR/backoffice.iconset"
rm -rf "$iconset" && mkdir -p "$iconset"
QT_QPA_PLATFORM=offscreen "$PYTHON" - "$root/resources/icons/backoffice.svg" "$iconset" <<'EOF'
import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

app = QGuiApplication(sys.argv[:1])
renderer = QSvgRenderer(sys.argv[1])
for size in (16, 32, 128, 256, 512):
    for scale in (1, 2):
        px = size * scale
        image = QImage(px, px, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        suffix = "@2x" if scale == 2 else ""
        image.save(f"{sys.argv[2]}/icon_{size}x{size}{suffix}.png", "PNG")
EOF
iconutil -c icns -o "$WORKDIR/backoffice.icns" "$iconset"

echo "== PyInstaller: Backoffice.app $version ($arch)"
export BACKOFFICE_ICON="$WORKDIR/backoffice.icns"
export BACKOFFICE_ENTITLEMENTS="$here/entitlements.plist"
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    export BACKOFFICE_CODESIGN_IDENTITY="$CODESIGN_IDENTITY"   # PyInstaller signs every binary it collects
fi
rm -rf "$OUTDIR/Backoffice.app" "$OUTDIR/backoffice"
"$PYTHON" -m PyInstaller --noconfirm --distpath "$OUTDIR" --workpath "$WORKDIR" "$installer/backoffice.spec"
app="$OUTDIR/Backoffice.app"
"$app/Contents/MacOS/backoffice" --version

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    echo "== codesign (hardened runtime)"
    codesign --deep --force --timestamp --options runtime \
        --entitlements "$here/entitlements.plist" --sign "$CODESIGN_IDENTITY" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
fi

echo "== DMG"
dmg="$OUTDIR/Backoffice-$version-macos-$arch.dmg"
stage="$WORKDIR/dmg"
rm -rf "$stage" "$dmg" && mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"    # drag Backoffice onto Applications to install
hdiutil create -volname "Backoffice $version" -srcfolder "$stage" -ov -format UDZO "$dmg"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$dmg"
    if [ -n "${NOTARY_PROFILE:-}" ]; then
        echo "== notarisation"
        xcrun notarytool submit "$dmg" --keychain-profile "$NOTARY_PROFILE" --wait
        xcrun stapler staple "$dmg"
        xcrun stapler validate "$dmg"
        spctl --assess --type open --context context:primary-signature --verbose "$dmg"
    else
        echo "note: NOTARY_PROFILE not set: the DMG is signed but not notarised (Gatekeeper will warn)"
    fi
fi

echo "Bundle size: $(du -sm "$app" | cut -f1) MB unpacked ($app)"
echo "DMG: $dmg ($(du -m "$dmg" | cut -f1) MB)"
echo "Build time: $(($(date +%s) - started)) s"
