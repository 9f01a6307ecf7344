"""Audit entries for the engine's state changes: one per step a person or a timer took.

The engine calls these at the end of each change, just before its transaction commits:
``app.audit.service.record`` takes the chain's lock (an advisory lock on PostgreSQL,
released at commit), so the later it is taken the shorter unrelated steps wait for it.
The step's own work (restoring, running, projecting, writing the state) happens before,
with only the instance's row lock held, and runs in parallel with other instances.

Entries carry what identifies the step (process, instance, BPMN element, form key) and
the *names* of the task-data keys that changed, never their values: those are in the
``process_event`` history, and a result text or a frozen pool does not belong in a log
that is re-hashed from end to end.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from app.audit import service as audit
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User
    from workflows.models import HumanTask, ProcessEvent, ProcessInstance

# A timer pass that walks a long loop still gets a bounded entry.
_MAX_STEPS = 50


def _actor(user_id: int | None) -> User | None:
    from app.auth.models import User

    return db.session.get(User, user_id) if user_id is not None else None


def _instance_details(instance: ProcessInstance) -> dict[str, Any]:
    return {"instance_id": instance.id, "process_id": instance.process_id}


def process_started(instance: ProcessInstance, user_id: int | None) -> None:
    """``process.started`` (and ``process.completed`` if the start already ran to an end)."""
    actor = _actor(user_id)
    audit.record("process.started", actor=actor, subject_type=instance.subject_type,
                 subject_id=instance.subject_id, details=_instance_details(instance))
    process_completed(instance, actor)


def process_completed(instance: ProcessInstance, actor: User | None) -> None:
    """``process.completed`` when ``instance`` has just reached its end."""
    from workflows.models import InstanceStatus

    if instance.status == InstanceStatus.COMPLETED:
        audit.record("process.completed", actor=actor, subject_type=instance.subject_type,
                     subject_id=instance.subject_id, details=_instance_details(instance))


def task_completed(task: HumanTask, instance: ProcessInstance, user: User, changed_keys: Iterable[str]) -> None:
    """``task.completed``: who completed which human task, and which data keys it changed."""
    audit.record("task.completed", actor=user, subject_type=instance.subject_type, subject_id=instance.subject_id,
                 details=_instance_details(instance) | {
                     "human_task_id": task.id, "bpmn_id": task.bpmn_id, "title": task.title,
                     "form_key": task.form_key, "changed": sorted(changed_keys)})
    process_completed(instance, user)


def task_assignment(action: str, task: HumanTask, user: User, *, previous_assignee_id: int | None) -> None:
    """``task.claimed`` or ``task.released``."""
    audit.record(action, actor=user, subject_type=task.subject_type, subject_id=task.subject_id, details={
        "instance_id": task.instance_id, "human_task_id": task.id, "bpmn_id": task.bpmn_id, "title": task.title,
        "previous_assignee_id": previous_assignee_id})


def timers_fired(instance: ProcessInstance, events: Sequence[ProcessEvent]) -> None:
    """``timer.fired``: a timer pass advanced ``instance``; the elements it completed or cancelled."""
    completed = [e.bpmn_id for e in events if e.event == "completed"]
    cancelled = [e.bpmn_id for e in events if e.event == "cancelled"]
    audit.record("timer.fired", actor=None, subject_type=instance.subject_type, subject_id=instance.subject_id,
                 details=_instance_details(instance) | {
                     "completed": completed[:_MAX_STEPS], "cancelled": cancelled[:_MAX_STEPS],
                     "steps": len(events)})
    process_completed(instance, None)


def bulk_started(process_id: str, subject_type: str, subject_ids: Sequence[int], instance_ids: Sequence[int],
                 user_id: int | None) -> None:
    """``process.bulk_started``: one entry for a whole batch (a draw's sign-off), with its ranges.

    One entry, not one per instance: the sign-off of 30,000 cases must not append 30,000
    rows one by one under the chain lock. The instances themselves are in ``process_instance``
    with the same start time and starter; the ranges let a reviewer find them.
    """
    if not instance_ids:
        return
    audit.record("process.bulk_started", actor=_actor(user_id), subject_type=subject_type, details={
        "process_id": process_id, "count": len(instance_ids),
        "subject_id_min": min(subject_ids), "subject_id_max": max(subject_ids),
        "instance_id_min": min(instance_ids), "instance_id_max": max(instance_ids)})
