"""A real Medusa 2 server (``@medusajs/medusa``, pinned in package-lock.json beside this file) for the
store-connector tests, on loopback, on a PostgreSQL database of its own.

Three steps, each done once and reused:

* ``ensure_installed()`` runs ``npm ci`` here when node_modules is missing or was installed from another
  lockfile (a stamp file in node_modules holds the lockfile's hash). npm's cache is
  ``~/.cache/backoffice/npm`` (``BACKOFFICE_NPM_CACHE``), so a second machine-local install downloads nothing.
* ``ensure_template(admin_url)`` migrates a template database, ``medusa_tpl_<hash12>``, named after the
  lockfile, medusa-config.js and this file's template recipe, with the admin account already in it. It is
  built under another name and renamed when complete, so its existence means done; a PostgreSQL advisory
  lock makes two test processes that race wait for one build.
* ``start(admin_url)`` clones the template (``CREATE DATABASE … TEMPLATE``), starts ``medusa start`` on a
  free loopback port in a process group of its own, waits for ``GET /health``, and prepares the store
  through the admin API: a secret API key, a region (EUR), a sales channel, two stock locations and a
  publishable key. ``MedusaServer.stop()`` ends the process group and drops the clone; so does an
  ``atexit`` hook when a test run dies before its finalizers, and on Linux the server also gets SIGTERM
  when the process that started it dies (Linux counts the thread that started it: start it from a
  thread that lives as long as the server, as pytest's main thread does).

``python -m tests.peers.medusa.server prepare --db URL`` does all three (and a start/stop) and prints how
long each took; .ci/run calls it before the tests. ``admin_url`` is a PostgreSQL URL in SQLAlchemy's form
(``postgresql+psycopg://user@host:port/db``, as in BACKOFFICE_TEST_DATABASE_URL); its database is only used
to connect: Medusa's databases are made beside it.

No pytest here: tests/peers/conftest.py turns MedusaUnavailable into a skip (or a failure under CI).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import make_url

PEER_DIR = Path(__file__).resolve().parent
LOCKFILE = PEER_DIR / "package-lock.json"
CONFIG_FILE = PEER_DIR / "medusa-config.js"
NODE_MODULES = PEER_DIR / "node_modules"
STAMP = NODE_MODULES / ".backoffice-install-stamp"   # inside node_modules: removing it removes the stamp
CLI = NODE_MODULES / "@medusajs" / "cli" / "cli.js"
INSTALL_LOCK = PEER_DIR / ".install.lock"

MIN_NODE = (20, 19)          # @medusajs/medusa 2.21: "node": "^20.19.0 || >=22.12.0"
HEALTH_TIMEOUT = 180.0       # seconds from the process start to GET /health == 200
COMMAND_TIMEOUT = 900.0      # npm ci, migrations: generous, a cold npm ci takes a few minutes
ADVISORY_LOCK = 0x6D656475   # pg_advisory_lock key for building templates and sweeping clones ("medu")

ADMIN_EMAIL = "admin@backoffice.test"
ADMIN_PASSWORD = "medusa peer password"
# Bump when what ensure_template puts into the template changes: it is part of the template's name.
TEMPLATE_RECIPE = "db:migrate --execute-all-links --execute-all-search; user admin; v1"

TEMPLATE_PREFIX = "medusa_tpl_"
CLONE_PREFIX = "medusa_run_"

Log = Callable[[str], None]


class MedusaUnavailable(RuntimeError):
    """Node.js or npm is missing or too old: the peer cannot run on this machine."""


class MedusaError(RuntimeError):
    """The peer could not be installed, migrated, started or prepared (the message says which, with the
    end of the log)."""


def _quiet(_: str) -> None:
    pass


# -- tools -----------------------------------------------------------------------------------------------
def missing_tools() -> str | None:
    """Why the peer cannot run here (node or npm missing, node too old), or None when it can."""
    if os.name != "posix":
        return "the Medusa peer's helper runs on Linux and macOS only (process groups, POSIX signals)"
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        return f"{missing} not found on PATH: the Medusa peer needs Node.js >= {MIN_NODE[0]}.{MIN_NODE[1]} and npm"
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"node --version failed: {exc}"
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    if not match or (int(match[1]), int(match[2])) < MIN_NODE:
        return f"Node.js {out.strip()} is too old for Medusa 2 (needs >= {MIN_NODE[0]}.{MIN_NODE[1]})"
    return None


def _require_tools() -> None:
    reason = missing_tools()
    if reason:
        raise MedusaUnavailable(reason)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def lockfile_hash() -> str:
    return _digest(LOCKFILE.read_bytes())


def template_name() -> str:
    """The template database for this lockfile, config and recipe."""
    digest = _digest(LOCKFILE.read_bytes(), CONFIG_FILE.read_bytes(), TEMPLATE_RECIPE.encode())
    return f"{TEMPLATE_PREFIX}{digest[:12]}"


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _run(cmd: list[str], *, env: dict[str, str], log_path: Path, what: str,
         timeout: float = COMMAND_TIMEOUT) -> None:
    """Run a command in PEER_DIR with its output appended to log_path; MedusaError with the log's tail if
    it fails or outlives the timeout."""
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, cwd=PEER_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_child_setup())
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            raise MedusaError(f"{what} took more than {timeout:.0f} s; the end of {log_path}:\n{_tail(log_path)}")
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
    if code != 0:
        raise MedusaError(f"{what} failed (exit {code}); the end of {log_path}:\n{_tail(log_path)}")


def _kill_group(pid: int, sig: int | None = None) -> None:
    """Signal the process group led by pid (SIGKILL unless told)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL if sig is None else sig)


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that started it dies, so a test run
    killed outright leaves no server or install behind."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)        # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; atexit and the finalizer remain
        pass


def _child_setup() -> Callable[[], None] | None:
    return _die_with_parent if sys.platform.startswith("linux") else None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes on this machine (POSIX; elsewhere none)."""
    try:
        import fcntl
    except ImportError:          # Windows: the peer's tests are not run in parallel there
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- install ---------------------------------------------------------------------------------------------
def npm_cache_dir() -> Path:
    return Path(os.environ.get("BACKOFFICE_NPM_CACHE") or Path.home() / ".cache" / "backoffice" / "npm")


def _node_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDIS_URL", "CACHE_REDIS_URL", "EXECUTION_CONTEXT", "NODE_OPTIONS"):
        env.pop(name, None)      # no Redis, not Medusa Cloud, no debugger flags from the caller
    env.update({
        "MEDUSA_DISABLE_TELEMETRY": "true",
        "NODE_ENV": "production",        # what `medusa start` sets; also skips the CLI's ts-node probe
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    })
    return env


def ensure_installed(log: Log = _quiet) -> float:
    """``npm ci`` here unless node_modules was installed from this lockfile. Returns the seconds spent
    (0.0 when nothing had to be done). Safe when several processes call it at once."""
    _require_tools()
    wanted = lockfile_hash()
    with _file_lock(INSTALL_LOCK):
        if CLI.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
            return 0.0
        cache = npm_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        log_path = Path(tempfile.gettempdir()) / f"backoffice-medusa-npm-{os.getpid()}.log"
        log(f"npm ci in {PEER_DIR} (cache {cache}), log {log_path}")
        started = time.monotonic()
        # --prefer-offline: packages already in the cache are not revalidated with the registry.
        _run([shutil.which("npm") or "npm", "ci", "--cache", str(cache), "--prefer-offline", "--no-audit",
              "--no-fund", "--loglevel=error"], env=_node_env(), log_path=log_path, what="npm ci")
        if not CLI.exists():
            raise MedusaError(f"npm ci finished but {CLI} is missing; the end of {log_path}:\n{_tail(log_path)}")
        STAMP.write_text(wanted + "\n")
        elapsed = time.monotonic() - started
        log(f"npm ci took {elapsed:.1f} s")
        with contextlib.suppress(OSError):
            log_path.unlink()
        return elapsed


# -- databases -------------------------------------------------------------------------------------------
def _conninfo(admin_url: str, database: str | None = None) -> str:
    """A libpq URL (also what Medusa's DATABASE_URL takes) for admin_url, or for another database on the
    same server."""
    url = make_url(admin_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def _admin_connect(admin_url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(_conninfo(admin_url), autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise MedusaError(f"PostgreSQL at {make_url(admin_url).render_as_string()} is not usable: {exc}") from exc


@contextlib.contextmanager
def _advisory_lock(conn: psycopg.Connection) -> Iterator[None]:
    conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK,))


def _database_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _drop_database(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_clones(conn: psycopg.Connection, log: Log) -> None:
    """Drop clones whose test process is gone (a run killed before its finalizers). Clones are named
    medusa_run_<pid>_<random>, the pid of this machine's process that made them. Templates of other
    lockfiles are kept (another checkout may use them): ``python -m tests.peers.medusa.server clean``."""
    names = [row[0] for row in conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (CLONE_PREFIX + "%",))]
    for name in names:
        match = re.match(rf"{CLONE_PREFIX}(\d+)_", name)
        if match and not _pid_alive(int(match[1])):
            with contextlib.suppress(psycopg.Error):
                _drop_database(conn, name)
                log(f"dropped the stale database {name}")


def ensure_template(admin_url: str, log: Log = _quiet) -> float:
    """The migrated template database for this lockfile exists on admin_url's server (built now if not).
    Returns the seconds spent building (0.0 when it was there). Needs ensure_installed() first."""
    _require_tools()
    name = template_name()
    with _admin_connect(admin_url) as conn, _advisory_lock(conn):
        _sweep_clones(conn, log)
        if _database_exists(conn, name):
            return 0.0
        building = f"{name}_building"
        _drop_database(conn, building)            # a build that died half-way
        started = time.monotonic()
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
        env = _node_env() | {
            "DATABASE_URL": _conninfo(admin_url, building),
            "JWT_SECRET": secrets.token_hex(16),
            "COOKIE_SECRET": secrets.token_hex(16),
            "MEDUSA_UPLOAD_DIR": tempfile.mkdtemp(prefix="medusa-peer-uploads-"),
        }
        log_path = Path(tempfile.gettempdir()) / f"backoffice-{building}-{os.getpid()}.log"
        log(f"migrating the template database {name}, log {log_path}")
        try:
            node = shutil.which("node") or "node"
            _run([node, str(CLI), "db:migrate", "--execute-all-links", "--execute-all-search"],
                 env=env, log_path=log_path, what="medusa db:migrate")
            _run([node, str(CLI), "user", "-e", ADMIN_EMAIL, "-p", ADMIN_PASSWORD],
                 env=env, log_path=log_path, what="medusa user")
            # Complete: give it its real name, and refuse connections so none can block a clone.
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(building), sql.Identifier(name)))
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                _drop_database(conn, building)
            raise
        finally:
            shutil.rmtree(env["MEDUSA_UPLOAD_DIR"], ignore_errors=True)
        elapsed = time.monotonic() - started
        log(f"template {name} built in {elapsed:.1f} s")
        with contextlib.suppress(OSError):
            log_path.unlink()
        return elapsed


def drop_templates(admin_url: str) -> list[str]:
    """Drop every Medusa template database (for a clean start); returns their names."""
    with _admin_connect(admin_url) as conn, _advisory_lock(conn):
        names = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (TEMPLATE_PREFIX + "%",))]
        for name in names:
            _drop_database(conn, name)
    return names


# -- the running server ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MedusaServer:
    """A running Medusa server and what start() made in it. ``api_key`` is the secret key's token (sent
    with HTTP Basic auth: ``auth=server.auth``); ``publishable_key`` is for the store API
    (``x-publishable-api-key``)."""

    base_url: str
    port: int
    pid: int
    log_path: Path
    database: str
    admin_url: str
    api_key: str = ""
    publishable_key: str = ""
    region_id: str = ""
    sales_channel_id: str = ""
    location_ids: list[str] = field(default_factory=list)
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    timings: dict[str, float] = field(default_factory=dict)
    _process: subprocess.Popen | None = field(default=None, repr=False)
    _work_dir: Path | None = field(default=None, repr=False)
    _owns_work_dir: bool = field(default=False, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.api_key, "")

    def client(self, **kwargs: object) -> httpx.Client:
        """An httpx client on the admin API, authenticated with the secret key."""
        return httpx.Client(base_url=self.base_url, auth=self.auth, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def rss_bytes(self) -> int | None:
        """Resident memory of the server's process group (Linux /proc), or None where unknown."""
        proc = Path("/proc")
        if not proc.is_dir() or not self.running():
            return None
        total = 0
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) != self.pid:       # pgrp
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except (OSError, IndexError, ValueError):
                continue
        return total

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def stop(self) -> None:
        """End the server's process group (SIGTERM, then SIGKILL after 15 s) and drop its database.
        Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        if self._process is not None:
            if self._process.poll() is None:
                _kill_group(self.pid, signal.SIGTERM)
                try:
                    self._process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            _kill_group(self.pid, signal.SIGKILL)    # whatever the group still holds
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=15)
        with contextlib.suppress(MedusaError, psycopg.Error), _admin_connect(self.admin_url) as conn:
            _drop_database(conn, self.database)
        if self._work_dir is not None:       # a folder start() made goes; the caller's keeps the log
            shutil.rmtree(self._work_dir if self._owns_work_dir else self._work_dir / "uploads",
                          ignore_errors=True)

    def __enter__(self) -> MedusaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_healthy(server: MedusaServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=5.0) as http:
        while time.monotonic() < deadline:
            if not server.running():
                code = server._process.returncode if server._process else None
                raise MedusaError(f"Medusa exited (code {code}) before /health answered; "
                                  f"the end of {server.log_path}:\n{server.log_tail()}")
            try:
                response = http.get(f"{server.base_url}/health")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.25)
    raise MedusaError(f"Medusa did not answer GET /health with 200 within {timeout:.0f} s (last: {last}); "
                      f"the end of {server.log_path}:\n{server.log_tail()}")


def _checked(response: httpx.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise MedusaError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    return response.json()


def _prepare_store(server: MedusaServer) -> None:
    """Through the admin API, as a connector's user would: sign in, make a secret key, then a region,
    a sales channel with two stock locations, and a publishable key for that channel."""
    with httpx.Client(base_url=server.base_url, timeout=30.0) as http:
        token = _checked(http.post("/auth/user/emailpass",
                                   json={"email": server.admin_email, "password": server.admin_password}),
                         "sign in")["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        key = _checked(http.post("/admin/api-keys", headers=bearer,
                                 json={"title": "Backoffice connector tests", "type": "secret"}),
                       "create the secret API key")["api_key"]
        server.api_key = key["token"]
        auth = server.auth
        server.region_id = _checked(http.post("/admin/regions", auth=auth, json={
            "name": "Europe", "currency_code": "eur", "countries": ["de", "fr", "nl"],
        }), "create the region")["region"]["id"]
        server.sales_channel_id = _checked(http.post("/admin/sales-channels", auth=auth, json={
            "name": "Backoffice", "description": "The channel the back-office syncs",
        }), "create the sales channel")["sales_channel"]["id"]
        for name, city in (("Warehouse Berlin", "Berlin"), ("Store Amsterdam", "Amsterdam")):
            location = _checked(http.post("/admin/stock-locations", auth=auth, json={
                "name": name,
                "address": {"address_1": "1 Test Street", "city": city,
                            "country_code": "de" if city == "Berlin" else "nl"},
            }), f"create the stock location {name}")["stock_location"]
            _checked(http.post(f"/admin/stock-locations/{location['id']}/sales-channels", auth=auth,
                               json={"add": [server.sales_channel_id]}),
                     f"link {name} to the sales channel")
            server.location_ids.append(location["id"])
        publishable = _checked(http.post("/admin/api-keys", auth=auth, json={
            "title": "Backoffice storefront tests", "type": "publishable",
        }), "create the publishable key")["api_key"]
        _checked(http.post(f"/admin/api-keys/{publishable['id']}/sales-channels", auth=auth,
                           json={"add": [server.sales_channel_id]}),
                 "link the publishable key to the sales channel")
        server.publishable_key = publishable["token"]


def start(admin_url: str, *, log_dir: Path | None = None, health_timeout: float = HEALTH_TIMEOUT,
          log: Log = _quiet) -> MedusaServer:
    """A Medusa server on a fresh clone of the template, ready and prepared (see MedusaServer). Installs
    and migrates first when needed. Call stop() (or use it as a context manager)."""
    timings: dict[str, float] = {}
    timings["install"] = ensure_installed(log)
    timings["template"] = ensure_template(admin_url, log)

    database = f"{CLONE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    with _admin_connect(admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(database), sql.Identifier(template_name())))
    timings["clone"] = time.monotonic() - started

    work_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="medusa-peer-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / f"medusa-{database}.log"
    port = _free_port()
    env = _node_env() | {
        "DATABASE_URL": _conninfo(admin_url, database),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "JWT_SECRET": secrets.token_hex(32),
        "COOKIE_SECRET": secrets.token_hex(32),
        "MEDUSA_UPLOAD_DIR": str(work_dir / "uploads"),
        "MEDUSA_CORS": f"http://127.0.0.1:{port}",
    }
    started = time.monotonic()
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [shutil.which("node") or "node", str(CLI), "start"], cwd=PEER_DIR, env=env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_child_setup())
    server = MedusaServer(base_url=f"http://127.0.0.1:{port}", port=port, pid=process.pid, log_path=log_path,
                          database=database, admin_url=admin_url, timings=timings, _process=process,
                          _work_dir=work_dir, _owns_work_dir=log_dir is None)
    atexit.register(server.stop)
    try:
        _wait_healthy(server, health_timeout)
        timings["start_to_health"] = time.monotonic() - started
        started = time.monotonic()
        _prepare_store(server)
        timings["prepare"] = time.monotonic() - started
    except BaseException as exc:
        server._owns_work_dir = False        # a failed start keeps its log
        server.stop()
        if isinstance(exc, MedusaError) and "the end of" not in str(exc):
            raise MedusaError(f"{exc}\nthe end of {log_path}:\n{_tail(log_path)}") from exc
        raise
    log(f"Medusa on {server.base_url} (pid {server.pid}, database {database}): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return server


# -- command line (.ci/run) ------------------------------------------------------------------------------
def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.peers.medusa.server",
                                     description="Install, migrate and try the Medusa test peer.")
    parser.add_argument("command", choices=["install", "prepare", "clean"],
                        help="install: npm ci if needed; prepare: install, template, one start/stop with "
                             "timings; clean: drop the template databases")
    parser.add_argument("--db", default=os.environ.get("BACKOFFICE_TEST_DATABASE_URL"),
                        help="PostgreSQL URL (default: BACKOFFICE_TEST_DATABASE_URL)")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(f"medusa peer: {message}", flush=True)

    try:
        if args.command == "install":
            seconds = ensure_installed(say)
            say(f"install {seconds:.1f} s" if seconds else "node_modules up to date")
            return 0
        if not args.db:
            parser.error("--db or BACKOFFICE_TEST_DATABASE_URL is required")
        if args.command == "clean":
            say(f"dropped {', '.join(drop_templates(args.db)) or 'no template'}")
            return 0
        install = ensure_installed(say)
        template = ensure_template(args.db, say)
        with start(args.db) as server:
            rss = server.rss_bytes()
            t = server.timings
            say(f"install {install:.1f} s, template {template:.1f} s, clone {t['clone']:.2f} s, "
                f"start to /health {t['start_to_health']:.1f} s, store prepared in {t['prepare']:.1f} s, "
                + (f"RSS {rss / 2**20:.0f} MB" if rss else "RSS unknown"))
        return 0
    except (MedusaUnavailable, MedusaError) as exc:
        print(f"medusa peer: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
