"""``flask audit verify``: re-compute the audit chain."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
def verify() -> None:
    """Re-compute every hash of the audit chain; exit 1 naming the first bad row."""
    from app.audit.service import verify_chain

    result = verify_chain()
    if not result.ok:
        click.echo(f"audit chain BROKEN at row {result.first_bad_id}: {result.problem}")
        sys.exit(1)
    click.echo(f"audit chain OK: {result.checked} entries")
    if result.head_hash:
        # Kept elsewhere, the head hash also reveals a later removal of the newest rows.
        click.echo(f"head hash: {result.head_hash}")
