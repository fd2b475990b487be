#!/usr/bin/env bash
# Smoke test of a BUILT Linux bundle: the frozen `backoffice` executable, not the Python environment it
# was built from.
#
#   bash installer/smoke.sh dist/backoffice        (the folder holding the `backoffice` executable)
#
# Every command runs with a scrubbed environment: `env -i`, PATH holding only the bundle folder (so no
# python, no venv), HOME in a scratch folder, Qt's offscreen platform. Shared system libraries come from
# the dynamic loader's cache as on a user's machine (no LD_LIBRARY_PATH).
#
# Steps: --version; db upgrade on a fresh SQLite file and db current (the migrations shipped as data
# files); the schema checks (an empty file is refused, a database newer than the application is
# refused); demo --products 50 (its photos are made in a 2-process spawn pool: the frozen executable
# started again as a worker); screenshot of the products view (the PNG is copied to $OUTDIR); reports
# (Holt-Winters forecast to xlsx, a chart to PDF, CSV, a schedule and run-due); image upload of six
# pictures through the image pool (--workers 2) and the gallery listing them; `serve` answering /health
# and writing its OpenAPI document. When strace is usable, the upload is traced to check that the
# pool's workers really are the bundle's executable started again (--multiprocessing-fork). When Xvfb is
# installed, the desktop application is also started on X11 and must still be running after 10 s.
#
# SMOKE_POSTGRES_URL=postgresql+psycopg://user@host/db adds `db current` on that PostgreSQL database
# (read-only), through the bundle's psycopg and libpq.
#
# Exits non-zero at the first failing step, with a line saying what failed.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUNDLE_DIR" >&2
    exit 2
fi
BUNDLE_DIR=$(cd "$1" && pwd)
OUTDIR=${OUTDIR:-dist}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
EXE="$BUNDLE_DIR/backoffice"
[ -x "$EXE" ] || { echo "smoke: FAIL: $EXE is not an executable" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/backoffice-smoke.XXXXXX")
server_pid=""
gui_pid=""
xvfb_pid=""
stop() {   # stop PID: end a process this script started, and reap it
    if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi
}
cleanup() {
    stop "$server_pid"
    stop "$gui_pid"
    stop "$xvfb_pid"
    rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$scratch/home" "$scratch/tmp"
DB="sqlite:///$scratch/store.sqlite"
LOG="$scratch/last.log"
started=$(date +%s)
step_no=0

fail() {
    echo "smoke: FAIL: $*" >&2
    if [ -s "$LOG" ]; then
        echo "---- output of the failing command ----" >&2
        tail -n 40 "$LOG" >&2
    fi
    exit 1
}

# The bundle, as a user's machine would start it: nothing from this shell's environment.
# With trace_to set (and strace usable), the processes the command starts are logged there.
trace_to=""
bo() {
    local tracer=()
    [ -n "$trace_to" ] && tracer=(strace -f -qq -e trace=execve -o "$trace_to")
    "${tracer[@]}" env -i HOME="$scratch/home" PATH="$BUNDLE_DIR" TMPDIR="$scratch/tmp" LANG=C.UTF-8 \
        LC_ALL=C.UTF-8 QT_QPA_PLATFORM=offscreen TZ=UTC backoffice "$@"
}

step() {
    step_no=$((step_no + 1))
    printf '\n[%d] %s\n' "$step_no" "$*"
}

# Runs the bundle, keeps its output in $LOG and shows it; fails the smoke test on a non-zero exit.
run() {
    local t0=$SECONDS
    if ! bo "$@" >"$LOG" 2>&1; then
        fail "backoffice $* exited non-zero"
    fi
    grep -v "does not support propagateSizeHints" "$LOG" | sed 's/^/    /' || true
    printf '    (%ss)\n' $((SECONDS - t0))
}

expect() {   # expect PATTERN DESCRIPTION: the last command's output matches
    grep -Eq -- "$1" "$LOG" || fail "$2 (expected output matching /$1/)"
}

# A 48x32 24-bit BMP of one colour (made here: the test needs no Python and no image tools).
bmp() {   # bmp FILE R G B
    local le32 row="" i
    le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
    for ((i = 0; i < 48; i++)); do row+=$(printf '\\x%02x\\x%02x\\x%02x' "$4" "$3" "$2"); done
    {
        printf 'BM'; printf "$(le32 $((54 + 48 * 3 * 32)))"; printf '\x00\x00\x00\x00'; printf "$(le32 54)"
        printf "$(le32 40)$(le32 48)$(le32 32)"; printf '\x01\x00\x18\x00'
        printf "$(le32 0)$(le32 $((48 * 3 * 32)))$(le32 2835)$(le32 2835)$(le32 0)$(le32 0)"
        for ((i = 0; i < 32; i++)); do printf "$row"; done
    } >"$1"
}

echo "Smoke test of $EXE"
echo "  environment: env -i PATH=$BUNDLE_DIR HOME=<scratch> QT_QPA_PLATFORM=offscreen LANG=C.UTF-8"

step "no Python reachable from the test environment"
if env -i PATH="$BUNDLE_DIR" /bin/sh -c 'command -v python3 || command -v python' >/dev/null 2>&1; then
    fail "a python is on the test PATH ($BUNDLE_DIR)"
fi
echo "    PATH=$BUNDLE_DIR has no python"

step "backoffice --version"
run --version
expect "^backoffice, version [0-9]" "--version did not print the version"

step "db upgrade on a fresh SQLite file"
run db upgrade --db "$DB"
expect "migrated from empty to [0-9]+" "the schema was not created"
head_rev=$(grep -Eo 'to [0-9a-z_]+\.' "$LOG" | head -n 1 | sed 's/^to //; s/\.$//')

step "db current (revision read from the migrations shipped in the bundle)"
run db current --db "$DB"
expect "$head_rev" "db current does not report revision $head_rev"

step "schema check: a file without the schema is refused"
if bo products add nope --title Nope --variant NOPE-1,price=1 --db "sqlite:///$scratch/empty.sqlite" >"$LOG" 2>&1; then
    fail "a command on a database without the schema succeeded"
fi
expect "db upgrade" "the missing-schema message was not given"
sed 's/^/    /' "$LOG"

if command -v sqlite3 >/dev/null 2>&1; then
    step "schema check: a database newer than the application is refused"
    cp "$scratch/store.sqlite" "$scratch/newer.sqlite"
    sqlite3 "$scratch/newer.sqlite" "UPDATE alembic_version SET version_num = '9999_from_the_future'"
    if bo products add nope --title Nope --variant NOPE-1,price=1 --db "sqlite:///$scratch/newer.sqlite" >"$LOG" 2>&1; then
        fail "a command on a newer database succeeded"
    fi
    expect "newer than this" "the newer-schema message was not given"
    sed 's/^/    /' "$LOG"
    rm -f "$scratch/newer.sqlite"
else
    step "schema check: newer database (skipped: no sqlite3 on this machine to fake one)"
fi

if [ -n "${SMOKE_POSTGRES_URL:-}" ]; then
    step "PostgreSQL through the bundled psycopg/libpq: db current (read-only)"
    run db current --db "$SMOKE_POSTGRES_URL"
    expect "application: " "db current did not answer on PostgreSQL"
fi

step "demo --products 50 (photos made by a 2-process spawn pool of the frozen executable)"
run demo --products 50 --db "$DB"
expect "products +50" "the demo store has not 50 products"
images=$(awk '$1 == "images" {gsub(",", "", $2); print $2}' "$LOG")
[ "${images:-0}" -gt 0 ] || fail "the demo store has no images: the photo pool made nothing"

step "screenshot --view products"
run screenshot --view products "$scratch/products.png" --db "$DB"
[ -f "$scratch/products.png" ] || fail "no PNG was written"
magic=$(head -c 8 "$scratch/products.png" | od -An -tx1 | tr -d ' \n')
[ "$magic" = "89504e470d0a1a0a" ] || fail "products.png is not a PNG (starts with $magic)"
size=$(wc -c <"$scratch/products.png")
[ "$size" -gt 40000 ] || fail "products.png is only $size bytes: an empty window?"
cp "$scratch/products.png" "$OUTDIR/smoke-products.png"
echo "    $size bytes, copied to $OUTDIR/smoke-products.png"

step "reports: revenue forecast (Holt-Winters, numpy) to xlsx"
run reports run revenue-forecast --out "$scratch/forecast.xlsx" --db "$DB"
expect "Holt" "the forecast did not report its method"
[ "$(head -c 2 "$scratch/forecast.xlsx")" = "PK" ] || fail "forecast.xlsx is not an xlsx (zip) file"

step "reports: sales by month to PDF (matplotlib)"
run reports run sales-by-month --out "$scratch/sales.pdf" --db "$DB"
[ "$(head -c 5 "$scratch/sales.pdf")" = "%PDF-" ] || fail "sales.pdf is not a PDF"

step "reports: top products to CSV"
run reports run top-products --out "$scratch/top.csv" --db "$DB"
[ "$(wc -l <"$scratch/top.csv")" -gt 1 ] || fail "top.csv has no rows"

step "reports: a schedule, then run-due"
run reports schedule add low-stock --daily --at 07:00 --folder "$scratch/delivered/{report}.{format}" --db "$DB"
run reports run-due --db "$DB"

step "schedule install --dry-run: the entries would run the bundle's own executable (crontab found off PATH)"
run schedule install --scheduler cron --dry-run --db "$DB"
expect "^Would register with the user's crontab" "a dry run of the registration"
expect "^[^#].* $EXE --db $DB reports run-due" "the crontab line runs the bundle's executable"

step "images: six pictures through the image pool (--workers 2)"
run products add smoke-tee --title "Smoke tee" --variant SMOKE-TEE-1,price=10 --db "$DB"
mkdir -p "$scratch/photos"
colours=("200 40 40" "40 160 60" "30 60 200" "230 200 40" "120 40 160" "20 170 170")
for i in "${!colours[@]}"; do
    # shellcheck disable=SC2086
    bmp "$scratch/photos/smoke-tee-$((i + 1)).bmp" ${colours[$i]}
done
if command -v strace >/dev/null 2>&1 && strace -f -qq -o /dev/null true 2>/dev/null; then
    trace_to="$scratch/execve.log"
fi
run images upload --product smoke-tee --workers 2 "$scratch/photos" --db "$DB"
expect "Added 6 images, 0 already there, 0 failed" "not all six pictures were added"
if [ -n "$trace_to" ]; then
    trace_to=""
    workers=$(grep -c -- '"--multiprocessing-fork"' "$scratch/execve.log" || true)
    [ "$workers" -ge 1 ] || fail "no pool worker was started: the pictures were not processed by the pool"
    grep -q -- '"--multiprocessing-fork"' <(grep -F "\"$EXE\"" "$scratch/execve.log") \
        || fail "the pool workers are not the bundle's executable"
    echo "    strace: $workers spawn workers ran as $EXE --multiprocessing-fork …"
else
    echo "    (strace not usable here: the pool is checked by the upload succeeding)"
fi
run images list smoke-tee --db "$DB"
expect "smoke-tee: 6 images" "the gallery does not hold the six pictures"
[ "$(grep -Ec 'image [0-9]+ +smoke-tee-[1-6]\.bmp +48x32 ' "$LOG")" -eq 6 ] \
    || fail "the gallery does not list the six 48x32 web versions"

step "serve: the store API answers /health"
port=$((20000 + RANDOM % 20000))
bo serve --port "$port" --db "$DB" >"$scratch/serve.log" 2>&1 &
server_pid=$!
health=""
for _ in $(seq 1 60); do
    if health=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && cat <&3) 2>/dev/null); then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { cp "$scratch/serve.log" "$LOG"; fail "backoffice serve exited"; }
    sleep 0.5
done
echo "$health" | head -n 1 | sed 's/^/    /'
echo "$health" | head -n 1 | grep -q " 200 " || { cp "$scratch/serve.log" "$LOG"; fail "/health did not answer 200"; }
kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=""
run serve --write-openapi "$scratch/openapi.json"
grep -q '"openapi"' "$scratch/openapi.json" || fail "the OpenAPI document was not written"

if command -v Xvfb >/dev/null 2>&1; then
    step "the desktop application on X11 (Xvfb, Qt's xcb platform plugin from the bundle)"
    display=""
    for d in $(seq 91 99); do
        if [ ! -e "/tmp/.X11-unix/X$d" ] && [ ! -e "/tmp/.X$d-lock" ]; then display=$d; break; fi
    done
    [ -n "$display" ] || fail "no free X display number for Xvfb"
    Xvfb ":$display" -screen 0 1280x900x24 -nolisten tcp >"$scratch/xvfb.log" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
    env -i HOME="$scratch/home" PATH="$BUNDLE_DIR" TMPDIR="$scratch/tmp" LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC \
        DISPLAY=":$display" backoffice --db "$DB" >"$LOG" 2>&1 &
    gui_pid=$!
    alive=yes
    for _ in $(seq 1 20); do
        kill -0 "$gui_pid" 2>/dev/null || { alive=no; break; }
        sleep 0.5
    done
    if [ "$alive" = yes ]; then
        stop "$gui_pid"
        gui_pid=""
        echo "    the desktop application ran on X11 for 10 s without an error"
        if [ -s "$LOG" ]; then sed 's/^/    output: /' "$LOG"; fi
    else
        wait "$gui_pid" 2>/dev/null || true
        gui_pid=""
        if grep -q "cannot start: Qt's xcb platform plugin needs" "$LOG"; then
            echo "    skipped: this machine lacks X11 libraries the desktop needs:"
            sed 's/^/    /' "$LOG"
        else
            fail "the desktop application exited on X11"
        fi
    fi
    stop "$xvfb_pid"
    xvfb_pid=""
fi

printf '\nsmoke: OK: %d steps passed in %ss (bundle %s MB)\n' "$step_no" $(($(date +%s) - started)) \
    "$(du -sm "$BUNDLE_DIR" | cut -f1)"
