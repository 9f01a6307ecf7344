"""User-task properties read from ``spiffworkflow:properties`` and their meaning.

A user task in a diagram declares::

    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="plans.legal_review" />
        <spiffworkflow:property name="dueInDays" value="5" />
        <spiffworkflow:property name="assigneeFrom" value="drafter_id" />
        <spiffworkflow:property name="candidatesFrom" value="leader_ids" />
        <spiffworkflow:property name="excludeUsersFrom" value="drafter_id,legal_reviewer_id" />
        <spiffworkflow:property name="title" value="Legal review" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>

The lane name is the role code that may act on the task.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.errors import DomainError

KNOWN_PROPERTIES = frozenset({"formKey", "dueInDays", "assigneeFrom", "candidatesFrom", "excludeUsersFrom", "title"})


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

    @classmethod
    def of(cls, task_spec: Any) -> TaskProperties:
        """Parse (and check) the properties of a user task spec."""
        props: dict[str, str] = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
        unknown = set(props) - KNOWN_PROPERTIES
        if unknown:
            raise PropertyError(f"unknown properties {sorted(unknown)}")
        due = props.get("dueInDays")
        due_days: int | None = None
        if due is not None:
            try:
                due_days = int(due)
            except ValueError:
                raise PropertyError(f"dueInDays must be an integer, not {due!r}") from None
            if due_days < 0:
                raise PropertyError("dueInDays must not be negative")
        excluded = tuple(n.strip() for n in props.get("excludeUsersFrom", "").split(",") if n.strip())
        return cls(
            form_key=props.get("formKey", "").strip(),
            due_in_days=due_days,
            assignee_from=(props.get("assigneeFrom") or "").strip() or None,
            candidates_from=(props.get("candidatesFrom") or "").strip() or None,
            exclude_users_from=excluded,
            title=(props.get("title") or "").strip() or None,
        )

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


def compute_due_at(created_at: datetime, days: int | None) -> datetime | None:
    """When a task created at ``created_at`` with ``dueInDays=days`` falls due.

    Calendar days for now; the working-day calendar replaces this one function.
    """
    if days is None:
        return None
    return created_at + timedelta(days=days)
