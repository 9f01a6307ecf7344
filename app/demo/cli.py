"""``flask demo ...``: load the demo data."""
from __future__ import annotations

import importlib
import importlib.util
import time
import unicodedata

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.demo.generate import DEFAULT_ENTITY_COUNT

demo_cli = AppGroup("demo", help="Demo data.")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        lines.append("  ".join(str(c) + " " * (w - _width(str(c))) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def _load_plans() -> str | None:
    """Call ``app.plans.demo.load_plans()`` when that module exists; returns what happened."""
    try:
        spec = importlib.util.find_spec("app.plans.demo")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return None
    module = importlib.import_module("app.plans.demo")
    load_plans = getattr(module, "load_plans", None)
    if load_plans is None:
        return None
    result = load_plans()
    return f"plans: {result}" if result is not None else "plans loaded"


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when any user account exists.")
@click.option("--entities", "entity_count", type=int, default=DEFAULT_ENTITY_COUNT, show_default=True,
              help="How many entities to generate.")
def load(if_empty: bool, entity_count: int) -> None:
    """Load departments, check items, entities, inspectors, demo logins and plans."""
    from app.auth.models import User
    from app.demo.load import load_directories, load_inspector_logins, load_users
    from app.directory.models import Department
    from app.extensions import db
    from app.workdays.service import seed_from_package

    if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
        from app.demo.load import DEMO_PASSWORD, DEMO_USERS

        click.echo("Users exist already: demo data not loaded again. The demo logins, if not changed since:")
        click.echo(_table(("username", "password", "roles"),
                          [(u, DEMO_PASSWORD, ", ".join(r.value for r in roles)) for u, _, roles, _, _ in DEMO_USERS]))
        return
    if db.session.scalar(select(Department.id).where(Department.code == "JC-SAMR")) is not None:
        raise click.ClickException("demo departments exist already; load the demo into an empty database")
    started = time.perf_counter()
    try:
        counts = load_directories(db.session, entities=entity_count)
        logins = load_users(db.session)
        inspector_logins = load_inspector_logins(db.session)
        seed_from_package()  # the working-day calendar, 2004-2026
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    click.echo(f"Loaded {summary}, {len(logins)} users in {time.perf_counter() - started:.1f} s.")
    plans = _load_plans()
    if plans:
        click.echo(plans)
        from app.demo.cases import load_cases

        click.echo(f"cases: {load_cases()}")
    click.echo(f"Demo data loaded in {time.perf_counter() - started:.1f} s.")
    click.echo()
    click.echo(_table(("username", "password", "roles"), [(u, p, ", ".join(r)) for u, p, r in logins]))
    click.echo(f"... and {inspector_logins} more inspector logins: username = certificate number, same password.")


@demo_cli.command("entities")
@click.argument("count", type=click.IntRange(min=1))
@click.option("--seed", type=int, default=None, help="Generator seed (default: the demo seed).")
def entities(count: int, seed: int | None) -> None:
    """Add COUNT more generated entities (for benchmarks); commits chunk by chunk."""
    from app.demo.generate import DEFAULT_SEED
    from app.demo.load import add_entities
    from app.extensions import db

    started = time.perf_counter()
    added = add_entities(db.session, count, seed=DEFAULT_SEED if seed is None else seed, chunk_size=10_000,
                         commit=True)
    elapsed = time.perf_counter() - started
    click.echo(f"Added {added} entities in {elapsed:.1f} s ({added / max(elapsed, 1e-9):,.0f}/s).")
