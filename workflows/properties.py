"""User-task properties read from ``spiffworkflow:properties`` and their meaning.

A user task in a diagram declares::

    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="plans.legal_review" />
        <spiffworkflow:property name="dueInDays" value="5" />
        <spiffworkflow:property name="dueInWorkingDays" value="7" />
        <spiffworkflow:property name="dueAtFrom" value="results_due_at" />
        <spiffworkflow:property name="assigneeFrom" value="drafter_id" />
        <spiffworkflow:property name="candidatesFrom" value="leader_ids" />
        <spiffworkflow:property name="excludeUsersFrom" value="drafter_id,legal_reviewer_id" />
        <spiffworkflow:property name="title" value="Legal review" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>

The lane name is the role code that may act on the task.

When a task falls due (``TaskProperties.due_at``):

* ``dueAtFrom`` names a task-data variable holding the due instant as an ISO 8601
  datetime with an offset (a bare date means the end of that day in Asia/Shanghai).
  It wins when the variable holds a value; when it is unset or empty, the task falls
  due as ``dueInDays`` / ``dueInWorkingDays`` say, or never.
* ``dueInDays``: that many calendar days (24 h each) after the task was created.
* ``dueInWorkingDays``: at the end (24:00 Asia/Shanghai) of the n-th working day after
  the day, in Asia/Shanghai, the task was created. Working days come from the calendar
  the application registers with :func:`set_working_day_calendar` (``app.workdays``),
  so that this package does not import the application.

``dueInDays`` and ``dueInWorkingDays`` exclude each other.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from app.errors import DomainError

KNOWN_PROPERTIES = frozenset({
    "formKey", "dueInDays", "dueInWorkingDays", "dueAtFrom", "assigneeFrom", "candidatesFrom", "excludeUsersFrom",
    "title",
})
# Working days and due days are counted where the bureau works.
LOCAL_TIMEZONE = ZoneInfo("Asia/Shanghai")

# (start day, n) -> the instant the n-th working day after ``start`` ends (aware).
WorkingDayCalendar = Callable[[date, int], datetime]
_working_day_calendar: WorkingDayCalendar | None = None


def set_working_day_calendar(calendar: WorkingDayCalendar | None) -> None:
    """Register the function that ``dueInWorkingDays`` counts with (None removes it).

    Process-wide: the application registers its calendar at start-up.
    """
    global _working_day_calendar
    _working_day_calendar = calendar


class PropertyError(DomainError):
    """A property value that cannot be used (bad diagram or bad task data)."""

    status_code = 500


@dataclass(frozen=True)
class TaskProperties:
    form_key: str
    due_in_days: int | None
    assignee_from: str | None
    candidates_from: str | None
    exclude_users_from: tuple[str, ...]
    title: str | None
    due_in_working_days: int | None = None
    due_at_from: str | None = None

    @classmethod
    def of(cls, task_spec: Any) -> TaskProperties:
        """Parse (and check) the properties of a user task spec."""
        props: dict[str, str] = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
        unknown = set(props) - KNOWN_PROPERTIES
        if unknown:
            raise PropertyError(f"unknown properties {sorted(unknown)}")
        due_days = _count(props, "dueInDays")
        due_working_days = _count(props, "dueInWorkingDays")
        if due_days is not None and due_working_days is not None:
            raise PropertyError("dueInDays and dueInWorkingDays exclude each other")
        excluded = tuple(n.strip() for n in props.get("excludeUsersFrom", "").split(",") if n.strip())
        return cls(
            form_key=props.get("formKey", "").strip(),
            due_in_days=due_days,
            assignee_from=(props.get("assigneeFrom") or "").strip() or None,
            candidates_from=(props.get("candidatesFrom") or "").strip() or None,
            exclude_users_from=excluded,
            title=(props.get("title") or "").strip() or None,
            due_in_working_days=due_working_days,
            due_at_from=(props.get("dueAtFrom") or "").strip() or None,
        )

    def due_at(self, created_at: datetime, data: dict[str, Any] | None = None) -> datetime | None:
        """When a task with these properties, created at ``created_at`` with ``data``, falls due."""
        if self.due_at_from is not None:
            due = parse_due_instant((data or {}).get(self.due_at_from), self.due_at_from)
            if due is not None:
                return due
        return compute_due_at(created_at, self.due_in_days, self.due_in_working_days)

    def assignee(self, data: dict[str, Any]) -> int | None:
        """The user id named by ``assigneeFrom``, if the variable is set."""
        if self.assignee_from is None:
            return None
        return _user_id(data.get(self.assignee_from), self.assignee_from)

    def candidates(self, data: dict[str, Any]) -> list[int]:
        """The user ids listed by ``candidatesFrom`` (empty: role-based only)."""
        if self.candidates_from is None:
            return []
        return _user_ids(data.get(self.candidates_from), self.candidates_from)

    def excluded(self, data: dict[str, Any]) -> list[int]:
        """The user ids named by every ``excludeUsersFrom`` variable."""
        ids: set[int] = set()
        for name in self.exclude_users_from:
            ids.update(_user_ids(data.get(name), name))
        return sorted(ids)


def _count(props: dict[str, str], name: str) -> int | None:
    value = props.get(name)
    if value is None:
        return None
    try:
        count = int(value)
    except ValueError:
        raise PropertyError(f"{name} must be an integer, not {value!r}") from None
    if count < 0:
        raise PropertyError(f"{name} must not be negative")
    return count


def _user_id(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PropertyError(f"variable {name!r} must hold a user id, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise PropertyError(f"variable {name!r} must hold a user id, not {value!r}") from None


def _user_ids(value: Any, name: str) -> list[int]:
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple, set)) else [value]
    return sorted({uid for uid in (_user_id(v, name) for v in values) if uid is not None})


def compute_due_at(created_at: datetime, days: int | None, working_days: int | None = None) -> datetime | None:
    """When a task created at ``created_at`` with ``dueInDays=days`` or ``dueInWorkingDays=working_days`` falls due.

    Calendar days are added as they are; working days end at 24:00 Asia/Shanghai of the
    n-th working day after the creation day (local), by the registered calendar.
    """
    if days is not None:
        return created_at + timedelta(days=days)
    if working_days is None:
        return None
    calendar = _working_day_calendar
    if calendar is None:
        raise PropertyError("dueInWorkingDays needs a working-day calendar (set_working_day_calendar)")
    return calendar(created_at.astimezone(LOCAL_TIMEZONE).date(), working_days).astimezone(timezone.utc)


def parse_due_instant(value: Any, name: str) -> datetime | None:
    """The due instant a ``dueAtFrom`` variable holds: None when unset or empty.

    An ISO datetime needs an offset (a naive one could be UTC or local, and eight hours
    apart); a bare ISO date stands for the end of that day in Asia/Shanghai.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
        except ValueError:
            raise PropertyError(f"variable {name!r} must hold an ISO date or datetime, not {text!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PropertyError(f"variable {name!r} holds a datetime without an offset: {value.isoformat()}")
        return value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1), time(0), tzinfo=LOCAL_TIMEZONE).astimezone(timezone.utc)
    raise PropertyError(f"variable {name!r} must hold an ISO date or datetime, not {value!r}")
