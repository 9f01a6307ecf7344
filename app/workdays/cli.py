"""``flask workdays seed`` and ``flask workdays show YEAR``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

workdays_cli = AppGroup("workdays", help="The working-day calendar.")


@workdays_cli.command("seed")
def seed() -> None:
    """Copy the years of the chinesecalendar package the database does not hold yet."""
    from app.extensions import db
    from app.workdays.service import package_years, seed_from_package

    try:
        added = seed_from_package()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    years = sorted(package_years())
    if added:
        click.echo(f"Seeded {added} days from chinesecalendar ({years[0]}-{years[-1]}).")
    else:
        click.echo(f"Nothing to seed: every chinesecalendar year ({years[0]}-{years[-1]}) is in the database.")


@workdays_cli.command("show")
@click.argument("year", type=int)
def show(year: int) -> None:
    """Print YEAR's status and its exceptions to the weekend rule."""
    from app.workdays.service import get_year, year_days

    row = get_year(year)
    if row is None:
        click.echo(f"{year}: no calendar (weekends only)")
        return
    state = "maintained" if row.maintained else "NOT maintained (weekends only where no day is entered)"
    click.echo(f"{year}: {state}, source {row.source}")
    for day in year_days(year):
        kind = "working day" if day.is_working_day else "holiday"
        click.echo(f"{day.day.isoformat()} {day.day.strftime('%a')}  {kind:<11}  {day.name}  [{day.source}]")
