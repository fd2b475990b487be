"""``backoffice serve``: the store API server (FastAPI on uvicorn) over a database."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import click

from backoffice.cli.app import EXIT_ERROR, Context, main

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@main.command()
@click.option("--db", "db_url", metavar="URL", help="Database URL: sqlite:///path or postgresql+psycopg://user@host/db.")
@click.option("--profile", metavar="NAME", help="Use a saved connection profile.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default: put a reverse proxy with TLS in front).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TLS certificate (PEM); serve HTTPS. Needs --keyfile.")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TLS private key (PEM). Needs --certfile.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="info", show_default=True,
              help="Least severe level logged (info: one line per request).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Proxies whose X-Forwarded-For/-Proto headers are trusted (comma-separated, * for any).")
@click.option("--rate-limit", default=50.0, show_default=True, type=click.FloatRange(min=0), metavar="PER_SECOND",
              help="Requests per second each user (or API key's user) may make on average; 0: no limit.")
@click.option("--burst", default=200, show_default=True, type=click.IntRange(min=1),
              help="Requests a user may make at once before the rate limit applies (429 with Retry-After).")
@click.option("--write-openapi", type=click.Path(dir_okay=False, writable=True), default=None, metavar="FILE",
              help="Write the API's OpenAPI document to FILE and exit (no database needed).")
@click.pass_context
def serve(ctx: click.Context, db_url: str | None, profile: str | None, host: str, port: int,
          certfile: str | None, keyfile: str | None, log_level: str, forwarded_allow_ips: str,
          rate_limit: float, burst: int, write_openapi: str | None) -> None:
    """Serve the store API over HTTP(S) for the database.

    Health is at /health, the API's document at /openapi.json. The server listens on loopback unless
    --host says otherwise; for other machines, put it behind a reverse proxy that terminates TLS, or
    give --certfile and --keyfile.
    """
    from backoffice.server import create_app_for_url, openapi_text

    if write_openapi:
        Path(write_openapi).write_text(openapi_text(create_app_for_url("sqlite://")), encoding="utf-8")
        click.echo(f"Wrote the OpenAPI document to {write_openapi}.")
        return
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together: give both for HTTPS, or neither.")
    obj: Context = ctx.find_root().obj
    if db_url is not None:
        obj.db_url_option = db_url
    if profile is not None:
        obj.profile_option = profile
    url, _profile = obj.target()
    app = create_app_for_url(url, rate=rate_limit, burst=burst)
    schema = app.state.store.check()     # fail now, in one line, rather than at the first request
    if not schema.up_to_date:
        app.state.store.close()
        click.echo(f"backoffice: error: {schema.problem or 'the database schema is not current'}", err=True)
        ctx.exit(EXIT_ERROR)
    if not certfile and not _is_loopback(host):
        click.echo(f"backoffice: warning: serving plain HTTP on {host}; use a reverse proxy with TLS, or "
                   "--certfile and --keyfile", err=True)

    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("backoffice.server").setLevel(log_level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)   # the schema check of every /health, unlogged
    scheme = "https" if certfile else "http"
    click.echo(f"Serving {app.state.store.operations().url} at {scheme}://{host}:{port} (Ctrl+C stops).", err=True)
    uvicorn.run(app, host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile, log_level=log_level.lower(),
                access_log=False, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
