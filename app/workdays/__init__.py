"""Working days in Asia/Shanghai (``service``), the calendar's admin page and CLI."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Give the workflow engine this calendar for ``dueInWorkingDays`` (the engine cannot import the app)."""
    from app.workdays.service import due_after_working_days
    from workflows.properties import set_working_day_calendar

    set_working_day_calendar(due_after_working_days)
