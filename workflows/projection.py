"""What the engine's steps leave in the database besides the state: events and human tasks.

``StepRecorder`` is given to ``do_engine_steps`` as its callbacks and turns every
completed diagram element into a ``process_event`` row (SpiffWorkflow keeps only
the latest state change per task, not a history). ``sync_human_tasks`` keeps
the ``human_task`` table equal to the engine's READY manual tasks, so that task
queues are plain indexed queries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from workflows import clock
from workflows.models import HumanTask, HumanTaskCandidate, HumanTaskState, ProcessEvent, ProcessInstance
from workflows.properties import TaskProperties

# SpiffWorkflow names a service task's result variable like this when the diagram does not.
_DEFAULT_RESULT_PREFIX = "spiff__"


def json_safe(value: Any) -> Any:
    """``value`` with Decimals, dates and other non-JSON values turned into strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    return repr(value)


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``after`` that are new or different from ``before`` (JSON-safe)."""
    missing = object()
    return json_safe({k: v for k, v in after.items() if before.get(k, missing) != v})


def element_label(task: Task) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name


class StepRecorder:
    """Collects one event per completed element; passed as ``do_engine_steps`` callbacks."""

    def __init__(self, actor_id: int | None = None) -> None:
        # Who caused these steps; attributed only to the start event (see did_complete).
        self.actor_id = actor_id
        self.events: list[ProcessEvent] = []
        self._before: dict[UUID, dict[str, Any]] = {}

    def will_complete(self, task: Task) -> None:
        if task.task_spec.bpmn_id is not None:
            self._before[task.id] = dict(task.data)

    def did_complete(self, task: Task) -> None:
        spec = task.task_spec
        if isinstance(spec, ServiceTask):
            _drop_result_placeholder(task)
        if spec.bpmn_id is None:
            return  # internal bookkeeping spec: not part of the drawn path
        before = self._before.pop(task.id, {})
        event = "completed" if task.state == TaskState.COMPLETED else "started"
        user_id = self.actor_id if type(spec).__name__ == "StartEvent" else None
        self.record(task, event, user_id=user_id, data=changed(before, task.data))

    def record(self, task: Task, event: str, *, user_id: int | None = None, data: dict[str, Any] | None = None) -> None:
        """Queue one event row (added to the session by ``flush_to``)."""
        spec = task.task_spec
        self.events.append(
            ProcessEvent(
                at=clock.now(),
                bpmn_id=spec.bpmn_id,
                element_type=type(spec).__name__,
                element_name=(element_label(task))[:256],
                event=event,
                user_id=user_id,
                data=data or {},
            )
        )

    def record_cancelled(self, row: KnownTask) -> None:
        self.events.append(
            ProcessEvent(at=clock.now(), bpmn_id=row.bpmn_id, element_type=row.element_type,
                         element_name=row.title, event="cancelled", data={})
        )

    def flush_to(self, session: Session, instance_id: int) -> None:
        for event in self.events:
            event.instance_id = instance_id
        session.add_all(self.events)
        self.events = []


def _drop_result_placeholder(task: Task) -> None:
    """Remove the ``spiff__<id>_result = None`` that SpiffWorkflow stores after a service call.

    Our handlers merge their result into the task data instead (scripting.call_service);
    the children have already inherited the placeholder, so it is removed there too.
    """
    name = task.task_spec.result_variable
    if not name.startswith(_DEFAULT_RESULT_PREFIX):
        return
    for holder in (task, *task.children):
        if name in holder.data and holder.data[name] is None:
            del holder.data[name]


@dataclass(frozen=True)
class KnownTask:
    """A READY human_task row as last projected."""

    id: int
    spiff_task_id: str
    bpmn_id: str
    title: str
    element_type: str = "UserTask"


def known_ready_tasks(session: Session, instance_id: int) -> dict[str, KnownTask]:
    """The READY rows of an instance, by spiff task id (one query, no ORM objects)."""
    rows = session.execute(
        select(HumanTask.id, HumanTask.spiff_task_id, HumanTask.bpmn_id, HumanTask.title).where(
            HumanTask.instance_id == instance_id, HumanTask.state == HumanTaskState.READY
        )
    )
    return {r.spiff_task_id: KnownTask(r.id, r.spiff_task_id, r.bpmn_id, r.title) for r in rows}


def sync_human_tasks(
    session: Session,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    recorder: StepRecorder,
    known: dict[str, KnownTask],
) -> list[HumanTask]:
    """Project the engine's READY manual tasks; returns the rows added.

    Rows no longer READY in the engine (a boundary timer took over, say) become
    CANCELLED. The caller has already marked the task it completed.
    """
    now = clock.now()
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    gone = [row for spiff_id, row in known.items() if spiff_id not in ready]
    if gone:
        session.execute(
            update(HumanTask)
            .where(HumanTask.id.in_([r.id for r in gone]), HumanTask.state == HumanTaskState.READY)
            .values(state=HumanTaskState.CANCELLED, completed_at=now),
            execution_options={"synchronize_session": False},
        )
        for row in gone:
            recorder.record_cancelled(row)
    added: list[tuple[HumanTask, list[int]]] = []
    for spiff_id, task in ready.items():
        if spiff_id not in known:
            added.append(_new_row(instance, task, now))
    if added:
        session.add_all([row for row, _ in added])
        if any(candidates for _, candidates in added):
            session.flush()  # candidate rows need the task ids
            session.add_all(
                HumanTaskCandidate(task_id=row.id, user_id=uid) for row, candidates in added for uid in candidates
            )
    return [row for row, _ in added]


def _new_row(instance: ProcessInstance, task: Task, now: datetime) -> tuple[HumanTask, list[int]]:
    spec = task.task_spec
    props = TaskProperties.of(spec)
    assignee = props.assignee(task.data)
    candidates = props.candidates(task.data)
    row = HumanTask(
        spiff_task_id=str(task.id),
        instance_id=instance.id,
        bpmn_id=spec.bpmn_id,
        title=(props.title or element_label(task))[:256],
        lane=spec.lane or "",
        role=spec.lane or "",
        form_key=props.form_key,
        state=HumanTaskState.READY,
        assignee_id=assignee,
        assigned_by_process=assignee is not None,
        excluded_user_ids=props.excluded(task.data),
        has_candidates=bool(candidates),
        due_at=props.due_at(now, task.data),
        subject_type=instance.subject_type,
        subject_id=instance.subject_id,
        subject_title=instance.subject_title,
        created_at=now,
    )
    return row, candidates
