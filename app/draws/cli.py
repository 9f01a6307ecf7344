"""``flask draws verify ID``: re-compute a stored round with the independent verifier."""
from __future__ import annotations

import importlib.util
import sys

import click
from flask.cli import AppGroup

from app.config import PROJECT_ROOT

draws_cli = AppGroup("draws", help="Draws.")


def load_verifier():  # type: ignore[no-untyped-def]
    """tools/verify_draw.py, the stdlib-only verifier anyone can run, as a module."""
    spec = importlib.util.spec_from_file_location("verify_draw", PROJECT_ROOT / "tools" / "verify_draw.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@draws_cli.command("verify")
@click.argument("draw_id", type=int)
def verify(draw_id: int) -> None:
    """Verify round DRAW_ID from its stored dossier; exit 1 listing what differs."""
    from app.draws.service import get_draw, load_dossier

    problems = load_verifier().verify(load_dossier(get_draw(draw_id)))
    if problems:
        for line in problems:
            click.echo(line)
        sys.exit(1)
    click.echo(f"OK: draw {draw_id} verifies")
