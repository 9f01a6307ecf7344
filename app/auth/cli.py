"""``flask users ...``: create accounts and issue API tokens."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.auth import service
from app.auth.roles import Role
from app.extensions import db

users_cli = AppGroup("users", help="Manage user accounts and API tokens.")


@users_cli.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]), required=True)
@click.password_option()
@click.option("--inspector-id", type=int)
def create(username: str, display_name: str, roles: tuple[str, ...], password: str, inspector_id: int | None) -> None:
    """Create a user holding one or more roles."""
    service.create_user(username, password, display_name, roles, inspector_id=inspector_id)
    db.session.commit()
    click.echo(f"created {username}")


@users_cli.command("token")
@click.argument("username")
@click.option("--label", default="cli")
def token(username: str, label: str) -> None:
    """Issue a bearer token for USERNAME and print it (it is shown only once)."""
    user = service.get_user_by_username(username)
    click.echo(service.issue_token(user, label))


@users_cli.command("revoke-tokens")
@click.argument("username")
def revoke(username: str) -> None:
    """Revoke every bearer token of USERNAME."""
    count = service.revoke_tokens(service.get_user_by_username(username))
    click.echo(f"revoked {count}")
