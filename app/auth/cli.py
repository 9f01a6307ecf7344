"""``flask users ...``: create accounts and issue API tokens."""
from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup

from app.auth import service
from app.auth.roles import Role
from app.extensions import db

users_cli = AppGroup("users", help="Manage user accounts and API tokens.")


def _audit(action: str, user: Any, details: dict[str, Any]) -> None:
    """Audited like the admin pages, with no acting user: whoever runs the CLI has the server."""
    from app.audit import service as audit

    audit.record(action, actor=None, subject_type="user", subject_id=user.id,
                 details={"username": user.username, "via": "cli"} | details)


@users_cli.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]), required=True)
@click.password_option()
@click.option("--inspector-id", type=int)
def create(username: str, display_name: str, roles: tuple[str, ...], password: str, inspector_id: int | None) -> None:
    """Create a user holding one or more roles."""
    user = service.create_user(username, password, display_name, roles, inspector_id=inspector_id)
    db.session.flush()
    _audit("user.created", user, {"display_name": display_name, "roles": sorted(roles),
                                  "inspector_id": inspector_id, "password": "set"})
    db.session.commit()
    click.echo(f"created {username}")


@users_cli.command("token")
@click.argument("username")
@click.option("--label", default="cli")
def token(username: str, label: str) -> None:
    """Issue a bearer token for USERNAME and print it (it is shown only once)."""
    user = service.get_user_by_username(username)
    token = service.issue_token(user, label)
    _audit("user.token_issued", user, {"label": label})
    db.session.commit()
    click.echo(token)


@users_cli.command("revoke-tokens")
@click.argument("username")
def revoke(username: str) -> None:
    """Revoke every bearer token of USERNAME."""
    user = service.get_user_by_username(username)
    count = service.revoke_tokens(user)
    _audit("user.tokens_revoked", user, {"revoked": count})
    db.session.commit()
    click.echo(f"revoked {count}")
