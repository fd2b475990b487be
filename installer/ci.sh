#!/usr/bin/env bash
# What CI runs for the desktop bundle:
#
#   PYTHON="$VENV/bin/python" OUTDIR=out/bundle bash installer/ci.sh
#
# 1. installs the `build` extra (PyInstaller) into PYTHON's environment, which already has the project;
# 2. builds the Linux bundle and tarball into OUTDIR (installer/build.sh);
# 3. smoke-tests the built executable with an empty environment (installer/smoke.sh);
# 4. fails when the unpacked bundle is over the size budget (BUDGET_MB, default 250).
#
# Prints the bundle size, the build time and the smoke test's time. PyInstaller's cache
# (~/.cache/pyinstaller) makes later runs faster; keep it between CI runs if the CI can.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PYTHON=${PYTHON:-python3}
OUTDIR=${OUTDIR:-dist}
BUDGET_MB=${BUDGET_MB:-250}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
export PYTHON OUTDIR

t0=$(date +%s)
echo "== installing the build extra into $PYTHON"
# The requirements of pyproject.toml's `build` extra, without reinstalling the project (already there).
mapfile -t build_extra < <("$PYTHON" - "$root/pyproject.toml" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as fh:
    print("\n".join(tomllib.load(fh)["project"]["optional-dependencies"]["build"]))
EOF
)
[ "${#build_extra[@]}" -gt 0 ] || { echo "ci.sh: error: no build extra in pyproject.toml" >&2; exit 1; }
"$PYTHON" -m pip install --quiet --disable-pip-version-check "${build_extra[@]}"
echo "PyInstaller $("$PYTHON" -m PyInstaller --version)"

# Slimming Qt's ICU data needs icupkg/genccode (icu-devtools); install them when this CI machine can.
if ! command -v icupkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "== installing icu-devtools (ICU data slimming)"
    (apt-get install -y -qq icu-devtools >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq icu-devtools >/dev/null 2>&1; }) \
        || echo "note: could not install icu-devtools: the bundle keeps Qt's full ICU data (about 22 MB more)"
fi

t_build=$(date +%s)
bash "$here/build.sh"
build_s=$(($(date +%s) - t_build))

t_smoke=$(date +%s)
bash "$here/smoke.sh" "$OUTDIR/backoffice"
smoke_s=$(($(date +%s) - t_smoke))

size=$(du -sm "$OUTDIR/backoffice" | cut -f1)
echo
echo "== desktop bundle"
echo "bundle size:  $size MB unpacked (budget $BUDGET_MB MB)"
echo "build time:   $build_s s"
echo "smoke test:   $smoke_s s"
echo "total:        $(($(date +%s) - t0)) s"
if [ "$size" -gt "$BUDGET_MB" ]; then
    echo "ci.sh: FAIL: the bundle is $size MB, over the $BUDGET_MB MB budget" >&2
    echo "  largest parts:" >&2
    (cd "$OUTDIR/backoffice/_internal" && du -sm -- * | sort -rn | head -n 12 | sed 's/^/    /') >&2
    exit 1
fi
echo "ci.sh: OK"
