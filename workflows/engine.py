"""The engine wrapper: start processes, complete human tasks, and read their history.

Every change to an instance happens in one database transaction together with
its consequences: the serialized state (lean: no spec inside), the projected
``human_task`` rows, the ``process_event`` history, and whatever the service
task handlers write. Concurrency is settled by the database:

* on PostgreSQL the instance row is locked (``SELECT ... FOR UPDATE``) before
  it is restored, so steps on one instance run one after the other;
* a human task is completed by a conditional ``UPDATE ... WHERE state='READY'``:
  of two users completing the same task exactly one changes the row;
* the state is written with ``UPDATE ... WHERE version=:v`` (optimistic lock),
  which catches a lost race where row locks are not available (SQLite).

Losers get ``app.errors.Conflict`` and nothing they did is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from flask import Flask, current_app
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from app.auth.roles import Role
from app.config import PROJECT_ROOT
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from workflows import auditing, clock
from workflows.bulk import StartItem, start_processes
from workflows.models import (
    HumanTask,
    HumanTaskCandidate,
    HumanTaskState,
    InstanceStatus,
    ProcessEvent,
    ProcessInstance,
    ProcessSpec,
)
from workflows.projection import StepRecorder, changed, json_safe, known_ready_tasks, sync_human_tasks
from workflows.properties import compute_due_at
from workflows.registry import FormNotRegistered, get_form_validator, service_task, task_form
from workflows.scripting import SafeScriptEngine, WorkflowScriptError, script_helper
from workflows.serializer import restore_instance, serialize_instance
from workflows.specs import EXTENSION_KEY, DiagramError, SpecLibrary, library

if TYPE_CHECKING:
    from app.auth.models import User

__all__ = [
    "DiagramError", "FormNotRegistered", "WorkflowScriptError",
    "can_act", "can_view", "claim_task", "clear_caches", "complete_task", "compute_due_at",
    "due_timer_instances", "fire_timers", "init_app", "instance_path", "missing_registrations", "script_helper",
    "service_task", "StartItem", "start_process", "start_processes", "task_context", "task_form", "unclaim_task",
]

# Engine passes per step; a diagram needing more is looping without a wait state.
_MAX_ROUNDS = 100


def init_app(app: Flask) -> None:
    """Parse every diagram once (XSD-validated and checked) and keep the specs for ``app``.

    Reads ``bpmn/*.bpmn`` under the project root (``BPMN_DIR`` overrides it) and every
    directory in ``BPMN_EXTRA_DIRS``. A bad diagram raises DiagramError naming file and line.
    """
    dirs = [Path(app.config.get("BPMN_DIR") or PROJECT_ROOT / "bpmn")]
    dirs += [Path(d) for d in app.config.get("BPMN_EXTRA_DIRS", ())]
    app.extensions[EXTENSION_KEY] = SpecLibrary.from_dirs(dirs)


def clear_caches(app: Flask | None = None) -> None:
    """Forget cached process_spec row ids; needed only after tables are wiped (tests)."""
    ((app or current_app).extensions[EXTENSION_KEY]).clear()


def missing_registrations() -> dict[str, list[str]]:
    """formKeys and service operators of the loaded diagrams that nothing registered."""
    return library().missing_registrations()


# --- starting -------------------------------------------------------------------------------


def start_process(
    process_id: str,
    *,
    subject_type: str,
    subject_id: int,
    subject_title: str,
    data: dict[str, Any],
    user_id: int | None,
    audit: bool = True,
) -> ProcessInstance:
    """Start ``process_id`` for a subject and run it to its first wait states.

    ``data`` becomes the initial task data. State, human tasks and events are added
    to the current transaction, which the caller commits (with its own rows) or
    rolls back; service task handlers reached on the way run in it too. The start is
    audited (``process.started``) unless ``audit`` is False: a bulk start that falls
    back to this function audits its whole batch once.
    """
    session = db.session()
    lib = library()
    loaded = lib.get(process_id)
    now = clock.now()
    instance = ProcessInstance(
        spec_id=lib.spec_row_id(session, loaded),
        process_id=process_id,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_title=(subject_title or "")[:256],
        status=InstanceStatus.RUNNING,
        state="",  # written below; a handler's autoflush may insert the row earlier
        version=1,
        started_by_id=user_id,
        started_at=now,
        updated_at=now,
    )
    session.add(instance)  # before the engine runs: handlers receive a session-bound instance
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=SafeScriptEngine(instance))
    workflow.task_tree.data = dict(data)
    recorder = StepRecorder(actor_id=user_id)
    _run_steps(workflow, recorder)
    for key, value in _state_values(workflow).items():
        setattr(instance, key, value)
    session.flush()  # the instance id for the rows below
    sync_human_tasks(session, instance, workflow, recorder, known={})
    recorder.flush_to(session, instance.id)
    if audit:
        auditing.process_started(instance, user_id)
    return instance


# --- human tasks ----------------------------------------------------------------------------


def complete_task(human_task_id: int, user: User, form_data: dict[str, Any]) -> ProcessInstance:
    """Complete a READY human task with ``form_data`` and run the process on; commits.

    Raises NotFound, Conflict("already done") when the task is no longer open (or a
    concurrent step won), Forbidden when ``user`` may not act on it, FormNotRegistered
    when its formKey has no validator, and whatever the validator raises
    (ValidationFailed). On any error nothing is kept.
    """
    return _committed(lambda session: _complete(session, human_task_id, user, form_data))


def _complete(session: Session, human_task_id: int, user: User, form_data: dict[str, Any]) -> ProcessInstance:
    row = _human_task(session, human_task_id)
    if row.state != HumanTaskState.READY:
        raise Conflict("already done")
    if not can_act(row, user):
        raise Forbidden("you may not act on this task")
    validator = get_form_validator(row.form_key)
    if validator is None:
        raise FormNotRegistered(f"no form is registered for formKey {row.form_key!r}")
    cleaned = validator(dict(form_data), row, user)
    if not isinstance(cleaned, dict):
        raise TypeError(f"the validator of {row.form_key!r} must return a dict")

    loaded = _load(session, row.instance_id, lock=True)
    now = clock.now()
    won = session.execute(
        update(HumanTask)
        .where(HumanTask.id == row.id, HumanTask.state == HumanTaskState.READY)
        .values(state=HumanTaskState.COMPLETED, completed_at=now, completed_by_id=user.id),
        execution_options={"synchronize_session": False},
    )
    if won.rowcount != 1:
        raise Conflict("already done")
    for key, value in (("state", HumanTaskState.COMPLETED), ("completed_at", now), ("completed_by_id", user.id)):
        set_committed_value(row, key, value)

    # task.run() does not check the state (SPIFF-NOTES): running a FUTURE task would skip ahead.
    task = _spiff_task(loaded.workflow, row.spiff_task_id)
    if task is None or task.state != TaskState.READY or not task.task_spec.manual:
        raise Conflict("the task is not ready in its process")
    recorder = StepRecorder()
    before = dict(task.data)
    task.data.update(cleaned)
    task.run()
    changes = changed(before, task.data)
    recorder.record(task, "completed", user_id=user.id, data=changes)
    _run_steps(loaded.workflow, recorder)
    _save(session, loaded, recorder)
    # Last: the audit chain's lock is then held only until this transaction commits.
    auditing.task_completed(row, loaded.instance, user, changes.keys())
    return loaded.instance


def claim_task(human_task_id: int, user: User) -> HumanTask:
    """Assign an open task to ``user`` (who must be allowed to act on it); commits."""

    def claim(session: Session) -> HumanTask:
        row = _human_task(session, human_task_id)
        if row.state != HumanTaskState.READY:
            raise Conflict("already done")
        if row.assignee_id not in (None, user.id):
            raise Conflict("claimed by someone else")
        if not can_act(row, user):
            raise Forbidden("you may not act on this task")
        result = session.execute(
            update(HumanTask)
            .where(
                HumanTask.id == row.id,
                HumanTask.state == HumanTaskState.READY,
                or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id),
            )
            .values(assignee_id=user.id),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount != 1:
            raise Conflict("claimed by someone else or already done")
        previous = row.assignee_id
        set_committed_value(row, "assignee_id", user.id)
        if previous is None:  # claiming one's own task again changes nothing
            auditing.task_assignment("task.claimed", row, user, previous_assignee_id=None)
        return row

    return _committed(claim)


def unclaim_task(human_task_id: int, user: User) -> HumanTask:
    """Release a claimed task to its lane's queue; commits.

    The assignee may release it, an admin always; a task the diagram assigned
    (assigneeFrom) only an admin.
    """

    def unclaim(session: Session) -> HumanTask:
        row = _human_task(session, human_task_id)
        if row.state != HumanTaskState.READY:
            raise Conflict("already done")
        if row.assignee_id is None:
            return row
        is_admin = _has_role(user, Role.ADMIN)
        if row.assignee_id != user.id and not is_admin:
            raise Forbidden("only the assignee can release this task")
        if row.assigned_by_process and not is_admin:
            raise Forbidden("the process assigned this task; only an administrator can release it")
        result = session.execute(
            update(HumanTask)
            .where(
                HumanTask.id == row.id,
                HumanTask.state == HumanTaskState.READY,
                HumanTask.assignee_id == row.assignee_id,
            )
            .values(assignee_id=None, assigned_by_process=False),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount != 1:
            raise Conflict("the task changed meanwhile")
        previous = row.assignee_id
        set_committed_value(row, "assignee_id", None)
        set_committed_value(row, "assigned_by_process", False)
        auditing.task_assignment("task.released", row, user, previous_assignee_id=previous)
        return row

    return _committed(unclaim)


def can_act(task: HumanTask, user: User | None, *, candidates: set[int] | None = None) -> bool:
    """Whether ``user`` may complete ``task`` (its state aside).

    The user holds the lane's role, is not excluded (separation of duty: admins too),
    is the assignee if there is one, and is a named candidate if there are any.
    ``candidates`` may pass the task's candidate ids preloaded (queues), else one query.
    """
    user_id = getattr(user, "id", None)
    if user is None or user_id is None or not _has_role(user, task.role):
        return False
    if user_id in (task.excluded_user_ids or ()):
        return False
    if task.assignee_id is not None and task.assignee_id != user_id:
        return False
    if task.has_candidates:
        if candidates is not None:
            return user_id in candidates
        return bool(
            db.session.scalar(
                select(
                    exists().where(HumanTaskCandidate.task_id == task.id, HumanTaskCandidate.user_id == user_id)
                )
            )
        )
    return True


def can_view(task: HumanTask, user: User | None) -> bool:
    """Whether ``user`` may see ``task``: who may act, who completed it, compliance and admins."""
    if user is None or getattr(user, "id", None) is None:
        return False
    if task.completed_by_id is not None and task.completed_by_id == user.id:
        return True
    return _has_role(user, Role.COMPLIANCE_REVIEWER, Role.ADMIN) or can_act(task, user)


def task_context(human_task_id: int) -> dict[str, Any]:
    """The task's current data (JSON-safe): what earlier steps decided, for the task page."""
    session = db.session()
    row = _human_task(session, human_task_id)
    loaded = _load(session, row.instance_id, lock=False)
    task = _spiff_task(loaded.workflow, row.spiff_task_id)
    if task is None:
        raise NotFound(f"task {human_task_id} is not in its process any more")
    return json_safe(dict(task.data))


def instance_path(instance_id: int) -> list[ProcessEvent]:
    """The recorded path of an instance, oldest first."""
    return list(
        db.session.scalars(
            select(ProcessEvent).where(ProcessEvent.instance_id == instance_id).order_by(ProcessEvent.at, ProcessEvent.id)
        )
    )


# --- timers ---------------------------------------------------------------------------------


def due_timer_instances(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of running instances with a timer due by ``now``, earliest first."""
    now = now or clock.now()
    return list(
        db.session.scalars(
            select(ProcessInstance.id)
            .where(ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.next_timer_at <= now)
            .order_by(ProcessInstance.next_timer_at)
            .limit(limit)
        )
    )


def fire_timers(instance_id: int) -> ProcessInstance:
    """Fire the instance's due timers and run on (a boundary timer cancels its task); commits.

    Nothing is written when no timer was due.
    """

    def fire(session: Session) -> ProcessInstance:
        loaded = _load(session, instance_id, lock=True)
        if loaded.instance.status != InstanceStatus.RUNNING:
            return loaded.instance
        recorder = StepRecorder()
        loaded.workflow.refresh_timers()
        _run_steps(loaded.workflow, recorder)
        if not recorder.events:
            return loaded.instance
        events = recorder.events  # the list itself: _save appends cancellations, then hands it over
        _save(session, loaded, recorder)
        auditing.timers_fired(loaded.instance, events)
        return loaded.instance

    return _committed(fire)


# --- internals ------------------------------------------------------------------------------


@dataclass
class _Loaded:
    instance: ProcessInstance
    workflow: BpmnWorkflow


def _committed(work: Any) -> Any:
    """Run ``work(session)`` and commit; on any error roll back and re-raise."""
    session = db.session()
    try:
        result = work(session)
        session.commit()
        return result
    except OperationalError as exc:
        session.rollback()
        if "database is locked" in str(exc):  # SQLite's answer to a concurrent writer
            raise Conflict("the case is busy; try again") from exc
        raise
    except BaseException:
        session.rollback()
        raise


def _human_task(session: Session, human_task_id: int) -> HumanTask:
    row = session.get(HumanTask, human_task_id, populate_existing=True)
    if row is None:
        raise NotFound(f"no task {human_task_id}")
    return row


def _load(session: Session, instance_id: int, *, lock: bool) -> _Loaded:
    """Read (and on PostgreSQL lock) the instance row and restore its workflow."""
    stmt = (
        select(ProcessInstance, ProcessSpec.content_hash)
        .join(ProcessSpec, ProcessSpec.id == ProcessInstance.spec_id)
        .where(ProcessInstance.id == instance_id)
        .execution_options(populate_existing=True)
    )
    if lock and session.get_bind().dialect.name == "postgresql":
        # Only the instance row: locking the shared spec row would serialize all instances.
        stmt = stmt.with_for_update(of=ProcessInstance)
    found = session.execute(stmt).one_or_none()
    if found is None:
        raise NotFound(f"no process instance {instance_id}")
    instance, content_hash = found
    spec, subprocess_specs = library().version(session, instance.spec_id, content_hash)
    workflow = restore_instance(instance.state, spec, subprocess_specs)
    workflow.script_engine = SafeScriptEngine(instance)  # not part of the serialized state
    return _Loaded(instance, workflow)


def _spiff_task(workflow: BpmnWorkflow, spiff_task_id: str) -> Task | None:
    try:
        return workflow.get_task_from_id(UUID(spiff_task_id))
    except Exception:  # TaskNotFoundException, or a malformed id
        return None


def _run_steps(workflow: BpmnWorkflow, recorder: StepRecorder) -> None:
    """Run engine tasks until only human tasks and waits remain.

    ``do_engine_steps`` ends with ``refresh_timers``, which may make tasks READY
    that it does not run any more: hence the loop.
    """
    for _ in range(_MAX_ROUNDS):
        workflow.do_engine_steps(will_complete_task=recorder.will_complete, did_complete_task=recorder.did_complete)
        if not any(not t.task_spec.manual for t in workflow.get_tasks(state=TaskState.READY)):
            return
    raise WorkflowScriptError(f"process {workflow.spec.name!r} does not reach a wait state")


def _save(session: Session, loaded: _Loaded, recorder: StepRecorder) -> None:
    """Project tasks, add events, and write the state if nobody else did meanwhile."""
    instance = loaded.instance
    sync_human_tasks(session, instance, loaded.workflow, recorder, known_ready_tasks(session, instance.id))
    recorder.flush_to(session, instance.id)
    values = _state_values(loaded.workflow) | {"version": instance.version + 1}
    result = session.execute(
        update(ProcessInstance)
        .where(ProcessInstance.id == instance.id, ProcessInstance.version == instance.version)
        .values(**values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        raise Conflict("the case changed meanwhile; try again")
    for key, value in values.items():
        set_committed_value(instance, key, value)


def _state_values(workflow: BpmnWorkflow) -> dict[str, Any]:
    now = clock.now()
    completed = workflow.is_completed()
    return {
        "state": serialize_instance(workflow),
        "status": InstanceStatus.COMPLETED if completed else InstanceStatus.RUNNING,
        "updated_at": now,
        "completed_at": now if completed else None,
        "next_timer_at": None if completed else _next_timer_at(workflow),
    }


def _next_timer_at(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest instant a waiting timer falls due (SPIFF-NOTES: fixed in event_value)."""
    due: list[datetime] = []
    for pending in workflow.waiting_events():
        value = pending.value
        if isinstance(value, dict):  # cycle timer
            value = value.get("next")
        if not isinstance(value, str):
            continue
        try:
            when = TimerEventDefinition.parse_time_or_duration(value)
        except Exception:
            continue  # not a timer (a message name, say)
        if isinstance(when, datetime):
            due.append(when)
    return min(due) if due else None


def _has_role(user: Any, *roles: Role | str) -> bool:
    has_role = getattr(user, "has_role", None)
    return bool(has_role and has_role(*roles))
