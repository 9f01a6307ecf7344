"""Working days in Asia/Shanghai: weekends off, official holidays off, make-up working days on.

The database is the source of truth (``CalendarYear``, ``CalendarDay``). The years the
``chinesecalendar`` package knows (2004-2026 in 1.11.0) are copied into it by
``seed_from_package``; later years are entered by the bureau on the admin page, and every
change is written to the audit log. A day in a year that is not *maintained* (no complete
official calendar) counts by the weekend rule plus whatever exceptions were entered so far,
and the resulting ``Deadline`` says so (``assumed_weekends_only``), for the case to show.

Seeding, and why it is also lazy: ``flask workdays seed`` and ``flask demo load`` seed the
calendar, but a database can be built without either (tests build the schema from the
migration and empty every table after each test; a production database may be migrated
and used at once). Rather than fall back on the package in memory, which would make two
sources of truth, the first computation that reaches a year the package covers but the
database does not hold calls ``ensure_seeded()``, which copies the package's missing years
into the database in the caller's transaction (audited as ``calendar.seeded``). A year the
bureau has started (it has a row) is never seeded over.

Each process caches a year's exceptions; every edit gives the year a new random
``revision``, which each computation compares with its cache, so that every worker
process sees an edit at its next computation.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from app.audit import service as audit
from app.auth.models import User
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.i18n import lazy_text as _l
from app.workdays.models import CalendarDay, CalendarSource, CalendarYear

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIN_YEAR, MAX_YEAR = 2000, 2100
MAKE_UP_SUFFIX = "调休上班"  # "国庆节" -> "国庆节调休上班": the weekend day worked in exchange
MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class Deadline:
    """A computed day, and whether a year without a maintained calendar was involved."""

    day: date
    assumed_weekends_only: bool = False
    years_without_calendar: tuple[int, ...] = ()


@dataclass(frozen=True)
class YearSummary:
    """One row of the years list of the admin page."""

    year: int
    source: str | None  # None: nothing stored for the year
    maintained: bool
    holidays: int
    working_days: int
    updated_at: datetime | None


@dataclass(frozen=True)
class _YearCalendar:
    revision: str | None
    maintained: bool
    exceptions: dict[date, bool]  # day -> is a working day


_NO_CALENDAR = _YearCalendar(None, False, {})
_cache: dict[int, _YearCalendar] = {}
_cache_lock = threading.Lock()


def clear_cache(year: int | None = None) -> None:
    """Forget the cached exceptions of ``year`` (or of every year)."""
    with _cache_lock:
        if year is None:
            _cache.clear()
        else:
            _cache.pop(year, None)


# --------------------------------------------------------------------------- the package


@lru_cache(maxsize=1)
def _package_days() -> dict[date, tuple[bool, str]]:
    """Every exception the chinesecalendar package lists: day -> (working day?, Chinese name)."""
    import chinese_calendar

    names = {h.value: h.chinese for h in chinese_calendar.Holiday}
    days: dict[date, tuple[bool, str]] = {}
    for day, holiday in chinese_calendar.holidays.items():
        days[day] = (False, names.get(holiday, holiday))
    for day, holiday in chinese_calendar.workdays.items():
        days[day] = (True, names.get(holiday, holiday) + MAKE_UP_SUFFIX)
    return days


@lru_cache(maxsize=1)
def package_years() -> frozenset[int]:
    """The years the chinesecalendar package has an official calendar for."""
    return frozenset(d.year for d in _package_days())


def _new_revision() -> str:
    return uuid.uuid4().hex


def seed_from_package() -> int:
    """Copy every package year the database does not hold yet; returns how many days were added.

    Idempotent: a year that already has a row (seeded before, or started by the bureau) is
    left as it is, so edits made on the admin page survive. Runs in the caller's transaction.
    """
    audit.lock_chain()  # taken before reading, so that concurrent seeders run one after another
    existing = set(db.session.scalars(select(CalendarYear.year)))
    years = sorted(package_years() - existing)
    if not years:
        return 0
    wanted = set(years)
    stored = set(db.session.scalars(
        select(CalendarDay.day).where(CalendarDay.day.between(date(years[0], 1, 1), date(years[-1], 12, 31)))
    ))
    rows = [
        {"day": day, "is_working_day": working, "name": name[:MAX_NAME_LENGTH], "source": CalendarSource.PACKAGE.value}
        for day, (working, name) in sorted(_package_days().items())
        if day.year in wanted and day not in stored
    ]
    db.session.execute(insert(CalendarYear), [
        {"year": y, "source": CalendarSource.PACKAGE.value, "maintained": True, "revision": _new_revision()}
        for y in years
    ])
    if rows:
        db.session.execute(insert(CalendarDay), rows)
    audit.record("calendar.seeded", actor=None, subject_type="calendar",
                 details={"years": years, "days": len(rows), "source": CalendarSource.PACKAGE.value})
    clear_cache()
    return len(rows)


def ensure_seeded() -> int:
    """``seed_from_package()`` if some package year is missing from the database (cheap otherwise)."""
    years = package_years()
    present = db.session.scalar(
        select(func.count()).select_from(CalendarYear).where(CalendarYear.year.in_(years))
    )
    if present == len(years):
        return 0
    return seed_from_package()


# --------------------------------------------------------------------------- computing


def _year_calendar(year: int) -> _YearCalendar:
    # No autoflush: the engine computes due dates while its own rows are half built.
    with db.session.no_autoflush:
        row = db.session.execute(
            select(CalendarYear.revision, CalendarYear.maintained).where(CalendarYear.year == year)
        ).first()
        if row is None and year in package_years():
            ensure_seeded()  # see the module docstring
            row = db.session.execute(
                select(CalendarYear.revision, CalendarYear.maintained).where(CalendarYear.year == year)
            ).first()
        if row is None:
            return _NO_CALENDAR
        cached = _cache.get(year)
        if cached is not None and cached.revision == row.revision:
            return cached
        exceptions = dict(db.session.execute(
            select(CalendarDay.day, CalendarDay.is_working_day)
            .where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        ).tuples().all())
    calendar = _YearCalendar(row.revision, row.maintained, exceptions)
    with _cache_lock:
        _cache[year] = calendar
    return calendar


class _Walk:
    """The calendar as one computation sees it: each year read once, unmaintained years noted."""

    def __init__(self) -> None:
        self.years: dict[int, _YearCalendar] = {}
        self.without_calendar: set[int] = set()

    def is_working_day(self, day: date) -> bool:
        calendar = self.years.get(day.year)
        if calendar is None:
            calendar = self.years[day.year] = _year_calendar(day.year)
        if not calendar.maintained:
            self.without_calendar.add(day.year)
        stored = calendar.exceptions.get(day)
        return day.weekday() < 5 if stored is None else stored

    def deadline(self, day: date) -> Deadline:
        years = tuple(sorted(self.without_calendar))
        return Deadline(day, bool(years), years)


def _steps(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"a number of working days must be an integer >= 0, not {n!r}")
    return n


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a working day (a year without a calendar: Monday to Friday)."""
    return _Walk().is_working_day(d)


def add_working_days(start: date, n: int) -> Deadline:
    """The n-th working day after ``start``, counting from the next day (``start`` itself when n = 0).

    Example: 7 working days after 2024-09-27 is 2024-10-12 (two make-up Sundays/Saturdays
    count, the National Day week does not).
    """
    walk, day = _Walk(), start
    for _ in range(_steps(n)):
        day += timedelta(days=1)
        while not walk.is_working_day(day):
            day += timedelta(days=1)
    return walk.deadline(day)


def working_days_before(day: date, n: int) -> Deadline:
    """The working day n working days before ``day``, counting from the day before (``day`` when n = 0)."""
    walk, current = _Walk(), day
    for _ in range(_steps(n)):
        current -= timedelta(days=1)
        while not walk.is_working_day(current):
            current -= timedelta(days=1)
    return walk.deadline(current)


def deadline_instant(day: date) -> datetime:
    """The end of ``day`` in Asia/Shanghai: the next day at 00:00 +08:00 (aware)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def morning_of(day: date) -> datetime:
    """09:00 of ``day`` in Asia/Shanghai (aware)."""
    return datetime.combine(day, time(9), tzinfo=SHANGHAI)


def due_after_working_days(start: date, n: int) -> datetime:
    """The end of the n-th working day after ``start``: what ``dueInWorkingDays`` uses."""
    return deadline_instant(add_working_days(start, n).day)


# --------------------------------------------------------------------------- reading the tables


def get_year(year: int) -> CalendarYear | None:
    """The stored year, if any."""
    return db.session.get(CalendarYear, year)


def year_days(year: int) -> list[CalendarDay]:
    """The exceptions stored for ``year``, by date."""
    return list(db.session.scalars(
        select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(CalendarDay.day)
    ))


def list_years(also: Iterable[int] = ()) -> list[YearSummary]:
    """Every stored year, plus the years in ``also`` (shown as having no calendar), newest first."""
    counts: dict[tuple[int, bool], int] = {}
    year_of = func.extract("year", CalendarDay.day)
    for year, working, count in db.session.execute(
        select(year_of, CalendarDay.is_working_day, func.count()).group_by(year_of, CalendarDay.is_working_day)
    ):
        counts[(int(year), bool(working))] = count
    summaries = {
        row.year: YearSummary(row.year, row.source, row.maintained, counts.get((row.year, False), 0),
                              counts.get((row.year, True), 0), row.updated_at)
        for row in db.session.scalars(select(CalendarYear))
    }
    for year in also:
        if year not in summaries:
            summaries[year] = YearSummary(year, None, False, 0, 0, None)
    return sorted(summaries.values(), key=lambda s: s.year, reverse=True)


# --------------------------------------------------------------------------- the bureau's edits


def _check_year(year: int, field: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed({field: [_l("the year must lie between %(first)d and %(last)d",
                                           first=MIN_YEAR, last=MAX_YEAR)]})


def _year_row(year: int) -> CalendarYear:
    """The year's row, created (by the bureau, not maintained) when missing; gets a new revision."""
    row = db.session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, source=CalendarSource.BUREAU.value, maintained=False)
        db.session.add(row)
    row.revision = _new_revision()
    return row


def _day_details(row: CalendarDay) -> dict:
    return {"day": row.day.isoformat(), "is_working_day": row.is_working_day, "name": row.name, "source": row.source}


def _prepare_edit() -> None:
    # The audit lock first, then the package years: a package year edited before it was ever
    # seeded would otherwise get a bureau row and never receive the package's days.
    audit.lock_chain()
    ensure_seeded()


def add_day(day: date, is_working_day: bool, name: str, actor: User) -> CalendarDay:
    """Store (or replace) an exception: a holiday, or a make-up working day on a weekend; audited."""
    name = (name or "").strip()
    errors: dict[str, list] = {}
    if not name:
        errors["name"] = [_l("required")]
    elif len(name) > MAX_NAME_LENGTH:
        errors["name"] = [_l("at most %(n)d characters", n=MAX_NAME_LENGTH)]
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        errors["day"] = [_l("the year must lie between %(first)d and %(last)d", first=MIN_YEAR, last=MAX_YEAR)]
    elif is_working_day and day.weekday() < 5:
        errors["day"] = [_l("a make-up working day must be a Saturday or a Sunday")]
    if errors:
        raise ValidationFailed(errors)
    _prepare_edit()
    _year_row(day.year)
    row = db.session.get(CalendarDay, day)
    before = None if row is None else _day_details(row)
    if row is None:
        row = CalendarDay(day=day)
        db.session.add(row)
    row.is_working_day, row.name, row.source = bool(is_working_day), name, CalendarSource.BUREAU.value
    details = _day_details(row)
    if before is not None:
        details["before"] = before
    audit.record("calendar.day_added" if before is None else "calendar.day_changed", actor=actor,
                 subject_type="calendar_day", subject_id=day.isoformat(), details=details)
    clear_cache(day.year)
    return row


def remove_day(day: date, actor: User) -> None:
    """Delete a stored exception (the day follows the weekend rule again); audited."""
    _prepare_edit()
    row = db.session.get(CalendarDay, day)
    if row is None:
        raise NotFound(_l("%(day)s is not in the calendar", day=day.isoformat()))
    details = _day_details(row)
    _year_row(day.year)
    db.session.delete(row)
    audit.record("calendar.day_removed", actor=actor, subject_type="calendar_day", subject_id=day.isoformat(),
                 details=details)
    db.session.flush()
    clear_cache(day.year)


def mark_year_maintained(year: int, actor: User, maintained: bool = True) -> CalendarYear:
    """Declare that ``year``'s official calendar is complete (or, with False, that it is not); audited."""
    _check_year(year, "year")
    _prepare_edit()
    row = _year_row(year)
    before = bool(row.maintained)
    row.maintained = maintained
    audit.record("calendar.year_maintained" if maintained else "calendar.year_unmaintained", actor=actor,
                 subject_type="calendar_year", subject_id=year,
                 details={"year": year, "maintained": maintained, "was_maintained": before})
    clear_cache(year)
    return row
