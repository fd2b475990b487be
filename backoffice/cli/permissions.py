"""``backoffice users permissions``: the permission table, which every client obeys."""

from __future__ import annotations

import click

from backoffice.cli.admin import users


@users.command("permissions")
@click.option("--role", "role_name", default=None, metavar="ROLE", help="Only what this role may run.")
@click.option("--markdown", is_flag=True, help="The table as docs/permissions.md holds it.")
def permissions_command(role_name: str | None, markdown: bool) -> None:
    """Which role may run each operation (needs no database)."""
    from backoffice.operations.permissions import ANYONE, PERMISSIONS, Role, allowed
    from backoffice.operations.permissions import markdown as as_markdown

    if markdown:
        click.echo(as_markdown(), nl=False)
        return
    roles = list(Role)
    if role_name is not None:
        if role_name not in {r.value for r in roles}:
            raise click.BadParameter(f"{role_name!r} is not one of {', '.join(r.value for r in roles)}",
                                     param_hint="--role")
        role = Role(role_name)
        for operation in sorted(PERMISSIONS):
            if allowed(operation, role):
                click.echo(operation)
        return
    width = max(len(op) for op in PERMISSIONS)
    click.echo(f"{'operation':<{width}}  " + "  ".join(f"{r.value:<12}" for r in roles).rstrip())
    for operation in sorted(PERMISSIONS):
        cells = ["open" if PERMISSIONS[operation] == ANYONE else ("yes" if allowed(operation, r) else "-")
                 for r in roles]
        click.echo(f"{operation:<{width}}  " + "  ".join(f"{c:<12}" for c in cells).rstrip())
