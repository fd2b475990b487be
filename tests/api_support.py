"""A real store-API server for tests: uvicorn on a free loopback port in a thread, and staff accounts
of every role with passwords, signed in through ``POST /v1/auth/token`` (httpx as the client)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import uvicorn
from fastapi import FastAPI

from backoffice.db import Database
from backoffice.models import Role
from backoffice.services import users

PASSWORD = "correct horse battery staple"


@dataclass
class RunningServer:
    app: FastAPI
    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs) -> httpx.Client:  # type: ignore[no-untyped-def]
        return httpx.Client(base_url=self.base_url, timeout=kwargs.pop("timeout", 30), **kwargs)

    def login(self, username: str, password: str = PASSWORD) -> str:
        """An access token for ``username`` (kept: the same user signs in once per server)."""
        if username not in self.tokens:
            with self.client() as c:
                r = c.post("/v1/auth/token", json={"username": username, "password": password})
                r.raise_for_status()
                self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def as_user(self, username: str, **kwargs) -> httpx.Client:  # type: ignore[no-untyped-def]
        """A client that sends ``username``'s access token."""
        headers = {"Authorization": f"Bearer {self.login(username)}", **kwargs.pop("headers", {})}
        return self.client(headers=headers, **kwargs)


def start_server(app: FastAPI, port: int = 0) -> tuple[RunningServer, Callable[[], None]]:
    """``app`` on uvicorn in a thread, on a loopback port the OS picked (bound before the server starts,
    so no other process can take it meanwhile), or on ``port`` (a server stopped earlier, started again
    at the same address); returns the server and how to stop it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()

    return RunningServer(app, f"http://127.0.0.1:{port}"), stop


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def add_staff(db: Database) -> dict[Role, str]:
    """One account per role (``admin``, ``merchandiser``, …, named after the role), each with
    :data:`PASSWORD`; an admin first, as on a real store."""
    names: dict[Role, str] = {}
    admin = users.bootstrap_admin(db, "admin", password=PASSWORD)[0]
    names[Role.ADMIN] = "admin"
    for role in Role:
        if role is Role.ADMIN:
            continue
        users.create_user(db, admin, role.value, role, role.value.title(), password=PASSWORD)
        names[role] = role.value
    return names
