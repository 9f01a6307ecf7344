"""SQL expressions the checks and figures share, written once per database dialect."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.cases.models import InspectionCase
from app.plans.models import Plan, SpotCheckTask


class shanghai_date(FunctionElement):  # noqa: N801 - used like a SQL function
    """The calendar day in Asia/Shanghai of a UTC timestamp column.

    Deadlines are days in Beijing time (a result due on the 29th may be entered until
    midnight there), so a timestamp is compared with a due date as its Beijing day, in
    SQL, instead of fetching every row. China has kept UTC+8 without daylight saving
    since 1991, which is what makes SQLite's fixed offset exact.
    """

    type = Date()
    inherit_cache = True
    name = "shanghai_date"


@compiles(shanghai_date, "sqlite")
def _sqlite_shanghai_date(element: shanghai_date, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(shanghai_date, "postgresql")
def _pg_shanghai_date(element: shanghai_date, compiler: Any, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Shanghai' AS DATE)"


def of_plan_year(query: Select, year: int | None) -> Select:
    """Join a query over inspection_case to its task and plan; restrict it to ``year``'s plans when given."""
    query = query.join(SpotCheckTask, SpotCheckTask.id == InspectionCase.spot_check_task_id).join(
        Plan, Plan.id == SpotCheckTask.plan_id)
    return query if year is None else query.where(Plan.year == year)
