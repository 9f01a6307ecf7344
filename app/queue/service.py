"""Task queues: "my tasks" and "my groups' tasks", with filters, sort and paging.

Both queues are built to stay fast over a million task rows: each query walks
one composite index (state, role|assignee, due_at) in order and stops at the
page, and counts are capped instead of counting every matching row.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, exists, func, nulls_last, select

from app.auth.models import User
from app.db import utcnow
from app.extensions import db
from workflows import engine
from workflows.models import HumanTask, HumanTaskCandidate, HumanTaskState, ProcessEvent

COUNT_CAP = 1000
SORTS = ("due", "-due")


@dataclass
class QueueFilters:
    role: str | None = None
    bpmn_id: str | None = None
    subject_type: str | None = None
    overdue: bool = False
    q: str | None = None
    sort: str = "due"


@dataclass
class QueueRow:
    task: HumanTask
    can_act: bool


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    total_capped: bool  # True when there are more than COUNT_CAP
    page: int
    per_page: int
    filters: QueueFilters = field(default_factory=QueueFilters)


def _filtered(query: Select, filters: QueueFilters, now: datetime) -> Select:
    if filters.bpmn_id:
        query = query.where(HumanTask.bpmn_id == filters.bpmn_id)
    if filters.subject_type:
        query = query.where(HumanTask.subject_type == filters.subject_type)
    if filters.overdue:
        query = query.where(HumanTask.due_at < now)
    if filters.q:
        query = query.where(HumanTask.subject_title.contains(filters.q.strip(), autoescape=True))
    return query


def _ordered(query: Select, sort: str) -> Select:
    if sort == "-due":
        return query.order_by(HumanTask.due_at.desc().nulls_first(), HumanTask.id.desc())
    return query.order_by(nulls_last(HumanTask.due_at.asc()), HumanTask.id)


def _sort_key(sort: str):  # type: ignore[no-untyped-def]
    far = datetime.max.replace(tzinfo=utcnow().tzinfo)
    if sort == "-due":
        return lambda t: (-(t.due_at or far).timestamp(), -t.id)
    return lambda t: ((t.due_at or far).timestamp(), t.id)


def _capped_count(query: Select) -> tuple[int, bool]:
    limited = query.with_only_columns(HumanTask.id).order_by(None).limit(COUNT_CAP + 1).subquery()
    n = db.session.scalar(select(func.count()).select_from(limited)) or 0
    return min(n, COUNT_CAP), n > COUNT_CAP


def _page(queries: list[Select], filters: QueueFilters, user: User, page: int, per_page: int) -> QueuePage:
    now = utcnow()
    queries = [_filtered(q, filters, now) for q in queries]
    wanted = page * per_page
    # One ordered, limited index walk per query, merged here: cheaper than one OR query
    # that the database would have to sort as a whole.
    streams = [db.session.scalars(_ordered(q, filters.sort).limit(wanted)).all() for q in queries]
    merged = list(heapq.merge(*streams, key=_sort_key(filters.sort)))
    seen: set[int] = set()
    unique = [t for t in merged if not (t.id in seen or seen.add(t.id))]  # type: ignore[func-returns-value]
    tasks = unique[(page - 1) * per_page : wanted]
    total, capped = 0, False
    for q in queries:
        n, c = _capped_count(q)
        total, capped = total + n, capped or c
    candidate_ids = _candidate_task_ids([t.id for t in tasks if t.has_candidates])
    rows = [QueueRow(t, engine.can_act(t, user, candidates=candidate_ids.get(t.id))) for t in tasks]
    return QueuePage(rows, total, capped, page, per_page, filters)


def _candidate_task_ids(task_ids: list[int]) -> dict[int, set[int]]:
    if not task_ids:
        return {}
    out: dict[int, set[int]] = {}
    for task_id, user_id in db.session.execute(
        select(HumanTaskCandidate.task_id, HumanTaskCandidate.user_id).where(HumanTaskCandidate.task_id.in_(task_ids))
    ):
        out.setdefault(task_id, set()).add(user_id)
    return out


def my_tasks(user: User, filters: QueueFilters | None = None, *, page: int = 1, per_page: int = 50) -> QueuePage:
    """Open tasks assigned to ``user``, or naming them as a candidate and not yet claimed."""
    filters = filters or QueueFilters()
    ready = HumanTask.state == HumanTaskState.READY
    assigned = select(HumanTask).where(ready, HumanTask.assignee_id == user.id)
    named = select(HumanTask).where(
        ready,
        HumanTask.assignee_id.is_(None),
        HumanTask.has_candidates.is_(True),
        exists().where(HumanTaskCandidate.task_id == HumanTask.id, HumanTaskCandidate.user_id == user.id),
    )
    if filters.role:
        assigned, named = assigned.where(HumanTask.role == filters.role), named.where(HumanTask.role == filters.role)
    return _page([assigned, named], filters, user, page, per_page)


def group_tasks(user: User, filters: QueueFilters | None = None, *, page: int = 1, per_page: int = 50) -> QueuePage:
    """Unclaimed open tasks in the lanes of the user's roles, open to anyone holding the role."""
    filters = filters or QueueFilters()
    roles = sorted(user.role_names)
    if filters.role:
        roles = [r for r in roles if r == filters.role]
    queries = [
        select(HumanTask).where(
            HumanTask.state == HumanTaskState.READY,
            HumanTask.role == role,
            HumanTask.assignee_id.is_(None),
            HumanTask.has_candidates.is_(False),
        )
        for role in roles
    ]
    if not queries:
        return QueuePage([], 0, False, page, per_page, filters)
    return _page(queries, filters, user, page, per_page)


@dataclass
class PathStep:
    at: datetime
    bpmn_id: str
    element_type: str
    element_name: str
    event: str
    user_name: str | None
    data: dict


def path_view(instance_id: int | None) -> list[PathStep]:
    """An instance's recorded path with the names of the people who acted."""
    if instance_id is None:
        return []
    events: list[ProcessEvent] = engine.instance_path(instance_id)
    user_ids = {e.user_id for e in events if e.user_id}
    names = (
        dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).tuples().all())
        if user_ids
        else {}
    )
    return [
        PathStep(e.at, e.bpmn_id, e.element_type, e.element_name, e.event, names.get(e.user_id), e.data or {})
        for e in events
    ]
