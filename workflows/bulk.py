"""Starting many instances at once (tens of thousands after a draw).

``start_processes`` runs every item through the real engine, exactly as
``start_process`` would, but writes the results in bulk:

* one spec row and one parsed spec for all items; one script engine;
* no ORM objects per instance: the engine's steps are recorded as tuples, human tasks
  are projected into tuples from a per-task-spec template (properties parsed once);
* each instance is serialized once (lean);
* rows are written per chunk: on PostgreSQL ids come from the sequences in one query
  and the four tables are filled with ``COPY``; elsewhere with executemany
  ``INSERT`` (``RETURNING`` for the ids).

An item whose start reaches a service task (the handler must receive a session-bound
``ProcessInstance``) is started with ``start_process`` instead; the result is the same.
Nothing is committed: the caller commits or rolls back with its own rows.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from app.extensions import db
from workflows import clock
from workflows.models import HumanTask, HumanTaskCandidate, HumanTaskState, InstanceStatus, ProcessEvent, ProcessInstance
from workflows.projection import StepRecorder, element_label
from workflows.properties import TaskProperties
from workflows.scripting import SafeScriptEngine, WorkflowScriptError
from workflows.serializer import serialize_instance

if TYPE_CHECKING:
    from workflows.specs import LoadedSpec

_READY = HumanTaskState.READY.value

# Items per engine-then-write round: bounds memory (a serialized state is a few KB).
CHUNK = 1000


@dataclass(frozen=True)
class StartItem:
    """One instance to start: its subject and its initial task data."""

    subject_type: str
    subject_id: int
    subject_title: str
    data: Mapping[str, Any] = field(default_factory=dict)


def start_processes(process_id: str, items: Sequence[StartItem], *, user_id: int | None) -> list[int]:
    """Start ``process_id`` once per item in the current transaction; returns the ids in item order.

    Same result as calling ``start_process`` for every item (state, human tasks with
    candidates, events, ``next_timer_at``), written with bulk inserts, except that the
    audit log gets one ``process.bulk_started`` entry for the batch. Does not commit.
    """
    from workflows import engine  # engine re-exports this function

    session = db.session()
    lib = engine.library()
    loaded = lib.get(process_id)
    spec_id = lib.spec_row_id(session, loaded)
    session.flush()  # pending ORM rows go first: COPY below bypasses the unit of work
    starter = _Starter(session, loaded, spec_id, user_id)
    ids: list[int] = []
    with _young_garbage_only():
        for chunk in _chunks(items, CHUNK):
            ids.extend(starter.start_chunk(chunk))
            gc.collect()
    if ids:
        from workflows import auditing

        auditing.bulk_started(process_id, items[0].subject_type, [item.subject_id for item in items], ids, user_id)
    return ids


@contextmanager
def _young_garbage_only() -> Iterator[None]:
    """Collect only what the bulk start itself allocates.

    Each workflow leaves thousands of small objects in reference cycles. With a large
    heap already alive (a draw's pool and selections, the session's identity map) the
    automatic collector's full passes re-scan all of it, and a 30,000-case start slowed
    from 0.5 s to 4.6 s per chunk (bench/draw.py). Frozen objects are ignored by the
    collector, so one explicit collection per chunk costs what the chunk allocated.
    """
    automatic = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if automatic:
            gc.enable()


# --- internals ------------------------------------------------------------------------------


class _NeedsInstance(Exception):
    """A service task was reached during a bulk start: the item goes through start_process."""


class _BulkScriptEngine(SafeScriptEngine):
    """Shared by every workflow of a bulk start; service calls divert the item (see above)."""

    def call_service(self, task: Task, **kwargs: Any) -> str:
        raise _NeedsInstance()


class _TupleRecorder(StepRecorder):
    """StepRecorder that keeps (bpmn_id, element_type, element_name, event, user_id, data) tuples."""

    def record(self, task: Task, event: str, *, user_id: int | None = None, data: dict[str, Any] | None = None) -> None:
        spec = task.task_spec
        self.events.append(
            (spec.bpmn_id, type(spec).__name__, element_label(task)[:256], event, user_id, data or {})  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class _TaskTemplate:
    """What a human task row takes from its task spec: computed once per bulk start."""

    bpmn_id: str
    title: str
    lane: str
    form_key: str
    props: TaskProperties
    due_at: datetime | None  # when it does not depend on task data (no dueAtFrom)


@dataclass
class _Chunk:
    instances: list[tuple] = field(default_factory=list)
    tasks: list[tuple] = field(default_factory=list)  # + a trailing list of candidate ids
    events: list[tuple] = field(default_factory=list)  # (instance index, event tuple)


_INSTANCE_COLS = ("spec_id", "process_id", "subject_type", "subject_id", "subject_title", "status", "state",
                  "version", "started_by_id", "started_at", "updated_at", "completed_at", "next_timer_at")
_TASK_COLS = ("spiff_task_id", "instance_id", "bpmn_id", "title", "lane", "role", "form_key", "state", "assignee_id",
              "assigned_by_process", "excluded_user_ids", "has_candidates", "due_at", "subject_type", "subject_id",
              "subject_title", "created_at")
_EVENT_COLS = ("instance_id", "at", "bpmn_id", "element_type", "element_name", "event", "user_id", "data")


class _Starter:
    def __init__(self, session: Session, loaded: LoadedSpec, spec_id: int, user_id: int | None) -> None:
        self.session = session
        self.loaded = loaded
        self.spec_id = spec_id
        self.user_id = user_id
        self.script_engine = _BulkScriptEngine()
        self.now = clock.now()
        self.templates: dict[int, _TaskTemplate] = {}
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._toast_set = False
        self._replanned = False

    # --- engine ---------------------------------------------------------------------------

    def start_chunk(self, items: list[StartItem]) -> list[int]:
        from workflows import engine

        chunk = _Chunk()
        positions: list[int | None] = []  # per item: index into chunk.instances, or None (fallback)
        fallback: dict[int, int] = {}  # item position -> id from start_process
        loaded, now, user_id = self.loaded, self.now, self.user_id
        # Plain strings: psycopg's COPY would write an Enum's name, not its value.
        running, completed_status = InstanceStatus.RUNNING.value, InstanceStatus.COMPLETED.value
        for pos, item in enumerate(items):
            workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=self.script_engine)
            workflow.task_tree.data = dict(item.data)
            recorder = _TupleRecorder(actor_id=user_id)
            try:
                ready = _run_steps(workflow, recorder)
            except _NeedsInstance:
                fallback[pos] = self._start_one(item)
                positions.append(None)
                continue
            index = len(chunk.instances)
            positions.append(index)
            done = workflow.is_completed()
            title = (item.subject_title or "")[:256]
            chunk.instances.append((
                self.spec_id, loaded.process_id, item.subject_type, item.subject_id, title,
                completed_status if done else running, serialize_instance(workflow), 1, user_id,
                now, now, now if done else None, None if done else engine._next_timer_at(workflow),
            ))
            for event in recorder.events:
                chunk.events.append((index, event))
            for task in ready:
                chunk.tasks.append((index, *self._task_row(task, item, title)))
        ids = self._write(chunk)
        return [fallback[pos] if index is None else ids[index] for pos, index in enumerate(positions)]

    def _start_one(self, item: StartItem) -> int:
        from workflows import engine

        instance = engine.start_process(
            self.loaded.process_id, subject_type=item.subject_type, subject_id=item.subject_id,
            subject_title=item.subject_title, data=dict(item.data), user_id=self.user_id,
            audit=False,  # the batch is audited once (start_processes)
        )
        self.session.flush()
        return instance.id

    def _template(self, task: Task) -> _TaskTemplate:
        spec = task.task_spec
        found = self.templates.get(id(spec))
        if found is None:
            props = TaskProperties.of(spec)
            found = self.templates[id(spec)] = _TaskTemplate(
                bpmn_id=spec.bpmn_id,
                title=(props.title or element_label(task))[:256],
                lane=spec.lane or "",
                form_key=props.form_key,
                props=props,
                due_at=None if props.due_at_from else props.due_at(self.now),
            )
        return found

    def _task_row(self, task: Task, item: StartItem, title: str) -> tuple:
        """The human_task values after the instance id (see ``_TASK_COLS``), then the candidates."""
        t = self._template(task)
        props, data = t.props, task.data
        assignee = props.assignee(data) if props.assignee_from else None
        candidates = props.candidates(data) if props.candidates_from else []
        excluded = props.excluded(data) if props.exclude_users_from else []
        due_at = props.due_at(self.now, data) if props.due_at_from else t.due_at
        return (
            str(task.id), t.bpmn_id, t.title, t.lane, t.lane, t.form_key, _READY, assignee,
            assignee is not None, excluded, bool(candidates), due_at, item.subject_type, item.subject_id,
            title, self.now, candidates,
        )

    # --- writing --------------------------------------------------------------------------

    def _write(self, chunk: _Chunk) -> list[int]:
        if not chunk.instances:
            return []
        if self.postgres:
            return self._write_copy(chunk)
        return self._write_insert(chunk)

    def _write_copy(self, chunk: _Chunk) -> list[int]:
        """PostgreSQL: ids from the sequences in one query each, then COPY into every table.

        (Running the COPYs in a writer thread while the engine computes the next chunk was
        tried: no faster on two cores, the GIL takes back what the overlap gains.)
        """
        self._fast_toast()
        instance_ids = self._next_ids("process_instance", len(chunk.instances))
        # Task ids are needed up front only for candidate rows; otherwise the column default.
        with_candidates = any(task[-1] for task in chunk.tasks)
        task_ids = self._next_ids("human_task", len(chunk.tasks)) if with_candidates else []
        self._copy(self.session.connection().connection.driver_connection, chunk, instance_ids, task_ids)
        return instance_ids

    def _copy(self, connection: Any, chunk: _Chunk, instance_ids: list[int], task_ids: list[int]) -> None:
        dumps = json.dumps
        cursor = connection.cursor()
        try:
            with cursor.copy(f"COPY process_instance (id, {', '.join(_INSTANCE_COLS)}) FROM STDIN") as copy:
                for iid, row in zip(instance_ids, chunk.instances):
                    copy.write_row((iid, *row))
            if not self._replanned:
                # PostgreSQL caches each connection's foreign-key check plans. Planned while
                # process_instance held a handful of rows, the check of every task and event
                # row scans the table, and a 30,000-case start turns quadratic (each chunk
                # slower than the last, bench/draw.py). ANALYZE invalidates those plans once
                # the first chunk is in, so they are planned again for a table this size.
                cursor.execute("ANALYZE process_instance")
                self._replanned = True
            candidates: list[tuple[int, int]] = []
            if task_ids:
                with cursor.copy(f"COPY human_task (id, {', '.join(_TASK_COLS)}) FROM STDIN") as copy:
                    for tid, (index, spiff_id, *values, cands) in zip(task_ids, chunk.tasks):
                        values[8] = dumps(values[8])  # excluded_user_ids (JSON)
                        copy.write_row((tid, spiff_id, instance_ids[index], *values))
                        candidates.extend((tid, uid) for uid in cands)
            elif chunk.tasks:
                with cursor.copy(f"COPY human_task ({', '.join(_TASK_COLS)}) FROM STDIN") as copy:
                    for index, spiff_id, *values, _ in chunk.tasks:
                        values[8] = dumps(values[8])
                        copy.write_row((spiff_id, instance_ids[index], *values))
            if candidates:
                with cursor.copy("COPY human_task_candidate (task_id, user_id) FROM STDIN") as copy:
                    for row in candidates:
                        copy.write_row(row)
            at = self.now
            with cursor.copy(f"COPY process_event ({', '.join(_EVENT_COLS)}) FROM STDIN") as copy:
                for index, (bpmn_id, element_type, name, event, uid, data) in chunk.events:
                    copy.write_row((instance_ids[index], at, bpmn_id, element_type, name, event, uid,
                                    dumps(data, ensure_ascii=False)))
        finally:
            cursor.close()

    def _fast_toast(self) -> None:
        """Compress this transaction's large values (the states) with lz4 rather than pglz.

        A serialized state is a few KB, so PostgreSQL compresses it when it is stored;
        pglz took about half of the time of the instance COPY, lz4 about a fifth. Only
        for this transaction (``SET LOCAL``), and only if the server was built with lz4.
        Values compressed either way read back the same.
        """
        if self._toast_set:
            return
        self._toast_set = True
        available = self.session.scalar(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"))
        if available:
            self.session.execute(text("SET LOCAL default_toast_compression = lz4"))

    def _next_ids(self, table: str, count: int) -> list[int]:
        if not count:
            return []
        return list(self.session.scalars(
            text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ))

    def _write_insert(self, chunk: _Chunk) -> list[int]:
        """Any other database: executemany INSERTs, RETURNING for the ids."""
        session = self.session
        result = session.execute(
            insert(ProcessInstance.__table__).returning(ProcessInstance.__table__.c.id, sort_by_parameter_order=True),
            [dict(zip(_INSTANCE_COLS, row)) for row in chunk.instances],
        )
        instance_ids = [row[0] for row in result]
        if chunk.tasks:
            rows = [
                dict(zip(_TASK_COLS, (spiff_id, instance_ids[index], *values)))
                for index, spiff_id, *values, _ in chunk.tasks
            ]
            table = HumanTask.__table__
            if any(task[-1] for task in chunk.tasks):
                result = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
                task_ids = [row[0] for row in result]
                candidates = [
                    {"task_id": tid, "user_id": uid}
                    for tid, task in zip(task_ids, chunk.tasks) for uid in task[-1]
                ]
                session.execute(insert(HumanTaskCandidate.__table__), candidates)
            else:
                session.execute(insert(table), rows)
        if chunk.events:
            at = self.now
            session.execute(
                insert(ProcessEvent.__table__),
                [
                    dict(zip(_EVENT_COLS, (instance_ids[index], at, *event)))
                    for index, event in chunk.events
                ],
            )
        return instance_ids


def _run_steps(workflow: BpmnWorkflow, recorder: StepRecorder) -> list[Task]:
    """``engine._run_steps`` that also returns the READY human tasks (one tree walk less)."""
    from workflows.engine import _MAX_ROUNDS

    for _ in range(_MAX_ROUNDS):
        workflow.do_engine_steps(will_complete_task=recorder.will_complete, did_complete_task=recorder.did_complete)
        ready = workflow.get_tasks(state=TaskState.READY)
        if all(t.task_spec.manual for t in ready):
            return ready
    raise WorkflowScriptError(f"process {workflow.spec.name!r} does not reach a wait state")


def _chunks(items: Sequence[StartItem], size: int) -> Iterator[list[StartItem]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
