"""The working-day calendar: which years are known, and the exceptions to the weekend rule.

A day not stored is a working day from Monday to Friday and a rest day on Saturday and
Sunday. Stored days override that: official holidays (``is_working_day`` False; those
that fall on a weekend are stored too, as the State Council's notice lists them, so the
page shows the whole holiday) and make-up working days on weekends (True).
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


class CalendarSource(StrEnum):
    PACKAGE = "chinesecalendar"  # seeded from the chinesecalendar package
    BUREAU = "bureau"  # entered on the admin page


class CalendarYear(db.Model):
    """A year the calendar knows about; ``maintained``: its official calendar is complete."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16))
    maintained: Mapped[bool] = mapped_column(default=False)
    # Changes on every edit of the year or its days: processes compare it with what they
    # cached (a random token, not a counter, so that a year deleted and re-created never
    # repeats an old value).
    revision: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CalendarDay(db.Model):
    """An exception to the weekend rule."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    is_working_day: Mapped[bool]
    name: Mapped[str] = mapped_column(String(64))  # e.g. 国庆节, 国庆节调休上班
    source: Mapped[str] = mapped_column(String(16))
