"""The subjects a trace can be asked for, their titles and the subjects next to them.

A process instance names its subject by ``subject_type`` and ``subject_id``; these are
the four kinds that have a lifecycle diagram. Neighbours are what a reviewer follows
from one trace to the next: a plan's draws, a draw's plan, a case's draw and referral,
a referral's case.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from app.cases.models import InspectionCase
from app.draws.models import Draw, TaskDraw
from app.extensions import db
from app.plans.models import Plan, SpotCheckTask
from app.referrals.models import Referral

PLAN = "plan"
DRAW = "task_draw"
CASE = "inspection_case"
REFERRAL = "referral"
SUBJECT_TYPES = (PLAN, DRAW, CASE, REFERRAL)


@dataclass(frozen=True)
class SubjectRef:
    """A subject named by its type and id, with a title to show and how it relates to another."""

    subject_type: str
    subject_id: int
    title: str
    relation: str = ""  # plan | draw | case | referral: what it is to the subject it was found from


def _plan_title(plan_id: int) -> str | None:
    plan = db.session.get(Plan, plan_id)
    return None if plan is None else f"{plan.code} · {plan.title}"


def _draw_title(task_draw_id: int) -> str | None:
    task_draw = db.session.get(TaskDraw, task_draw_id)
    if task_draw is None:
        return None
    task = task_draw.spot_check_task
    return f"{task.code} {task.name}"


def _case_title(case_id: int) -> str | None:
    case = db.session.get(InspectionCase, case_id)
    return None if case is None else f"{case.code} · {case.entity.name}"


def _referral_title(referral_id: int) -> str | None:
    referral = db.session.get(Referral, referral_id)
    return None if referral is None else f"{referral.case.code} · {referral.case.entity.name}"


_TITLES: dict[str, Callable[[int], str | None]] = {
    PLAN: _plan_title,
    DRAW: _draw_title,
    CASE: _case_title,
    REFERRAL: _referral_title,
}


def subject_title(subject_type: str, subject_id: int) -> str | None:
    """The subject's title, or None when there is no such subject (or no such kind)."""
    title = _TITLES.get(subject_type)
    return None if title is None else title(subject_id)


def _ref(subject_type: str, subject_id: int, relation: str) -> SubjectRef:
    return SubjectRef(subject_type, subject_id, subject_title(subject_type, subject_id) or "", relation)


def related_subjects(subject_type: str, subject_id: int) -> list[SubjectRef]:
    """The subjects whose traces continue this one's (see the module docstring)."""
    if subject_type == PLAN:
        ids = db.session.scalars(
            select(TaskDraw.id)
            .join(SpotCheckTask, SpotCheckTask.id == TaskDraw.spot_check_task_id)
            .where(SpotCheckTask.plan_id == subject_id)
            .order_by(SpotCheckTask.seq, SpotCheckTask.id)
        )
        return [_ref(DRAW, i, "draw") for i in ids]
    if subject_type == DRAW:
        plan_id = db.session.scalar(
            select(SpotCheckTask.plan_id)
            .join(TaskDraw, TaskDraw.spot_check_task_id == SpotCheckTask.id)
            .where(TaskDraw.id == subject_id)
        )
        return [] if plan_id is None else [_ref(PLAN, plan_id, "plan")]
    if subject_type == CASE:
        refs: list[SubjectRef] = []
        task_draw_id = db.session.scalar(
            select(Draw.task_draw_id).join(InspectionCase, InspectionCase.draw_id == Draw.id)
            .where(InspectionCase.id == subject_id)
        )
        if task_draw_id is not None:
            refs.append(_ref(DRAW, task_draw_id, "draw"))
        referral_id = db.session.scalar(select(Referral.id).where(Referral.case_id == subject_id))
        if referral_id is not None:
            refs.append(_ref(REFERRAL, referral_id, "referral"))
        return refs
    if subject_type == REFERRAL:
        case_id = db.session.scalar(select(Referral.case_id).where(Referral.id == subject_id))
        return [] if case_id is None else [_ref(CASE, case_id, "case")]
    return []
